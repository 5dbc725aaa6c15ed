"""Tab-separated annotation files read row by row with their line numbers (the LFAV and custom readers
use this; each owns its own file names and columns)."""

from __future__ import annotations

import csv
from pathlib import Path

from ...fileio import open_regular
from .description import Problems

Rows = list[tuple[int, list[str]]]


def read_rows(path: Path, header: list[str], problems: Problems) -> Rows | None:
    """``(line, fields)`` of each non-blank row after the header (line 1), each row holding as many fields
    as the header; ``None`` (the problem recorded) when the file is missing or unreadable, or its header
    is not ``header``. A row with another number of fields is refused and left out."""
    try:
        fh = open_regular(path, "r", newline="", encoding="utf-8-sig")
    except FileNotFoundError:
        problems.refuse(path, "file not found")
        return None
    except (OSError, ValueError) as exc:
        problems.refuse(path, f"cannot read it ({exc})")
        return None
    with fh:
        try:
            lines = list(csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
        except UnicodeDecodeError as exc:
            problems.refuse(path, f"not UTF-8 text ({exc})")
            return None
    if not lines or [f.strip() for f in lines[0]] != header:
        got = "an empty file" if not lines else repr("\t".join(lines[0]))
        problems.refuse(f"{path}:1", f"expected the header {chr(9).join(header)!r}, got {got}")
        return None
    out: Rows = []
    for number, fields in enumerate(lines[1:], start=2):
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            problems.refuse(
                f"{path}:{number}",
                f"expected {len(header)} tab-separated fields ({', '.join(header)}), got {len(fields)}: {fields!r}",
            )
            continue
        out.append((number, fields))
    return out
