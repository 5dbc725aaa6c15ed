"""Which clips a run stood on: per split, how many the annotation files list and how many were available
(present in the videos folder or downloaded), and why the others were not, for the report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..data.index import SPLITS, load_split
from ..features.manifest import read_files
from ..media.clip_download import read_failures

#: The reason of a listed clip that is neither available nor in a download failures file.
NOT_FOUND = "not in videos_dir"


@dataclass(frozen=True)
class SplitClips:
    """One split's listed clips, the available ones, and the count of each reason the others are missing."""

    split: str
    listed: int
    available: int
    missing: dict[str, int]


def split_clips(index: str | Path, video_lists: list[str | Path], failures: list[str | Path] = ()) -> list[SplitClips]:
    """Each split of ``index`` against the clips the shards' video manifests list; a missing clip's
    reason comes from the download failures files, else :data:`NOT_FOUND`."""
    available = {Path(p).stem for manifest in video_lists for p in read_files(manifest)}
    reasons = {f.video_id: f.reason for path in failures for f in read_failures(path)}
    out = []
    for split in SPLITS:
        ids = load_split(index, split).video_ids
        missing = Counter(reasons.get(v, NOT_FOUND) for v in ids if v not in available)
        out.append(SplitClips(split, len(ids), len(ids) - sum(missing.values()), dict(sorted(missing.items()))))
    return out


def clips_markdown(counts: list[SplitClips]) -> str:
    """The report's section on the clips: a table of listed, available and missing (by reason) per split."""
    lines = [
        "## Clips",
        "",
        "The figures above stand on the available clips (present in the videos folder or downloaded) of "
        "those the annotation files list; a missing clip has no features and is left out.",
        "",
        "| split | listed | available | missing |",
        "| --- | --- | --- | --- |",
    ]
    for c in counts:
        why = ", ".join(f"{reason}: {n}" for reason, n in c.missing.items())
        missing = c.listed - c.available
        lines.append(f"| {c.split} | {c.listed} | {c.available} | {missing}{f' ({why})' if why else ''} |")
    return "\n".join(lines) + "\n"
