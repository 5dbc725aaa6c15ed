"""Hold a split's features in memory (on the GPU when there is one), aligned with its labels.

Videos of different lengths are held padded with zeros to the split's longest, with their lengths; a batch
of them (:meth:`FeatureSet.batch`) is cut to its own longest video and comes with its padding mask
(:meth:`FeatureSet.padding_mask`, models/padding.py)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..features import store
from ..features.kinds import DEFAULT_KINDS, SEGMENTS, SLOTS, check_kinds, cli_flag, kind
from ..fileio import open_hdf5
from .index import index_classes, load_split
from .llp import CLASSES
from .noise_ratios import read_noise_ratios
from .pseudo_labels import read_pseudo_labels
from .refined_labels import read_refined_labels

log = logging.getLogger(__name__)

#: The feature kinds read when none are named: HAN's (features/kinds.py).
EXTRACTORS = DEFAULT_KINDS
PROVENANCE_KEYS = ("weights_id", "weights_sha256", "config_hash", "avvp_pipeline_version")


@dataclass
class FeatureSet:
    """One split: the features of its three slots, ``audio (N,Ta,Da)``, ``video_s (N,Ts,Ds)``, ``video_st
    (N,Tst,Dst)`` (with HAN's kinds (N,10,128), (N,80,2048), (N,10,512)), the kinds they are (``kinds``),
    weak ``labels (N,C)`` and, for val/test, dense truth ``gt_audio``/``gt_visual (N,C,T)``.

    ``lengths`` (N,) are the videos' segments when they are not all :data:`SEGMENTS` (LLP's 10, None):
    the features and truth are then padded with zeros to the longest video, T segments."""

    split: str
    filenames: list[str]
    video_ids: list[str]
    audio: torch.Tensor
    video_s: torch.Tensor
    video_st: torch.Tensor
    labels: torch.Tensor
    gt_audio: np.ndarray | None
    gt_visual: np.ndarray | None
    skipped: list[str] = field(default_factory=list)
    labels_audio: torch.Tensor | None = None  # MA-refined modality labels (N, 25), train split only
    labels_visual: torch.Tensor | None = None
    # segment-level pseudo labels (N, 10, 25) per modality (VALOR rows), train split only, and which
    # videos have them (N,) float 0/1
    pseudo_audio: torch.Tensor | None = None
    pseudo_visual: torch.Tensor | None = None
    pseudo_present: torch.Tensor | None = None
    kinds: tuple[str, str, str] = DEFAULT_KINDS  # the feature kind in each slot (audio, visual_2d, visual_3d)
    # JoMoLD's per-class (audio, visual) noise ratios (C,) float64, train split only (data/noise_ratios.py)
    noise_ratios: tuple[torch.Tensor, torch.Tensor] | None = None
    lengths: np.ndarray | None = None  # (N,) segments per video; None: all SEGMENTS long
    classes: tuple[str, ...] = CLASSES
    segment_seconds: float = 1.0

    def __post_init__(self) -> None:
        if self.lengths is not None:
            self.lengths = np.asarray(self.lengths, dtype=np.int64)
        self._on_device: torch.Tensor | None = None

    def _device_lengths(self) -> torch.Tensor:
        """``lengths`` on the features' device (copied once)."""
        device = self.audio.device
        if self._on_device is None or self._on_device.device != device:
            self._on_device = torch.from_numpy(self.lengths).to(device)
        return self._on_device

    @property
    def segments(self) -> int:
        """T: the segments of the longest video (every video's when ``lengths`` is None)."""
        return SEGMENTS if self.lengths is None else int(self.lengths.max())

    @property
    def length_range(self) -> tuple[int, int]:
        """The shortest and longest video, in segments."""
        if self.lengths is None:
            return SEGMENTS, SEGMENTS
        return int(self.lengths.min()), int(self.lengths.max())

    @property
    def uniform(self) -> bool:
        """Whether every video has the same length (no batch needs padding)."""
        return self.lengths is None or bool((self.lengths == self.lengths[0]).all())

    def _tensors(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.audio, self.video_s, self.video_st

    @property
    def shapes(self) -> dict[str, tuple[int, int]]:
        """Slot -> (rows, width) of a 10-segment video's features (what a model is built for; the shards'
        shape for LLP)."""
        if self.lengths is None:
            return {slot: tuple(t.shape[1:]) for slot, t in zip(SLOTS, self._tensors())}
        return {slot: (t.shape[1] // self.segments * SEGMENTS, t.shape[2]) for slot, t in zip(SLOTS, self._tensors())}

    def inputs(self) -> dict[str, dict]:
        """What a model trained on this set reads: slot -> ``{"kind", "shape"}`` (recorded in ``model.pt``)."""
        return {slot: {"kind": k, "shape": list(self.shapes[slot])} for slot, k in zip(SLOTS, self.kinds)}

    def with_pseudo_labels(self, path: str | Path) -> FeatureSet:
        """Attach the pseudo labels of ``path`` (data/pseudo_labels.py; rows matched by video id). Videos
        the file lacks train without the segment-level terms; they are counted in a warning."""
        if self.lengths is not None:
            raise ValueError(
                f"{path}: pseudo labels cover 10-second videos; the {self.split} videos last 1 to "
                f"{self.segments} segments"
            )
        audio, visual, present = read_pseudo_labels(path, self.video_ids, self.classes)
        if not present.any():
            raise ValueError(f"{path}: no pseudo labels for any of the {len(self)} {self.split} videos")
        if not present.all():
            log.warning(
                "%s: %d of %d %s videos have no pseudo labels (see the import's failures file); they "
                "train on their weak labels only",
                path,
                int((~present).sum()),
                len(self),
                self.split,
            )
        dev = self.labels.device
        self.pseudo_audio, self.pseudo_visual = torch.from_numpy(audio).to(dev), torch.from_numpy(visual).to(dev)
        self.pseudo_present = torch.from_numpy(present.astype(np.float32)).to(dev)
        return self

    def with_refined_labels(self, path: str | Path) -> FeatureSet:
        """Attach the refined labels written by ``avvp refine`` (rows matched by video id)."""
        audio, visual = read_refined_labels(path, self.video_ids)
        dev = self.labels.device
        self.labels_audio, self.labels_visual = torch.from_numpy(audio).to(dev), torch.from_numpy(visual).to(dev)
        return self

    def with_noise_ratios(self, path: str | Path) -> FeatureSet:
        """Attach the per-class noise ratios of ``path`` (the jomold row flips labels with them)."""
        dev = self.labels.device
        self.noise_ratios = tuple(torch.from_numpy(r).to(dev) for r in read_noise_ratios(path, self.classes))
        return self

    def __len__(self) -> int:
        return len(self.video_ids)

    def batch(self, idx: torch.Tensor, segments: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The features of the videos ``idx``, cut to their first ``segments`` (None, or a set without
        ``lengths``: all its rows)."""
        if segments is None or self.lengths is None or segments == self.segments:
            return self.audio[idx], self.video_s[idx], self.video_st[idx]
        return tuple(t[idx, : t.shape[1] // self.segments * segments] for t in self._tensors())

    def batch_length(self, idx: np.ndarray | torch.Tensor) -> int:
        """The segments of the longest of the videos ``idx`` (indices on the CPU)."""
        return self.segments if self.lengths is None else int(self.lengths[np.asarray(idx)].max())

    def padding_mask(self, idx: torch.Tensor, segments: int) -> torch.Tensor | None:
        """``(B, segments)`` True at the real segments of the videos ``idx``; None when nothing is padded."""
        if self.uniform:
            return None
        return _first(self._device_lengths()[idx], segments)

    def mask(self) -> torch.Tensor | None:
        """``(N, T)`` True at every video's real segments; None when nothing is padded."""
        return None if self.uniform else _first(self._device_lengths(), self.segments)


def _first(lengths: torch.Tensor, segments: int) -> torch.Tensor:
    """``(B, segments)`` True at the first ``lengths`` segments of each video (models/padding.py's mask)."""
    return torch.arange(segments, device=lengths.device) < lengths[:, None]


def feature_provenance(attrs_by_extractor: dict[str, list[dict]]) -> dict[str, dict]:
    """What made the features: weights id/hash and config hash per extractor (must agree across shards)."""
    out = {}
    for name, attrs in attrs_by_extractor.items():
        seen = {tuple(str(a.get(k, "")) for k in PROVENANCE_KEYS) for a in attrs}
        if len(seen) > 1:
            raise ValueError(f"{name} shards were made by different weights or configs: {sorted(seen)}")
        out[name] = dict(zip(PROVENANCE_KEYS, next(iter(seen))))
    return out


def feature_configs(shards: dict[str, list[str]], kinds: tuple[str, ...] = DEFAULT_KINDS) -> dict[str, dict]:
    """The extraction config the shards of each of ``kinds`` recorded (``config_json``): what `avvp parse`
    needs to extract new videos the same way."""

    out = {}
    for name in kinds:
        with open_hdf5(shards[name][0], "a feature shard") as f:
            out[name] = json.loads(f.attrs["config_json"]) if "config_json" in f.attrs else None
    return out


def require_shards(shards: dict[str, list[str]], kinds: tuple[str, ...], what: str) -> None:
    """ValueError naming the kinds of ``kinds`` that ``shards`` gives no files for (``what`` reads them)."""
    lacking = [k for k in kinds if not shards.get(k)]
    if lacking:
        flags = ", ".join(cli_flag(k) for k in lacking)
        raise ValueError(
            f"{what} reads the feature kinds {', '.join(kinds)}, but no shards were given for "
            f"{', '.join(lacking)} ({flags})"
        )


def _check_shape(name: str, array: np.ndarray, attrs: list[dict]) -> None:
    """ValueError unless the shards of ``name`` hold (N, rows, width) features of one shard kind."""
    if array.ndim != 3:
        raise ValueError(f"{name} shards hold features of shape {array.shape[1:]}: expected (rows, width) per video")
    made = {str(a.get("extractor", name)) for a in attrs}
    if made - {name}:
        raise ValueError(f"the shards given as {name} were written as {', '.join(sorted(made))} features")


def _segments(name: str, rows: np.ndarray) -> np.ndarray:
    """Each video's segments from its real rows of kind ``name``."""
    k = kind(name)
    if k.rows_per_second is None:
        return np.full(len(rows), SEGMENTS, dtype=np.int64)
    if (rows % k.rows_per_second).any():
        raise ValueError(
            f"{name} shards hold a video of {rows[rows % k.rows_per_second > 0][0]} rows: not a whole number of "
            f"seconds ({k.rows_per_second} rows per second)"
        )
    return rows // k.rows_per_second


def _video_lengths(split: str, index_lengths: np.ndarray, by_kind: list[np.ndarray]) -> np.ndarray:
    """The videos' lengths: the index's, cut to the shortest features (a warning counts such videos)."""
    lengths = np.minimum.reduce([index_lengths, *by_kind])
    short = int((lengths < index_lengths).sum())
    if short:
        log.warning("%s: %d videos have features shorter than the index says; they are cut to them", split, short)
    if (lengths < 1).any():
        raise ValueError(f"{split}: a video has features of less than one segment")
    return lengths


def _take(
    name: str, array: np.ndarray, rows: list[int], lengths: np.ndarray | None, device: torch.device
) -> torch.Tensor:
    """The features ``array[rows]`` on ``device``; with ``lengths``, padded with zeros to the longest."""
    if lengths is None and array.shape[1] == kind(name).rows(SEGMENTS):  # LLP: every video fills its rows
        return torch.from_numpy(np.ascontiguousarray(array[rows], dtype=np.float32)).to(device)
    per = kind(name).rows_per_second
    lengths = np.full(len(rows), SEGMENTS) if lengths is None else lengths
    width = int(lengths.max()) * per
    out = np.zeros((len(rows), width, array.shape[2]), dtype=np.float32)
    take = min(width, array.shape[1])
    out[:, :take] = array[rows, :take]
    out[np.arange(width) >= lengths[:, None] * per] = 0
    return torch.from_numpy(out).to(device)


def load_feature_sets(
    index_path: str | Path,
    splits: list[str],
    shards: dict[str, list[str]],
    device: torch.device,
    kinds: tuple[str, ...] = DEFAULT_KINDS,
    workflow_results: str | Path | None = None,
) -> tuple[dict[str, FeatureSet], dict[str, dict]]:
    """Load ``splits`` from the index and the shards of ``kinds`` (one per slot: audio, 2D visual, 3D
    visual); videos missing a feature are skipped visibly. Returns the sets and the features' provenance
    per kind. ``workflow_results``: the results folder of the workflow running this stage,
    if any: a damaged shard inside it is moved aside to be rebuilt (features/store.py)."""
    kinds = check_kinds(kinds)
    require_shards(shards, kinds, "this stage")
    loaded = {name: store.load_padded(shards[name], workflow_results) for name in kinds}
    for name in kinds:
        _check_shape(name, loaded[name][1], loaded[name][3])
    provenance = feature_provenance({name: loaded[name][3] for name in kinds})
    classes, segment_seconds = index_classes(index_path)
    sets = {}
    for split in splits:
        s = load_split(index_path, split)
        keep = [i for i, vid in enumerate(s.video_ids) if all(vid in loaded[n][0] for n in kinds)]
        kept = set(keep)
        skipped = [vid for i, vid in enumerate(s.video_ids) if i not in kept]
        if skipped:
            log.warning(
                "%s: %d of %d videos have no features (failed or missing) and are skipped: %s",
                split,
                len(skipped),
                len(s),
                ", ".join(skipped[:10]),
            )
        if not keep:
            raise ValueError(f"{split}: none of its {len(s)} videos has features")
        rows = {name: [loaded[name][0][s.video_ids[i]] for i in keep] for name in kinds}
        lengths = _video_lengths(
            split, s.lengths[keep], [_segments(name, loaded[name][2][rows[name]]) for name in kinds]
        )
        full = bool((lengths == SEGMENTS).all())
        if not full and any(kind(name).rows_per_second is None for name in kinds):
            clip = [name for name in kinds if kind(name).rows_per_second is None]
            raise ValueError(
                f"{split}: {', '.join(clip)} features map whole 10-second clips; its videos last "
                f"{lengths.min()} to {lengths.max()} segments"
            )
        longest = int(lengths.max())

        feats = [_take(name, loaded[name][1], rows[name], None if full else lengths, device) for name in kinds]
        gt = (None, None) if s.gt_audio is None else (s.gt_audio[keep][..., :longest], s.gt_visual[keep][..., :longest])
        sets[split] = FeatureSet(
            split,
            [s.filenames[i] for i in keep],
            [s.video_ids[i] for i in keep],
            *feats,
            torch.from_numpy(s.labels[keep].astype(np.float32)).to(device),
            *gt,
            skipped,
            kinds=kinds,
            lengths=None if full else lengths,
            classes=classes,
            segment_seconds=segment_seconds,
        )
    return sets, provenance
