"""`avvp verify`: check feature shards against their checksums (imported ones also against their released
files), optionally deleting the damaged ones."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .released import source_mismatch
from .store import CorruptShard, read_shard


def verify(items: list[str | Path], delete: bool = False, say: Callable[[str], None] = print) -> int:
    """Check every shard (files, or ``shard-*.h5`` below folders) and say one line per shard; the exit
    status: 1 when a path holds no shard or a corrupt shard is kept, else 0."""
    paths, errors = [], 0
    for item in items:
        p = Path(item)
        if not p.exists():
            errors += 1
            say(f"ERROR    {p}: no such file or folder")
            continue
        found = sorted(p.rglob("shard-*.h5")) if p.is_dir() else [p]
        if not found:
            errors += 1
            say(f"ERROR    no feature shards (shard-*.h5) found in {p}")
        paths += found
    bad = stale = 0
    for p in paths:
        try:
            ids, _, attrs = read_shard(p)
            why = source_mismatch(ids, attrs)
            if why:
                stale += 1
                say(f"STALE    {p}: {why}")
            else:
                say(f"ok       {p}")
        except CorruptShard as exc:
            bad += 1
            say(f"CORRUPT  {exc}")
            if delete:
                p.unlink()
                say(f"deleted  {p} (the next snakemake run rebuilds it)")
            else:
                say("         delete it (avvp verify --delete) and rerun snakemake to rebuild it")
    say(
        f"{len(paths)} shards checked, {bad} corrupt"
        + (f", {stale} no longer match their released files" if stale else "")
        + (f", {errors} paths with no shards" if errors else "")
    )
    return 1 if errors or stale or (bad and not delete) else 0
