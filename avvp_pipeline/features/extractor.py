"""The one protocol every feature extractor follows, so that one shard driver (``runner.extract_shard``)
serves them all: what a decoder process does per video, how decoded batches become features, and
what each of its shards records."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np
import torch

from .config import ExtractConfig
from .stage_times import StageTimes

Decoded = list[tuple[str, object]]  # (path, what the decoder returned) per video of a batch


class Extractor(Protocol):
    cfg: ExtractConfig
    label: str  # "visual", "audio": progress bars and logs
    shards: tuple[str, ...]  # the extractor name of each shard it writes (``resnet152``, ...), in order
    decode: Callable  # the decoder-process job function (``media.jobs``)
    frames_in_shared_memory: bool  # its decoders may hand frames over through the shared-memory ring
    extra_dtypes: dict[str, type]  # per-video datasets of every shard it writes (``has_audio``)

    def job(self, path: str) -> tuple:
        """The decode job of one video."""

    def take(self, view: np.ndarray) -> object:
        """Copy frames out of a shared-memory slot (to pinned memory on CUDA)."""

    def run(
        self, batches: Iterator[Decoded], times: StageTimes | None = None
    ) -> Iterator[tuple[Decoded, dict[str, np.ndarray]]]:
        """Features of each decoded batch, in order: ``(batch, {shard name: (B, T, D) float32})``; videos
        of different lengths give a list of ``(T_i, D)`` arrays instead."""

    def extras(self, batch: Decoded) -> dict[str, list]:
        """Per-video values of ``extra_dtypes`` for ``batch``."""

    def shard_attrs(self, name: str, stage_cfg: dict, n_failed: int) -> dict:
        """Attributes of shard ``name``."""

    def empty(self, name: str) -> np.ndarray:
        """Features of shard ``name`` when no video decoded: ``(0, T, D)``."""


def to_device(frames, device: torch.device) -> torch.Tensor:
    """uint8 frames/samples (numpy, or a pinned tensor) to the device; on CUDA through pinned memory,
    without blocking the host."""
    t = frames if isinstance(frames, torch.Tensor) else torch.from_numpy(frames)
    if device.type != "cuda":
        return t
    return (t if t.is_pinned() else t.pin_memory()).to(device, non_blocking=True)


def host_copy(device: torch.device) -> Callable[[np.ndarray], object]:
    """How frames leave a shared-memory slot: into pinned memory for a CUDA device, else a numpy copy."""
    if device.type == "cuda":
        return lambda view: torch.from_numpy(view).pin_memory()
    return np.copy
