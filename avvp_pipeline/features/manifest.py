"""The source manifests of imports (``features/manifests/<kind>-shard-K.tsv``, ``pseudo_labels/manifest.tsv``):
which released files an import job reads, with each file's size, modification time and inode, one owner.

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

from ..fileio import write_text

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


def _entries(text: str) -> dict[str, str]:
    return {line.split("\t", 1)[0]: line for line in text.splitlines()[1:]}


def update(manifest: str | Path, files: list[str], same_content: Callable[[set[str]], bool]) -> bool:
    """Write the manifest of ``files``; True when its modification time is new (the import must rerun).

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
