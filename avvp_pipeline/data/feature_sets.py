"""Hold a split's features in memory (on the GPU when there is one), aligned with its labels."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..features import store
from ..features.kinds import DEFAULT_KINDS, SLOTS, check_kinds, cli_flag
from ..fileio import open_hdf5
from .index import load_split
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
    weak ``labels (N,25)`` and, for val/test, dense truth ``gt_audio``/``gt_visual (N,25,10)``."""

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

    @property
    def shapes(self) -> dict[str, tuple[int, int]]:
        """Slot -> (rows, width) of one video's features, as the shards hold them."""
        return {slot: tuple(t.shape[1:]) for slot, t in zip(SLOTS, (self.audio, self.video_s, self.video_st))}

    def inputs(self) -> dict[str, dict]:
        """What a model trained on this set reads: slot -> ``{"kind", "shape"}`` (recorded in ``model.pt``)."""
        return {slot: {"kind": k, "shape": list(self.shapes[slot])} for slot, k in zip(SLOTS, self.kinds)}

    def with_pseudo_labels(self, path: str | Path) -> FeatureSet:
        """Attach the pseudo labels of ``path`` (data/pseudo_labels.py; rows matched by video id). Videos
        the file lacks train without the segment-level terms; they are counted in a warning."""
        audio, visual, present = read_pseudo_labels(path, self.video_ids)
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
        self.noise_ratios = tuple(torch.from_numpy(r).to(dev) for r in read_noise_ratios(path, CLASSES))
        return self

    def __len__(self) -> int:
        return len(self.video_ids)

    def batch(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self.audio[idx], self.video_s[idx], self.video_st[idx]


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
    loaded = {name: store.load_features(shards[name], workflow_results) for name in kinds}
    for name in kinds:
        _check_shape(name, loaded[name][1], loaded[name][2])
    provenance = feature_provenance({name: loaded[name][2] for name in kinds})
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

        def take(name: str) -> torch.Tensor:
            index, array, _ = loaded[name]
            rows = [index[s.video_ids[i]] for i in keep]  # noqa: B023 (called in this iteration)
            return torch.from_numpy(np.ascontiguousarray(array[rows], dtype=np.float32)).to(device)

        sets[split] = FeatureSet(
            split,
            [s.filenames[i] for i in keep],
            [s.video_ids[i] for i in keep],
            *(take(name) for name in kinds),
            torch.from_numpy(s.labels[keep].astype(np.float32)).to(device),
            None if s.gt_audio is None else s.gt_audio[keep],
            None if s.gt_visual is None else s.gt_visual[keep],
            skipped,
            kinds=kinds,
        )
    return sets, provenance
