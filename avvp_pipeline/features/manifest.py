"""The source manifests of jobs (``features/manifests/<kind>-shard-K.tsv`` and ``videos-shard-K.tsv``,
``pseudo_labels/manifest.tsv``): which files a job reads, with each file's size, modification time and
inode, one owner.

The video manifests are the extraction (and teacher) jobs' inputs: one short file per shard instead of its
videos, so Snakemake shows the manifest, not hundreds of video paths, and reruns the shard's jobs when any
of its videos is added, removed or changed (a new size, time or inode). The demo's videos are made by a job
of the run itself (the synth job's output folder is their jobs' input too): their manifest is given a new
time only for a video newer than the shard's outputs, the test Snakemake makes of a file it tracks.

An import rule's input is its manifest, not the released files: Snakemake reruns a job when an input is
newer than its outputs, and a released file replaced by one with an older time (``cp -p``, ``tar x``,
``rsync -a``) or rewritten in place within the same second would not be. Planning writes each manifest
from ``os.stat`` of its files (cheap: no file is read) and gives it a new modification time only when
the files changed: the listing is what it was (nothing changed), or only files of videos the output
holds changed and hashing them gives the sha256 the output recorded (same content, e.g. ``touch``) —
then the new listing is written under the old time and nothing reruns.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from ..fileio import open_regular, write_text

HEADER = "file\tsize\tmtime_ns\tinode\n"


def _line(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"{path}\t{type(exc).__name__}\t\t\n"
    return f"{path}\t{st.st_size}\t{st.st_mtime_ns}\t{st.st_ino}\n"


def listing(files: list[str]) -> str:
    """The manifest text of ``files`` (in that order): one ``path, size, mtime_ns, inode`` line each."""
    return HEADER + "".join(_line(p) for p in files)


def read_files(manifest: str | Path) -> list[str]:
    """The files a manifest lists, in its order (ValueError naming the file when it is not a manifest)."""
    with open_regular(manifest, "r", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    if not lines or lines[0] + "\n" != HEADER:
        raise ValueError(f"{manifest}: not a file manifest (its first line must be {HEADER.strip()!r})")
    return [line.split("\t", 1)[0] for line in lines[1:] if line]


def _entries(text: str) -> dict[str, str]:
    return {line.split("\t", 1)[0]: line for line in text.splitlines()[1:]}


def update(
    manifest: str | Path,
    files: list[str],
    same_content: Callable[[set[str]], bool] = lambda changed: False,
) -> bool:
    """Write the manifest of ``files``; True when its modification time is new (the job must rerun).

    ``same_content(changed)`` is asked only when an earlier manifest differs: True when the output still
    holds the content of the changed (or added, or removed) files, and the old time is kept."""
    manifest = Path(manifest)
    new = listing(files)
    try:
        old, old_times = manifest.read_text(encoding="utf-8"), os.stat(manifest)
    except (OSError, UnicodeDecodeError):
        old, old_times = None, None
    if old == new:
        return False
    changed = set() if old is None else {p for p, line in (_entries(old).items() ^ _entries(new).items())}
    keep = old is not None and same_content(changed)
    write_text(manifest, new)
    if keep:
        os.utime(manifest, ns=(old_times.st_atime_ns, old_times.st_mtime_ns))
    return not keep


def older_than(outputs: list[str]) -> Callable[[set[str]], bool]:
    """A ``same_content`` for files a job of the run makes (the demo's videos): True when every changed
    file exists and is not newer than any of ``outputs`` that exist (at least one)."""

    def check(changed: set[str]) -> bool:
        made = [os.stat(o).st_mtime_ns for o in outputs if os.path.exists(o)]
        if not made:
            return False
        try:
            return all(os.stat(p).st_mtime_ns <= min(made) for p in changed)
        except OSError:
            return False

    return check
