"""Atomic outputs: write under a temporary name beside the target, rename when complete.

A killed or failed writer never leaves a half-written file under the real name (Snakemake and
the next stage would take it for complete), and a failed one removes its temporary file, which
matters most when the disk is full.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def temporary_path(path: str | Path, keep_suffix: bool = False) -> Path:
    """``.NAME.tmp-PID`` beside ``path`` (``keep_suffix`` appends the extension, for writers that infer
    the format from it)."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}{path.suffix if keep_suffix else ''}")


@contextmanager
def atomic_output(path: str | Path, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to ``path`` when the block succeeds, delete it when
    the block fails. An OSError that names no file (a full disk while writing) is given ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path, keep_suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
