"""The failures file of a feature job (``features/failures/*-shard-K.tsv``): the videos left out, and why.

Tab-separated with a header ``video_id, path, reason``; written atomically with csv quoting, so any
path survives (a cell that would start a spreadsheet formula gets a leading quote, which reading
undoes). Extraction and import write it the same way.
"""

from __future__ import annotations

from pathlib import Path

from ..fileio import read_tsv, write_tsv

HEADER = ["video_id", "path", "reason"]


def write_failures(path: str | Path, failures: list[tuple[str, str, str]]) -> None:
    """One line (video id, path, reason) per video left out of a shard."""
    write_tsv(path, HEADER, failures)


def read_failures(path: str | Path) -> list[tuple[str, str, str]]:
    """The ``(video id, path, reason)`` lines of a failures file (e.g. to merge those of several jobs)."""
    rows = read_tsv(path)
    if not rows or rows[0] != HEADER:
        raise ValueError(f"{path}: not a failures file (header {HEADER})")
    return [tuple(r) for r in rows[1:]]
