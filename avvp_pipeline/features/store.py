"""HDF5 feature shards: one file per (extractor, shard), written atomically.

Layout: dataset ``video_ids`` (n,) utf-8, dataset ``features`` (n, T, D) float32, optional
per-video datasets (e.g. ``has_audio``; ``lengths``: each video's segments, written only when the videos
of a shard differ in length: ``features`` then holds the longest video's rows, each shorter one padded with
zeros; without it every video fills all T rows, as in every LLP shard), and attributes describing what
made the shard, among them
``content_sha256``: a checksum of everything else in the shard (ids, features, the per-video datasets
and the other attributes), verified whenever a shard is read, so a shard damaged or edited after it
was written is detected; ``checksum_version`` says what the checksum covers. The stages that read
shards (train, refine, evaluate) stop with an error naming a damaged one. A shard the workflow made
(inside the results folder of the workflow running the stage) is first moved aside
(``shard-K.h5.corrupt``), so the next Snakemake run rebuilds exactly that shard; any other shard is the
user's own and left as it is.
``avvp verify [--delete]`` checks a whole folder.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

from ..fileio import DamagedFile, FileLocked, atomic_output, open_hdf5, read_strings
from .kinds import kind


def config_hash(cfg: Mapping) -> str:
    """Stable short hash of a JSON-serialisable config."""
    blob = json.dumps(cfg, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


class CorruptShard(ValueError):
    """A shard whose content no longer matches its checksum, that HDF5 cannot read, or whose checksum
    this version cannot check (written by an older one): in every case, rebuild it."""


#: Set by the workflow's rules to its results folder: the shards inside it are its outputs.
WORKFLOW_RESULTS_ENV = "AVVP_WORKFLOW_RESULTS"


class ShardLocked(ValueError):
    """A shard HDF5 could not lock for reading: not damaged, so it is left in place."""


#: What ``content_sha256`` covers: 1 was ids and features only; 2 adds the per-video datasets and
#: the attributes.
CHECKSUM_VERSION = 2
_CORE = ("video_ids", "features")
#: The per-video dataset of the videos' lengths in segments (present when they differ).
LENGTHS = "lengths"


@dataclass
class Shard:
    """One shard as read: ids, features, the other per-video datasets (``extra``) and the attributes."""

    video_ids: list[str]
    features: np.ndarray
    attrs: dict
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def rows(self) -> np.ndarray:
        """``(n,)`` the rows of each video's features that are real (the rest is padding)."""
        return video_rows(self.features.shape[1], self.extra.get(LENGTHS), len(self.video_ids))


