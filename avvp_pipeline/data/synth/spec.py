"""The parameters of a synthetic set (:class:`SynthSpec`) and their checks."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from avvp_pipeline.data.llp import CLASSES

SPLITS: tuple[str, ...] = ("train", "val", "test")


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"SynthSpec.{name} must be an integer, got {value!r}")
    if isinstance(value, (float, np.floating)) and not float(value).is_integer():
        raise ValueError(f"SynthSpec.{name} must be a whole number, got {value!r}")
    return int(value)


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"SynthSpec.{name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"SynthSpec.{name} must be finite, got {value!r}")
    return value


@dataclass(frozen=True)
class SynthSpec:
    """Parameters of a synthetic LLP-like data set (the event model: :mod:`.clip_plan`).

    ``p_audio_only``, ``p_visual_only`` and ``p_audio_visual`` are relative weights (normalised);
    a clip has 1..``min(max_classes, len(classes))`` classes.
    """

    seed: int = 0
    n_train: int = 160
    n_val: int = 32
    n_test: int = 32
    classes: tuple[str, ...] = (
        "Speech",
        "Dog",
        "Car",
        "Violin_fiddle",
        "Chainsaw",
        "Telephone_bell_ringing",
    )
    width: int = 160
    height: int = 120
    fps: float = 24.0
    duration: int = 10
    sample_rate: int = 16000
    max_classes: int = 3
    p_audio_only: float = 0.3
    p_visual_only: float = 0.3
    p_audio_visual: float = 0.4
    min_event: int = 2
    max_event: int = 7
    av_aligned: bool = True

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        for name in (
            "seed",
            "n_train",
            "n_val",
            "n_test",
            "width",
            "height",
            "duration",
            "sample_rate",
            "max_classes",
            "min_event",
            "max_event",
        ):
            put(name, _as_int(name, getattr(self, name)))
        for name in ("fps", "p_audio_only", "p_visual_only", "p_audio_visual"):
            put(name, _as_float(name, getattr(self, name)))
        if not isinstance(self.av_aligned, (bool, np.bool_)):
            raise ValueError(f"SynthSpec.av_aligned must be true or false, got {self.av_aligned!r}")

        classes = self.classes
        if isinstance(classes, str) or not isinstance(classes, Iterable):
            raise ValueError(f"SynthSpec.classes must be a sequence of class names, got {classes!r}")
        classes = tuple(classes)
        put("classes", classes)
        if not classes:
            raise ValueError("SynthSpec.classes is empty")
        known = tuple(CLASSES)
        unknown = [c for c in classes if c not in known]
        if unknown:
            raise ValueError(f"SynthSpec.classes: not LLP classes: {', '.join(map(str, unknown))}")
        if len(set(classes)) != len(classes):
            raise ValueError("SynthSpec.classes has duplicates")

        if self.seed < 0:
            raise ValueError("SynthSpec.seed must be >= 0")
        for name in ("n_train", "n_val", "n_test"):
            if getattr(self, name) < 0:
                raise ValueError(f"SynthSpec.{name} must be >= 0")
        if self.width < 16 or self.height < 16 or self.width % 2 or self.height % 2:
            raise ValueError("SynthSpec.width and height must be even and >= 16 (yuv420p)")
        if not self.fps > 0:
            raise ValueError("SynthSpec.fps must be > 0")
        if self.duration < 1:
            raise ValueError("SynthSpec.duration must be >= 1")
        if self.sample_rate < 16000:
            raise ValueError("SynthSpec.sample_rate must be >= 16000 (tones reach 5.2 kHz)")
        if self.max_classes < 1:
            raise ValueError("SynthSpec.max_classes must be >= 1")
        probs = (self.p_audio_only, self.p_visual_only, self.p_audio_visual)
        if min(probs) < 0 or sum(probs) <= 0:
            raise ValueError("SynthSpec.p_* must be >= 0 and not all 0")
        if not 1 <= self.min_event <= self.max_event <= self.duration:
            raise ValueError("SynthSpec needs 1 <= min_event <= max_event <= duration")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SynthSpec:
        """Build a spec from a mapping of field names; unknown keys raise ValueError naming them."""
        if not isinstance(d, Mapping):
            raise ValueError(f"SynthSpec.from_dict needs a mapping, got {type(d).__name__}")
        allowed = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(str(k) for k in d if k not in allowed)
        if unknown:
            raise ValueError(f"unknown SynthSpec keys: {', '.join(unknown)} (allowed: {', '.join(allowed)})")
        return cls(**dict(d))

    def to_dict(self) -> dict[str, Any]:
        """The spec as a JSON-friendly dict (``from_dict`` reads it back)."""
        d = dataclasses.asdict(self)
        d["classes"] = list(self.classes)
        return d

    @property
    def n_frames(self) -> int:
        """Number of video frames of a clip."""
        return int(round(self.duration * self.fps))

    @property
    def n_samples(self) -> int:
        """Number of audio samples of a clip."""
        return self.duration * self.sample_rate

    def split_sizes(self) -> dict[str, int]:
        """Number of clips per split."""
        return {"train": self.n_train, "val": self.n_val, "test": self.n_test}
