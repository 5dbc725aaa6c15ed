"""Plan the workflow at parse time: where the data is, which videos exist, which shard each belongs to.

The Snakefile calls these functions; they must be fast (all of LLP in well under a second), so they
read only the split CSVs (or, for the demo, derive the synthetic names from the seed) and list the
videos folder once. Everything a run would trip over later (a missing folder, no videos, an unknown
model name, a file name Snakemake cannot take) is a :class:`PlanError` here, naming the problem.

The pipeline never writes into the user's data folders: the synthetic demo set is rendered into
:data:`SYNTH_DIR`, a folder of its own, and only when no data folders are configured.
"""
from __future__ import annotations

import difflib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .data import llp

log = logging.getLogger(__name__)

#: Where the synthetic demo set is rendered (annotations/ and videos/), relative to the working folder.
SYNTH_DIR = "demo"
#: Containers accepted in ``videos_dir`` as ``<YouTube id><extension>``, in order of preference when one
#: id has several files.
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".m4v", ".avi")
_YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")


class PlanError(ValueError):
    """The configuration or the data folders cannot make a workflow; the message says why."""


@dataclass(frozen=True)
class DataSource:
    """The annotation and video folders a run reads, and the synthetic set's options when it renders one."""

    annotations_dir: str
    videos_dir: str
    synth: dict | None = None  # synth options (without ``enabled``) when the demo set is rendered

    @property
    def synthetic(self) -> bool:
        return self.synth is not None


def data_source(dataset_cfg: dict) -> DataSource:
    """Resolve ``dataset``: the user's folders when given (read only), else the demo set in :data:`SYNTH_DIR`.

    ``dataset.synth.enabled`` (set only by the demo config) renders the demo set, and only when neither
    ``annotations_dir`` nor ``videos_dir`` is given: a config that names data folders always means real
    data, whatever a merged config file says about the demo.
    """
    ann, vids = dataset_cfg.get("annotations_dir"), dataset_cfg.get("videos_dir")
    synth = dataset_cfg.get("synth") or {}
    if ann is None and vids is None:
        if not synth.get("enabled", False):
            raise PlanError("no data: set dataset.annotations_dir and dataset.videos_dir (e.g. "
                            "--config annotations_dir=DIR videos_dir=DIR), or run the demo config")
        return DataSource(f"{SYNTH_DIR}/annotations", f"{SYNTH_DIR}/videos",
                          {k: v for k, v in synth.items() if k != "enabled"})
    if ann is None or vids is None:
        given, missing = ("annotations_dir", "videos_dir") if vids is None else ("videos_dir", "annotations_dir")
        raise PlanError(f"dataset.{given} is set but dataset.{missing} is not: real data needs both folders")
    if synth.get("enabled", False):
        log.info("data folders are given (%s, %s): the synthetic demo set is not rendered", ann, vids)
    return DataSource(str(ann), str(vids))