def padded(name: str, videos: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-video ``(rows, width)`` features of kind ``name`` (at least one video) as ``(n, longest, width)``
    (zeros past a shorter video's rows) and each video's segments: what :func:`write_shard` takes."""
    rows = np.array([len(v) for v in videos])
    if (rows == rows[0]).all():
        return np.stack(videos), rows // kind(name).rows_per_second
    out = np.zeros((len(videos), int(rows.max()), videos[0].shape[1]), dtype=np.float32)
    for i, v in enumerate(videos):
        out[i, : len(v)] = v
    return out, rows // kind(name).rows_per_second


def video_rows(rows: int, lengths: np.ndarray | None, n: int) -> np.ndarray:
    """Each of ``n`` videos' real rows when the longest of ``lengths`` (segments; None: all the same) fills
    ``rows`` rows."""
    if lengths is None:
        return np.full(n, rows, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    return lengths * (rows // int(lengths.max()))


def _lengths(path: Path, lengths, features: np.ndarray) -> np.ndarray | None:
    """The ``lengths`` dataset to store: None when every video has the same length; ValueError when they do
    not fit ``features``."""
    if lengths is None:
        return None
    lengths = np.asarray(lengths)
    n, rows = features.shape[:2]
    if lengths.shape != (n,) or lengths.dtype.kind not in "iu" or (n and lengths.min() < 1):
        raise ValueError(f"{path}: lengths must be {n} whole numbers of segments >= 1, got {lengths!r}")
    if n == 0 or lengths.min() == lengths.max():
        return None
    if rows % int(lengths.max()):
        raise ValueError(
            f"{path}: {rows} feature rows are not a whole number per segment of the longest video "
            f"({int(lengths.max())} segments)"
        )
    return lengths.astype(np.int32)


def content_sha256(
    video_ids: list[str],
    features: np.ndarray,
    extra: Mapping[str, np.ndarray] | None = None,
    attrs: Mapping | None = None,
) -> str:
    """Checksum of a shard: ids, float32 features, every extra dataset (name, dtype, shape, bytes) and
    every attribute but ``content_sha256`` itself (the same for the values written and read back)."""
    features = np.ascontiguousarray(features, dtype="<f4")
    arrays = {name: _canonical_array(name, values) for name, values in sorted((extra or {}).items())}
    header = {
        "video_ids": list(video_ids),
        "features": list(features.shape),
        "extra": [[name, a.dtype.str, list(a.shape)] for name, a in arrays.items()],
        "attrs": [
            [key, _canonical_attr(value)] for key, value in sorted((attrs or {}).items()) if key != "content_sha256"
        ],
    }
    h = hashlib.sha256(json.dumps(header, separators=(",", ":")).encode())
    h.update(features.tobytes())
    for a in arrays.values():
        h.update(a.tobytes())
    return h.hexdigest()


def _canonical_array(name: str, values) -> np.ndarray:
    a = np.asarray(values)
    if a.dtype.kind not in "biufc":
        raise ValueError(f"per-video dataset {name!r} has dtype {a.dtype}; only numbers and booleans are stored")
    return np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))


def _canonical_attr(value):
    """A JSON-able form of an attribute value that is the same for the Python value written and the
    numpy scalar (or bytes) h5py returns for it."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "surrogateescape")
    if isinstance(value, (bool, np.bool_)):
        return ["bool", bool(value)]
    if isinstance(value, (int, np.integer)):
        return ["int", int(value)]
    if isinstance(value, (float, np.floating)):
        return ["float", float(value).hex()]  # exact, and defined for nan and inf
    if isinstance(value, str):
        return ["str", str(value)]
    if isinstance(value, np.ndarray):
        return ["array", value.dtype.str, list(value.shape), [_canonical_attr(v) for v in value.ravel().tolist()]]
    return ["other", type(value).__name__, repr(value)]


def _stored_attr(value):
    """The value written for an attribute: numbers as they are, anything else as its string."""
    return value if isinstance(value, (int, float, np.integer, np.floating)) else str(value)


def write_shard(
    path: str | Path,
    video_ids: list[str],
    features: np.ndarray,
    attrs: Mapping,
    extra: Mapping[str, np.ndarray] | None = None,
    lengths: np.ndarray | None = None,
) -> None:
    """Write a shard under a temporary name and rename it into place when complete.

    ``lengths`` (n,): each video's segments, for videos of different lengths; ``features`` then holds
    ``(n, rows of the longest, D)`` and what lies past a shorter video's rows is written as zeros. Videos
    all of one length are stored without it (the layout of every LLP shard)."""
    path = Path(path)
    features = np.asarray(features, dtype=np.float32)
    if len(video_ids) != features.shape[0]:
        raise ValueError(f"{path}: {len(video_ids)} ids for {features.shape[0]} feature rows")
    extra = {name: np.asarray(values) for name, values in (extra or {}).items()}
    stored_lengths = _lengths(path, lengths, features)
    if stored_lengths is not None:
        real = np.arange(features.shape[1]) < video_rows(features.shape[1], stored_lengths, len(video_ids))[:, None]
        features = np.where(real[:, :, None], features, np.float32(0))
        extra[LENGTHS] = stored_lengths
    for name, values in extra.items():
        if values.ndim == 0 or values.shape[0] != len(video_ids):
            raise ValueError(f"{path}: per-video dataset {name!r} has shape {values.shape} for {len(video_ids)} videos")
    stored = {key: _stored_attr(value) for key, value in attrs.items() if key != "content_sha256"}
    stored["checksum_version"] = CHECKSUM_VERSION
    checksum = content_sha256(video_ids, features, extra, stored)
    with atomic_output(path) as tmp, h5py.File(tmp, "w", track_order=True) as f:
        f.create_dataset(
            "video_ids", data=np.array(video_ids, dtype=object), dtype=h5py.string_dtype("utf-8"), track_times=False
        )
        f.create_dataset("features", data=features, track_times=False)
        for name, values in extra.items():
            f.create_dataset(name, data=values, track_times=False)
        for key, value in stored.items():
            f.attrs[key] = value
        f.attrs["content_sha256"] = checksum


def read_full_shard(path: str | Path, verify: bool = True) -> Shard:
    """Read one shard with its per-video datasets; :class:`CorruptShard` when it is damaged (or its
    checksum cannot be checked)."""
    try:
        with open_hdf5(path, "a feature shard") as f:
            shard = Shard(
                read_strings(f["video_ids"]),
                f["features"][:],
                dict(f.attrs),
                {name: obj[()] for name, obj in f.items() if name not in _CORE and isinstance(obj, h5py.Dataset)},
            )
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such feature shard") from None
    except FileLocked as exc:  # busy or unsupported lock: the file may be fine, keep it
        raise ShardLocked(str(exc)) from exc
    except DamagedFile as exc:
        raise CorruptShard(str(exc)) from exc
    except (OSError, KeyError) as exc:
        raise CorruptShard(f"{path}: cannot be read as a feature shard ({exc})") from exc
    if verify:
        _verify(path, shard)
    return shard


def _verify(path: str | Path, shard: Shard) -> None:
    version = shard.attrs.get("checksum_version")
    if version is None:
        raise CorruptShard(f"{path}: written by an older avvp-pipeline (checksum version 1): rebuild it")
    if not isinstance(version, (int, np.integer)) or int(version) != CHECKSUM_VERSION:
        raise CorruptShard(
            f"{path}: checksum version {version}, this avvp-pipeline checks version {CHECKSUM_VERSION}: rebuild it"
        )
    want = shard.attrs.get("content_sha256")
    try:
        got = content_sha256(shard.video_ids, shard.features, shard.extra, shard.attrs)
    except ValueError as exc:
        raise CorruptShard(f"{path}: {exc}") from exc
    if want is None or got != str(want):
        raise CorruptShard(f"{path}: content does not match its checksum (damaged after it was written)")


def read_shard(path: str | Path, verify: bool = True) -> tuple[list[str], np.ndarray, dict]:
    """Return ``(video_ids, features, attrs)`` of one shard (all of it verified, per-video datasets
    included: :func:`read_full_shard`); :class:`CorruptShard` when it is damaged."""
    shard = read_full_shard(path, verify)
    return shard.video_ids, shard.features, shard.attrs


def read_segments(path: str | Path) -> dict[str, int]:
    """Each video's segments in one shard (from its rows and ``lengths``; the features are not read)."""
    with open_hdf5(path, "a feature shard") as f:
        ids, rows = read_strings(f["video_ids"]), f["features"].shape[1]
        lengths = f[LENGTHS][()] if LENGTHS in f else None
        per_second = kind(str(f.attrs["extractor"])).rows_per_second
    if per_second is None:
        raise ValueError(f"{path}: whole-clip features hold no video lengths")
    return dict(zip(ids, (video_rows(rows, lengths, len(ids)) // per_second).tolist()))


def read_shard_ids(path: str | Path) -> tuple[list[str], dict] | None:
    """``(video_ids, attrs)`` of a shard without its features (unverified), or None when it cannot be read."""
    try:
        with h5py.File(path, "r") as f:
            return read_strings(f["video_ids"]), dict(f.attrs)
    except (OSError, KeyError):
        return None


def quarantine(path: str | Path) -> Path | None:
    """Move a damaged shard aside to ``<path>.corrupt`` (kept for inspection) so that Snakemake sees it
    missing and rebuilds it; ``None`` when another job moved it first."""
    aside = Path(f"{path}.corrupt")
    try:
        os.replace(path, aside)
    except FileNotFoundError:
        return None
    return aside


def load_features(
    paths: Iterable[str | Path], workflow_results: str | Path | None = None
) -> tuple[dict[str, int], np.ndarray, list[dict]]:
    """Concatenate shards: ``(row index by video id, features (N, T, D), attrs per shard)``; shards of
    different row counts are padded with zeros to the longest (:func:`load_padded` also says which rows are
    real).

    A damaged shard raises :class:`CorruptShard`. One inside ``workflow_results`` (the results folder of
    the workflow running the stage, which made it and rebuilds it) is first moved aside
    (:func:`quarantine`); any other is the user's own and left as it is.
    """
    index, features, _, attrs = load_padded(paths, workflow_results)
    return index, features, attrs


def load_padded(
    paths: Iterable[str | Path], workflow_results: str | Path | None = None
) -> tuple[dict[str, int], np.ndarray, np.ndarray, list[dict]]:
    """:func:`load_features` with each video's real rows: ``(index, features (N, T, D), rows (N,), attrs)``."""
    ids: list[str] = []
    shards, origin = [], {}
    for p in paths:
        try:
            shard = read_full_shard(p)
        except CorruptShard as exc:
            if not _inside(p, workflow_results):
                raise
            aside = quarantine(p)
            where = f"moved aside to {aside}" if aside else "already moved aside by another job"
            raise CorruptShard(f"{exc}; {where}: rerun snakemake to rebuild it") from exc
        for vid in shard.video_ids:
            if vid in origin:
                raise ValueError(_duplicate(vid, origin[vid], p))
            origin[vid] = p
        ids += shard.video_ids
        shards.append(shard)
    if not shards:
        raise ValueError("no feature shards given")
    return (
        {vid: n for n, vid in enumerate(ids)},
        _pad_concat([s.features for s in shards]),
        np.concatenate([s.rows for s in shards]),
        [s.attrs for s in shards],
    )


def _pad_concat(arrays: list[np.ndarray]) -> np.ndarray:
    """``arrays`` (n_i, T_i, ...) as one array, each padded with zeros to the largest T_i."""
    longest = max(a.shape[1] for a in arrays)
    if all(a.shape[1] == longest for a in arrays):
        return np.concatenate(arrays)
    pad = [np.pad(a, [(0, 0), (0, longest - a.shape[1])] + [(0, 0)] * (a.ndim - 2)) for a in arrays]
    return np.concatenate(pad)


def _inside(path: str | Path, folder: str | Path | None) -> bool:
    return folder is not None and Path(os.path.realpath(path)).is_relative_to(os.path.realpath(folder))


def _duplicate(video_id: str, first: str | Path, second: str | Path) -> str:
    if first == second:
        return f"{first}: video id {video_id} appears twice in the shard (or the shard is given twice)"
    return f"video id {video_id} appears in more than one shard: {first} and {second}"
