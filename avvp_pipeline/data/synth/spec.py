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

_INT_FIELDS = ("seed", "n_train", "n_val", "n_test", "width", "height", "sample_rate", "max_classes")
_EVENT_FIELDS = ("min_event", "max_event")
_FLOAT_FIELDS = ("fps", "p_audio_only", "p_visual_only", "p_audio_visual")


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


def _as_names(name: str, value: Any) -> tuple[str, ...]:
    """A non-empty tuple of distinct names that fit an LLP CSV cell (no comma, tab or line break)."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(f"SynthSpec.{name} must be a sequence of class names, got {value!r}")
    names = tuple(value)
    if not names:
        raise ValueError(f"SynthSpec.{name} is empty")
    bad = [repr(c) for c in names if not isinstance(c, str) or not c or any(ch in c for ch in ",\t\r\n")]
    if bad:
        raise ValueError(f"SynthSpec.{name}: not usable as class names: {', '.join(bad)}")
    if len(set(names)) != len(names):
        raise ValueError(f"SynthSpec.{name} has duplicates")
    return names


def _as_duration(value: Any) -> int | tuple[int, int]:
    """A clip length in seconds, or a ``(shortest, longest)`` pair; a pair of equal ends is that length."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return _as_int("duration", value)
    ends = tuple(_as_int("duration", v) for v in value)
    if len(ends) != 2 or ends[0] > ends[1]:
        raise ValueError(f"SynthSpec.duration must be seconds or [shortest, longest], got {value!r}")
    return ends[0] if ends[0] == ends[1] else ends


@dataclass(frozen=True)
class SynthSpec:
    """Parameters of a synthetic LLP-like data set (the event model: :mod:`.clip_plan`).

    * ``seed``: everything (names, lengths, events, pixels, samples) follows from it.
    * ``n_train``, ``n_val``, ``n_test``: clips per split.
    * ``vocabulary``: the data set's class list, the names ``classes`` are taken from (default: LLP's 25
      classes; the LLP annotation files hold only those, see :mod:`.annotations`).
    * ``classes``: the classes clips draw from, in signature order (:mod:`.signatures`: class ``i`` of
      ``n`` gets hue ``i/n``); names without commas, tabs or line breaks.
    * ``width``, ``height`` (even, >= 16), ``fps``, ``sample_rate`` (>= 16000): the rendered media.
    * ``duration``: a clip's length in whole seconds, or ``[shortest, longest]``: each clip's length is
      drawn from the seed, uniformly in that range (the LLP files hold 10-s clips only).
    * ``max_classes``: a clip has 1..``min(max_classes, len(classes))`` classes.
    * ``p_audio_only``, ``p_visual_only``, ``p_audio_visual``: relative weights (normalised) of a class's
      modality in a clip.
    * ``min_event``, ``max_event``: an event's length in whole seconds; in a clip shorter than
      ``max_event``, events last at most the clip's length.
    * ``av_aligned``: a heard-and-seen class has one interval in both streams (else two, placed apart).
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
    duration: int | tuple[int, int] = 10
    sample_rate: int = 16000
    max_classes: int = 3
    p_audio_only: float = 0.3
    p_visual_only: float = 0.3
    p_audio_visual: float = 0.4
    min_event: int = 2
    max_event: int = 7
    av_aligned: bool = True
    vocabulary: tuple[str, ...] = CLASSES

    def __post_init__(self) -> None:
        def put(name: str, value: Any) -> None:
            object.__setattr__(self, name, value)

        for name in _INT_FIELDS + _EVENT_FIELDS:
            put(name, _as_int(name, getattr(self, name)))
        for name in _FLOAT_FIELDS:
            put(name, _as_float(name, getattr(self, name)))
        if not isinstance(self.av_aligned, (bool, np.bool_)):
            raise ValueError(f"SynthSpec.av_aligned must be true or false, got {self.av_aligned!r}")
        put("duration", _as_duration(self.duration))
        put("vocabulary", _as_names("vocabulary", self.vocabulary))
        put("classes", _as_names("classes", self.classes))
        self._check_classes()
        self._check_sizes()
        self._check_events()

    def _check_classes(self) -> None:
        unknown = [c for c in self.classes if c not in self.vocabulary]
        if unknown:
            which = "LLP classes" if self.vocabulary == CLASSES else "in SynthSpec.vocabulary"
            raise ValueError(f"SynthSpec.classes: not {which}: {', '.join(unknown)}")

    def _check_sizes(self) -> None:
        if self.seed < 0:
            raise ValueError("SynthSpec.seed must be >= 0")
        for name in ("n_train", "n_val", "n_test"):
            if getattr(self, name) < 0:
                raise ValueError(f"SynthSpec.{name} must be >= 0")
        if self.width < 16 or self.height < 16 or self.width % 2 or self.height % 2:
            raise ValueError("SynthSpec.width and height must be even and >= 16 (yuv420p)")
        if not self.fps > 0:
            raise ValueError("SynthSpec.fps must be > 0")
        if self.shortest < 1:
            raise ValueError("SynthSpec.duration must be >= 1")
        if self.sample_rate < 16000:
            raise ValueError("SynthSpec.sample_rate must be >= 16000 (tones reach 5.2 kHz)")

    def _check_events(self) -> None:
        if self.max_classes < 1:
            raise ValueError("SynthSpec.max_classes must be >= 1")
        probs = (self.p_audio_only, self.p_visual_only, self.p_audio_visual)
        if min(probs) < 0 or sum(probs) <= 0:
            raise ValueError("SynthSpec.p_* must be >= 0 and not all 0")
        if not 1 <= self.min_event <= self.max_event <= self.longest:
            raise ValueError("SynthSpec needs 1 <= min_event <= max_event <= duration")
        if self.min_event > self.shortest:
            raise ValueError(f"SynthSpec.min_event must be <= the shortest duration, {self.shortest} s")

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
        """The spec as a JSON-friendly dict (``from_dict`` reads it back); LLP's vocabulary is left out."""
        d = dataclasses.asdict(self)
        d["classes"] = list(self.classes)
        d["vocabulary"] = list(self.vocabulary)
        if isinstance(self.duration, tuple):
            d["duration"] = list(self.duration)
        if self.vocabulary == CLASSES:
            del d["vocabulary"]
        return d

    @property
    def shortest(self) -> int:
        """The shortest clip length, seconds."""
        return self.duration[0] if isinstance(self.duration, tuple) else self.duration

    @property
    def longest(self) -> int:
        """The longest clip length, seconds."""
        return self.duration[1] if isinstance(self.duration, tuple) else self.duration

    def n_frames(self, seconds: int) -> int:
        """Number of video frames of a clip of ``seconds``."""
        return int(round(seconds * self.fps))

    def n_samples(self, seconds: int) -> int:
        """Number of audio samples of a clip of ``seconds``."""
        return seconds * self.sample_rate

    def split_sizes(self) -> dict[str, int]:
        """Number of clips per split."""
        return {"train": self.n_train, "val": self.n_val, "test": self.n_test}
