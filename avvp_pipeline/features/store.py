"""HDF5 feature shards: one file per (extractor, shard), written atomically.

Layout: dataset ``video_ids`` (n,) utf-8, dataset ``features`` (n, T, D) float32, optional
per-video datasets (e.g. ``has_audio``), and attributes describing what made the shard, among them
``content_sha256``: a checksum of the ids and features, verified whenever a shard is read, so a
shard damaged after it was written is detected. The stages that read shards (train, refine,
evaluate) move a damaged one aside (``shard-K.h5.corrupt``) and stop with an error naming it, so the
next Snakemake run rebuilds exactly that shard; ``avvp verify [--delete]`` checks a whole folder.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Iterable, Mapping

import h5py
import numpy as np

from ..atomic import atomic_output


def config_hash(cfg: Mapping) -> str:
    """Stable short hash of a JSON-serialisable config."""
    blob = json.dumps(cfg, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class CorruptShard(ValueError):
    """A shard whose content no longer matches its checksum, or that HDF5 cannot read."""


class ShardLocked(ValueError):
    """A shard HDF5 could not lock for reading: not damaged, so it is left in place."""


def content_sha256(video_ids: list[str], features: np.ndarray) -> str:
    """Checksum of a shard's ids and float32 features (shape included)."""
    h = hashlib.sha256()
    h.update(json.dumps([list(features.shape), list(video_ids)]).encode())
    h.update(np.ascontiguousarray(features, dtype="<f4").tobytes())
    return h.hexdigest()


def write_shard(path: str | Path, video_ids: list[str], features: np.ndarray, attrs: Mapping,
                extra: Mapping[str, np.ndarray] | None = None) -> None:
    """Write a shard under a temporary name and rename it into place when complete."""
    path = Path(path)
    features = np.asarray(features, dtype=np.float32)
    if len(video_ids) != features.shape[0]:
        raise ValueError(f"{path}: {len(video_ids)} ids for {features.shape[0]} feature rows")
    with atomic_output(path) as tmp, h5py.File(tmp, "w", track_order=True) as f:
        f.create_dataset("video_ids", data=np.array(video_ids, dtype=object),
                         dtype=h5py.string_dtype("utf-8"), track_times=False)
        f.create_dataset("features", data=features, track_times=False)
        for name, values in (extra or {}).items():
            f.create_dataset(name, data=np.asarray(values), track_times=False)
        for key, value in attrs.items():
            f.attrs[key] = value if isinstance(value, (int, float, np.integer, np.floating)) else str(value)
        f.attrs["content_sha256"] = content_sha256(video_ids, features)


def read_strings(dataset: h5py.Dataset) -> list[str]:
    """A 1-d HDF5 string dataset as Python strings."""
    return [x.decode() if isinstance(x, bytes) else x for x in dataset[:]]


def read_shard(path: str | Path, verify: bool = True) -> tuple[list[str], np.ndarray, dict]:
    """Return ``(video_ids, features, attrs)`` of one shard; :class:`CorruptShard` when it is damaged."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such feature shard")
    try:
        with h5py.File(path, "r") as f:
            ids, features, attrs = read_strings(f["video_ids"]), f["features"][:], dict(f.attrs)
    except (OSError, KeyError) as exc:
        if "unable to lock file" in str(exc):  # busy or unsupported lock: the file may be fine, keep it
            raise ShardLocked(f"{path}: HDF5 could not lock the file for reading ({exc}); another process has "
                              "it open for writing, or the filesystem has no POSIX locks (then set "
                              "HDF5_USE_FILE_LOCKING=FALSE)") from exc
        raise CorruptShard(f"{path}: cannot be read as a feature shard ({exc})") from exc
    want = attrs.get("content_sha256")
    if verify and want is not None and content_sha256(ids, features) != str(want):
        raise CorruptShard(f"{path}: content does not match its checksum (damaged after it was written)")
    return ids, features, attrs


def quarantine(path: str | Path) -> Path | None:
    """Move a damaged shard aside to ``<path>.corrupt`` (kept for inspection) so that Snakemake sees it
    missing and rebuilds it; ``None`` when another job moved it first."""
    aside = Path(f"{path}.corrupt")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return None
    return aside


def load_features(paths: Iterable[str | Path]) -> tuple[dict[str, int], np.ndarray, list[dict]]:
    """Concatenate shards: ``(row index by video id, features (N, T, D), attrs per shard)``.

    A damaged shard is moved aside (:func:`quarantine`) before :class:`CorruptShard` is raised.
    """
    ids: list[str] = []
    arrays, attrs = [], []
    for p in paths:
        try:
            i, x, a = read_shard(p)
        except CorruptShard as exc:
            aside = quarantine(p)
            where = f"moved aside to {aside}" if aside else "already moved aside by another job"
            raise CorruptShard(f"{exc}; {where}: rerun snakemake to rebuild it") from exc
        ids += i
        arrays.append(x)
        attrs.append(a)
    if not arrays:
        raise ValueError("no feature shards given")
    index = {vid: n for n, vid in enumerate(ids)}
    if len(index) != len(ids):
        raise ValueError("a video id appears in more than one shard")
    return index, np.concatenate(arrays), attrs
