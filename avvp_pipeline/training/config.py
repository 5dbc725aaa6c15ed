"""The options of a training run: :class:`TrainConfig` (recorded: they make the run) and :class:`RunOptions`
(speed only: never recorded), each checked against its allowed values."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from ..device import resolve_device
from ..models.options import DEFAULTS, OPTIONS, RUNTIME

__all__ = ["TrainConfig", "RunOptions"]


@dataclass
class TrainConfig:
    """The recorded training options (config.yaml ``train.options``): they enter the run hash and ``model.pt``.
    One field per option of :data:`models.options.OPTIONS`, checked by it; defaults are HAN's recipe."""

    epochs: int = DEFAULTS["epochs"]
    batch_size: int = DEFAULTS["batch_size"]
    lr: float = DEFAULTS["lr"]
    step_size: int = DEFAULTS["step_size"]
    gamma: float = DEFAULTS["gamma"]
    seed: int = DEFAULTS["seed"]
    dropout: float = DEFAULTS["dropout"]
    num_layers: int = DEFAULTS["num_layers"]
    stacking: str = DEFAULTS["stacking"]
    audio_smoothing: float = DEFAULTS["audio_smoothing"]
    visual_smoothing: float = DEFAULTS["visual_smoothing"]
    select: str = DEFAULTS["select"]
    select_on: str = DEFAULTS["select_on"]
    select_metric: str = DEFAULTS["select_metric"]
    gate: str = DEFAULTS["gate"]
    feature_norm: str = DEFAULTS["feature_norm"]
    precision: str = DEFAULTS["precision"]
    occ_dim: int = DEFAULTS["occ_dim"]
    occ_dropout: float = DEFAULTS["occ_dropout"]
    init_epoch: int = DEFAULTS["init_epoch"]
    before_audio_smoothing: float = DEFAULTS["before_audio_smoothing"]
    before_visual_smoothing: float = DEFAULTS["before_visual_smoothing"]
    cms_weight: float = DEFAULTS["cms_weight"]
    temperature: float = DEFAULTS["temperature"]
    early_stop: int = DEFAULTS["early_stop"]
    hidden: int = DEFAULTS["hidden"]
    heads: int = DEFAULTS["heads"]
    ffn: int = DEFAULTS["ffn"]
    optimizer: str = DEFAULTS["optimizer"]
    weight_decay: float = DEFAULTS["weight_decay"]
    beta1: float = DEFAULTS["beta1"]
    beta2: float = DEFAULTS["beta2"]
    schedule: str = DEFAULTS["schedule"]
    warmup_epochs: int = DEFAULTS["warmup_epochs"]
    min_lr: float = DEFAULTS["min_lr"]
    grad_clip: float = DEFAULTS["grad_clip"]

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """The recorded options in ``d``; speed options (:class:`RunOptions`) are ignored, anything else
        unknown is a ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known - set(RunOptions.names()) - {"version"}
        if unknown:
            raise ValueError(f"unknown train options: {sorted(unknown)}")
        return cls(**{k: v for k, v in d.items() if k in known})

    def __post_init__(self):
        for f in fields(self):
            setattr(self, f.name, OPTIONS[f.name].checked(getattr(self, f.name)))

    def autocast(self, device: torch.device):
        """The autocast context of ``precision`` (a no-op for fp32). Its cache of cast weights is off: a CUDA
        graph cannot capture it, and with it a weight used twice in a forward pass (HAN's shared layer)
        would sum its two gradients in bf16 instead of fp32, so graphed and eager steps would differ."""
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16", cache_enabled=False)

    def lr_factor(self, index: int) -> float:
        """The learning rate of the epoch with 0-based ``index`` as a factor of ``lr`` (``schedule``):
        ``step``: ``gamma ** (index // step_size)``; ``warmup_cosine``: ``(index + 1) / warmup_epochs``
        during the warm-up, then a cosine from ``lr`` down to ``min_lr`` reached after the last epoch."""
        if self.schedule == "step":
            return self.gamma ** (index // self.step_size)
        if index < self.warmup_epochs:
            return (index + 1) / self.warmup_epochs
        span = max(1, self.epochs - self.warmup_epochs)
        cos = 0.5 * (1 + np.cos(np.pi * min(index - self.warmup_epochs, span) / span))
        return float((self.min_lr + (self.lr - self.min_lr) * cos) / self.lr)

    def smoothing(self, epoch: int) -> tuple[float, float]:
        """(audio, visual) label smoothing in ``epoch`` (1-based)."""
        if epoch <= self.init_epoch:
            return self.before_audio_smoothing, self.before_visual_smoothing
        return self.audio_smoothing, self.visual_smoothing


@dataclass
class RunOptions:
    """Options that change only how fast training runs, never what it computes: kept out of the run hash
    and of ``model.pt``, so a run resumes whatever device or evaluation batch it is given."""

    device: str = "auto"
    eval_batch_size: int = RUNTIME["eval_batch_size"].default
    cuda_graphs: bool = RUNTIME["cuda_graphs"].default  # training/graphed.py

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_dict(cls, d: dict) -> RunOptions:
        """The speed options in ``d`` (other keys are ignored), checked like the recorded ones."""
        return cls(**{k: v for k, v in d.items() if k in cls.names()})

    def __post_init__(self):
        if not isinstance(self.device, str):
            raise ValueError(f"train option device must be a string, got {self.device!r}")
        for name, option in RUNTIME.items():
            setattr(self, name, option.checked(getattr(self, name)))

    def torch_device(self) -> torch.device:
        return resolve_device(self.device)
