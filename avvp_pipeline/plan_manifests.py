"""The source manifests planning writes (``features/manifest.py`` owns their format): where each job's
manifest lies, and writing them all, each with a new time only when its files changed."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

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
                lambda changed, shard=shard, kind=kind: shard_holds(
                    shard, kind, plan.released_dir, changed, plan.release
                ),
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


def retry_downloads(results_dir: str, videos_dir: str, opts, *, progress: bool = True) -> dict[int, int]:
    """Fetch again the clips each shard's download failures file lists (``opts``: the download options);
    rewrite the file with those still missing and the shard's video manifest with the clips it has now.
    A file or manifest is rewritten only when it changes, so only the shards that gained a clip are
    extracted again by the next run. Returns ``{shard: clips gained}``."""
    from .media.clip_download import read_failures

    found = sorted(Path(results_dir, "downloads").glob("failures-shard-*.tsv"))
    if not found:
        raise ValueError(
            f"{Path(results_dir, 'downloads')}: no failures-shard-K.tsv files; give the results folder of a "
            "run with dataset.download.enabled"
        )
    gained = {}
    for path in found:
        k = int(path.stem.rsplit("-", 1)[1])
        names = [f.filename for f in read_failures(path)]
        gained[k] = _retry_shard(
            names, path, video_manifest_path(f"{results_dir}/features", k), videos_dir, opts, progress
        )
    return gained


def _retry_shard(names: list[str], failures: Path, listed: str, videos_dir: str, opts, progress: bool) -> int:
    """Retry one shard's failed clips; the number gained."""
    from .features import manifest
    from .media.clip_download import download_clips, present_clips

    if not names:
        return 0
    staged = failures.with_name(failures.name + ".retry")
    counts = download_clips(names, videos_dir, staged, opts, progress=progress)
    if staged.read_bytes() == failures.read_bytes():
        staged.unlink()
    else:
        os.replace(staged, failures)
    if counts["done"] or counts["kept"]:  # a clip fetched now, or put in the folder by hand since
        files = dict.fromkeys(manifest.read_files(listed) + [str(p) for p in present_clips(names, videos_dir)])
        manifest.update(listed, sorted(files, key=lambda p: Path(p).name))
    return counts["done"] + counts["kept"]
