"""The source manifests planning writes (``features/manifest.py`` owns their format): where each job's
manifest lies, and writing them all, each with a new time only when its files changed."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from .plan import VideoPlan, unusable_entry

log = logging.getLogger(__name__)


def manifest_path(feature_dir: str, kind: str, k: int) -> str:
    """The source manifest of the import job of shard ``k`` of feature kind ``kind``."""
    return f"{feature_dir}/manifests/{kind}-shard-{k:04d}.tsv"


def write_import_manifests(plan: VideoPlan, feature_dir: str) -> int:
    """Write the source manifest of every import job (``features/manifest.py``; a new time reruns the
    job); return how many changed."""
    from .features import manifest
    from .features.released import shard_holds

    n = 0
    for k in range(plan.num_shards):
        for kind in plan.kinds:
            shard = f"{feature_dir}/{kind}/shard-{k:04d}.h5"
            n += manifest.update(
                manifest_path(feature_dir, kind, k),
                plan.shard_released_files(k, kind),
                lambda changed, shard=shard, kind=kind: shard_holds(shard, kind, plan.released_dir, changed),
            )
    return n


def video_manifest_path(feature_dir: str, k: int) -> str:
    """The manifest of shard ``k``'s videos: the input of its extraction and teacher jobs."""
    return f"{feature_dir}/manifests/videos-shard-{k:04d}.tsv"


def write_video_manifests(plan: VideoPlan, feature_dir: str, made_by_run: Callable[[int], list[str]] | None) -> int:
    """Write the video manifest of every shard (``features/manifest.py``; a new time reruns the shard's
    jobs); return how many changed. ``made_by_run``: for videos a job of the run renders (the demo), the
    outputs of shard ``k`` the videos are checked against by time."""
    from .features import manifest

    return sum(
        manifest.update(
            video_manifest_path(feature_dir, k),
            plan.shard_paths(k),
            manifest.older_than(made_by_run(k)) if made_by_run else lambda changed: False,
        )
        for k in range(plan.num_shards)
    )


def write_pseudo_label_manifest(released_dir: str, video_ids: list[str], path: str, labels: str) -> bool:
    """Scan the released pseudo-label folders for the files of ``video_ids`` (entries that cannot be read,
    e.g. a FIFO, are reported and left out) and write the import's source manifest; True when it changed."""
    from .data.pseudo_labels import RELEASE_FOLDERS, labels_hold
    from .features import manifest

    wanted, files, unusable = set(video_ids), [], []
    for folder in RELEASE_FOLDERS.values():
        sub = os.path.join(released_dir, folder)
        for entry in sorted(os.scandir(sub), key=lambda e: e.name):
            stem, ext = os.path.splitext(entry.name)
            if ext == ".npy" and stem in wanted:
                problem = unusable_entry(entry, entry.path)
                (unusable.append((entry.path, problem)) if problem else files.append(entry.path))
    for bad, reason in unusable:
        log.warning("skipping %s: %s", bad, reason)
    return manifest.update(path, files, lambda changed: labels_hold(labels, released_dir, changed))
