"""The feature stage's options and the provenance attributes every extracted shard carries."""

from __future__ import annotations

import json
import platform
from dataclasses import dataclass

import numpy as np
import torch

from .. import __version__
from ..device import resolve_device
from . import store
from .weights import ResolvedWeights


@dataclass
class ExtractConfig:
    """Feature-stage options (config.yaml ``features``); defaults are the LLP recipe. ``transport`` and
    ``overlap`` change speed only, never the features."""

    weights: str = "random"
    weights_dir: str | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    decode_workers: int = 2
    batch_videos: int = 8
    fps: float = 8.0
    num_frames: int = 80
    resnet_resize: int = 256
    resnet_crop: int = 224
    r2plus1d_size: int = 112
    sample_rate: int = 16000
    example_hop: float = 1.0
    postprocess: str = "none"
    any_length: bool = False  # each video whole (its segments: media/probe.py's video_segments), not num_frames / fps s
    decode_timeout: float = 300.0
    transport: str = "shm"  # decoded frames reach the models through shared memory (shm) or the pool's pipe
    overlap: bool = True  # on CUDA: copies on their own stream, batch k+1 prepared while batch k runs

    @classmethod
    def from_dict(cls, d: dict) -> ExtractConfig:
        """Build from a flat dict; keys that are not options (``shard_size``, ``version``) are ignored."""
        unknown = set(d) - set(cls.__dataclass_fields__) - {"shard_size", "version"}
        if unknown:
            raise ValueError(f"unknown feature options: {sorted(unknown)}")
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    @property
    def segments(self) -> int:
        """A video's segments (``num_frames / fps``); with :attr:`any_length` each video's own instead."""
        return int(round(self.num_frames / self.fps))

    def torch_device(self) -> torch.device:
        return resolve_device(self.device)


def provenance_attrs(cfg: ExtractConfig, w: ResolvedWeights, stage_cfg: dict) -> dict:
    """Attributes every shard carries: what made it, with which weights and libraries."""
    import decord
    import h5py
    import torchvision

    return {
        "extractor": w.extractor,
        **w.attrs(),
        "weights_random": int(w.is_random),
        "config_hash": store.config_hash(stage_cfg),
        "config_json": json.dumps(stage_cfg, sort_keys=True),
        "avvp_pipeline_version": __version__,
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "h5py_version": h5py.__version__,
        "numpy_version": np.__version__,
        "decord_version": decord.__version__,
        "python_version": platform.python_version(),
        "precision": cfg.precision,
    }