@dataclass
class VideoPlan:
    """Videos to process, in shard order, and the ones that are missing from ``videos_dir``."""

    videos_dir: str
    video_ids: list[str]
    shard_size: int
    missing: list[str] = field(default_factory=list)
    paths: dict[str, str] = field(default_factory=dict)  # id -> file; default <videos_dir>/<id>.mp4
    unusable: list[tuple[str, str]] = field(default_factory=list)  # (file, reason) found but skipped

    @property
    def num_shards(self) -> int:
        return max(1, -(-len(self.video_ids) // self.shard_size))

    def shard(self, k: int) -> list[str]:
        """Video ids of shard ``k``."""
        if not 0 <= k < self.num_shards:
            raise IndexError(f"shard {k} out of range 0..{self.num_shards - 1}")
        return self.video_ids[k * self.shard_size : (k + 1) * self.shard_size]

    def path(self, vid: str) -> str:
        """The video file of ``vid``."""
        return self.paths.get(vid) or os.path.join(self.videos_dir, f"{vid}.mp4")

    def shard_paths(self, k: int) -> list[str]:
        """Video file paths of shard ``k``."""
        return [self.path(vid) for vid in self.shard(k)]


def _synth_filenames(synth_cfg: dict) -> list[str]:
    from .data.synth import SynthSpec, video_filenames

    names = video_filenames(SynthSpec.from_dict(synth_cfg))
    return [f for split in ("train", "val", "test") for f in names[split]]


def _annotation_ids(annotations_dir: str) -> list[str]:
    """Sorted unique YouTube ids of the three split files; PlanError for a name without a valid id."""
    d = Path(annotations_dir)
    if not d.is_dir():
        raise PlanError(f"annotations_dir {d}: folder not found")
    ids = set()
    paths = [d / split_file for split_file in llp.SPLIT_FILES.values()]
    for path in paths:
        if not path.is_file():
            raise PlanError(f"{path}: annotation file not found (annotations_dir needs {', '.join(llp.SPLIT_FILES.values())})")
    try:
        llp.check_splits_disjoint(paths)
    except ValueError as exc:  # a repeated id or a video in two splits: name the lines at planning
        raise PlanError(str(exc)) from None
    for path in paths:
        for name in llp.read_weak_labels(path)[0]:
            vid = name[:11]
            if not _YOUTUBE_ID.fullmatch(vid):
                raise PlanError(f"{path}: filename {name!r} does not start with an 11-character YouTube id "
                                "(letters, digits, '-' and '_')")
            ids.add(vid)
    return sorted(ids)


def _scan_videos(videos_dir: str, wanted: set[str]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """``({id: file}, [(file, reason) skipped])`` for the files of ``videos_dir`` named after a wanted id."""
    d = Path(videos_dir)
    if not d.exists():
        raise PlanError(f"videos_dir {d}: folder not found")
    if not d.is_dir():
        raise PlanError(f"videos_dir {d}: not a folder")
    found: dict[str, list[str]] = {}
    unusable, n_videos = [], 0
    for entry in os.scandir(d):
        stem, ext = os.path.splitext(entry.name)
        if ext.lower() not in VIDEO_EXTENSIONS or entry.name.startswith("."):
            continue
        n_videos += 1
        if stem not in wanted:
            continue
        path = os.path.join(videos_dir, entry.name)
        if entry.is_symlink() and not os.path.exists(path):
            unusable.append((path, f"dangling symbolic link (to {os.readlink(path)})"))
        elif not entry.is_file():
            unusable.append((path, "not a regular file"))
        else:
            found.setdefault(stem, []).append(entry.name)
    if n_videos == 0:
        raise PlanError(f"videos_dir {d}: no videos (expected <YouTube id>.mp4 files; also accepted: "
                        f"{', '.join(VIDEO_EXTENSIONS[1:])})")
    order = {ext: i for i, ext in enumerate(VIDEO_EXTENSIONS)}
    paths = {}
    for vid, names in found.items():
        names.sort(key=lambda n: (order[os.path.splitext(n)[1].lower()], n))
        if len(names) > 1:
            log.warning("%s: several files for video %s (%s): using %s", videos_dir, vid, ", ".join(names), names[0])
        paths[vid] = os.path.join(videos_dir, names[0])
    return paths, sorted(unusable)


def plan_videos(dataset_cfg: dict, shard_size: int) -> VideoPlan:
    """Sorted unique video ids of all splits, split into shards; missing videos are reported and skipped."""
    source = data_source(dataset_cfg)
    if source.synthetic:  # rendered by the synth rule
        ids = sorted({llp.video_id(f) for f in _synth_filenames(source.synth)})
        return VideoPlan(source.videos_dir, ids, shard_size)
    ids = _annotation_ids(source.annotations_dir)
    paths, unusable = _scan_videos(source.videos_dir, set(ids))
    for path, reason in unusable:
        log.warning("skipping %s: %s", path, reason)
    missing = [v for v in ids if v not in paths]
    if len(missing) == len(ids):
        raise PlanError(f"videos_dir {source.videos_dir}: none of the {len(ids)} annotated videos is there "
                        f"(expected e.g. {ids[0]}.mp4)")
    if missing:
        log.warning("%d of %d videos are missing from %s and will be skipped (e.g. %s)", len(missing), len(ids),
                    source.videos_dir, ", ".join(missing[:5]))
    present = [v for v in ids if v in paths]
    return VideoPlan(source.videos_dir, present, shard_size, missing, paths, unusable)


def parse_inputs(folder: str) -> list[str]:
    """The videos of ``parse.videos_dir`` for the parse rule (every regular file but dot-files).

    Dangling links and subfolders are reported and left out; a name with ``{`` or ``}`` (which
    Snakemake would read as a wildcard) is a PlanError: rename it, or parse it with ``avvp parse``.
    """
    d = Path(folder)
    if not d.is_dir():
        raise PlanError(f"parse.videos_dir {d}: folder not found")
    files = []
    for p in sorted(d.iterdir()):
        if p.name.startswith("."):
            continue
        if p.is_symlink() and not p.exists():
            log.warning("parse: skipping %s: dangling symbolic link", p)
        elif p.is_dir():
            log.warning("parse: skipping %s: a folder inside parse.videos_dir (not searched)", p)
        elif "{" in p.name or "}" in p.name:
            raise PlanError(f"parse.videos_dir: {p}: a file name with '{{' or '}}' cannot be a workflow input; "
                            "rename it, or parse it directly with `avvp parse`")
        elif p.is_file():
            files.append(str(p))
    if not files:
        raise PlanError(f"parse.videos_dir {d}: no videos")
    return files


def check_models(known: list[str], train_cfg: dict, parse_cfg: dict) -> None:
    """PlanError for a model name in ``train.models``, ``train.per_model`` or ``parse.models`` that is not a row."""
    places = [("train.models", train_cfg.get("models") or []), ("train.per_model", list(train_cfg.get("per_model") or {})),
              ("parse.models", parse_cfg.get("models") or [])]
    for where, names in places:
        for name in names:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise PlanError(f"unknown model {name!r} in {where}{hint} (`avvp models` lists them: "
                                f"{', '.join(known)})")
