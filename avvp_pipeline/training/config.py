"""The options of a training run: :class:`TrainConfig` (recorded: they make the run) and :class:`RunOptions`
(speed only: never recorded), each checked against its allowed values."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from ..device import resolve_device
from ..evaluation.metrics import METRIC_KEYS
from ..models.rows import DEFAULTS, GATES

__all__ = ["TrainConfig", "RunOptions"]

# option: (allowed range in words, test); every other int/float option may take any value
_RANGES = {
    "epochs": (">= 1", lambda v: v >= 1),
    "batch_size": (">= 1", lambda v: v >= 1),
    "lr": ("> 0", lambda v: v > 0),
    "step_size": (">= 1", lambda v: v >= 1),
    "gamma": ("> 0", lambda v: v > 0),
    "seed": ("in [0, 2**32 - 1)", lambda v: 0 <= v < 2**32 - 1),  # numpy's seed range (cfg.seed + 1 is used too)
    "dropout": ("in [0, 1)", lambda v: 0 <= v < 1),
    "num_layers": (">= 1", lambda v: v >= 1),
    "audio_smoothing": ("in (0, 1]", lambda v: 0 < v <= 1),
    "visual_smoothing": ("in (0, 1]", lambda v: 0 < v <= 1),
    "before_audio_smoothing": ("in (0, 1]", lambda v: 0 < v <= 1),
    "before_visual_smoothing": ("in (0, 1]", lambda v: 0 < v <= 1),
    "eval_batch_size": (">= 1", lambda v: v >= 1),
    "occ_dim": (">= 1", lambda v: v >= 1),
    "occ_dropout": ("in [0, 1)", lambda v: 0 <= v < 1),
    "init_epoch": (">= 0", lambda v: v >= 0),
    "cms_weight": (">= 0", lambda v: v >= 0),
    "temperature": ("> 0", lambda v: v > 0),
    "early_stop": (">= 0", lambda v: v >= 0),
    "hidden": (">= 1", lambda v: v >= 1),
    "heads": (">= 1", lambda v: v >= 1),
    "ffn": (">= 1", lambda v: v >= 1),
    "weight_decay": (">= 0", lambda v: v >= 0),
    "beta1": ("in [0, 1)", lambda v: 0 <= v < 1),
    "beta2": ("in [0, 1)", lambda v: 0 <= v < 1),
    "warmup_epochs": (">= 0", lambda v: v >= 0),
    "min_lr": (">= 0", lambda v: v >= 0),
    "grad_clip": (">= 0 (0: off)", lambda v: v >= 0),
}
_CHOICES = {
    "stacking": ("official", "sequential", "valor"),  # models/han.py's HANEncoder
    "select": ("auto", "best", "last"),
    "select_on": ("val", "test"),
    "select_metric": METRIC_KEYS,
    "gate": GATES,
    "feature_norm": ("none", "standardize"),
    "precision": ("fp32", "bf16"),
    "optimizer": ("adam", "adamw"),
    "schedule": ("step", "warmup_cosine"),
}


@dataclass
class TrainConfig:
    """The recorded training options (config.yaml ``train``): they enter the run hash and ``model.pt``.
    Defaults are :data:`models.rows.DEFAULTS` (HAN's published recipe)."""

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
            setattr(self, f.name, _checked_option(f.name, f.type, getattr(self, f.name)))

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
    eval_batch_size: int = 256  # videos per forward pass when scoring the selection split
    cuda_graphs: bool = False  # replay each full batch's training step as one CUDA graph (training/graphed.py)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_dict(cls, d: dict) -> RunOptions:
        """The speed options in ``d`` (other keys are ignored), checked like the recorded ones."""
        return cls(**{k: v for k, v in d.items() if k in cls.names()})

    def __post_init__(self):
        for f in fields(self):
            setattr(self, f.name, _checked_option(f.name, f.type, getattr(self, f.name)))

    def torch_device(self) -> torch.device:
        return resolve_device(self.device)


def _checked_option(name: str, kind: str, value):
    """``value`` as the type ``kind`` names (whole floats become ints, ints floats); a ValueError naming
    the option, the value and what is allowed otherwise."""
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"train option {name} must be true or false, got {value!r}")
        return bool(value)
    if kind == "int":
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.integer, np.floating))
            or not float(value).is_integer()
        ):
            raise ValueError(f"train option {name} must be an integer, got {value!r}")
        value = int(value)
    elif kind == "float":
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.integer, np.floating))
            or not np.isfinite(value)
        ):
            raise ValueError(f"train option {name} must be a finite number, got {value!r}")
        value = float(value)
    elif not isinstance(value, str):
        raise ValueError(f"train option {name} must be a string, got {value!r}")
    if name in _RANGES and not _RANGES[name][1](value):
        raise ValueError(f"train option {name} must be {_RANGES[name][0]}, got {value!r}")
    if name in _CHOICES and value not in _CHOICES[name]:
        raise ValueError(f"train option {name} must be one of {', '.join(_CHOICES[name])}; got {value!r}")
    return value
