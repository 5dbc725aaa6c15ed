"""Synthetic LLP-like demo data: real mp4 clips with planted audio and visual events.

``avvp synth`` uses this module to write a small data set in the exact layout of LLP (Look, Listen and
Parse): one ``<11-char id>.mp4`` per clip (H.264 yuv420p video, AAC audio, exactly ``duration`` s) and
the tab-separated annotation files ``AVVP_train.csv``, ``AVVP_val_pd.csv``, ``AVVP_test_pd.csv``,
``AVVP_dataset_full.csv`` (weak, video-level labels), ``AVVP_eval_audio.csv`` and
``AVVP_eval_visual.csv`` (dense per-second labels, val and test only), plus ``synth_spec.json``.

Event model
-----------
Every clip (filename ``<id>_<start>_<end>`` as in LLP) draws 1..``max_classes`` distinct classes.
Each class gets a modality: audio only, visual only or audio-visual (weights ``p_audio_only``,
``p_visual_only``, ``p_audio_visual``). An audio-only class has one audio event, a visual-only class
one visual event, an audio-visual class one of each: the same interval in both streams (heard and
seen together) when ``av_aligned`` (default), else placed independently. An event has a whole
number of seconds as duration (``min_event``..``max_event``) and a whole-second onset, so it covers
the segments ``onset..offset-1`` (segment ``t`` is ``[t, t+1)``). The weak label of a clip is the
union of its classes; the dense rows are its events.

Signatures
----------
Class ``i`` of ``spec.classes`` (``n`` classes) gets (see :func:`signatures`):

* visual: a saturated colour (hue ``i/n``), a shape (disc, square, triangle, ring, cross, bar), a
  motion (horizontal sweep, vertical bounce, circular orbit, pulsing size, diagonal zigzag,
  figure eight), about a third of the frame height, drawn on a mildly noisy dark-grey background;
  it is visible exactly in the frames whose time lies in ``[onset, offset)`` of its visual event.
  Classes visible in the same clip sit in different cells of a grid laid over the frame.
* audio: a base frequency (evenly spaced in mel between 250 and 4000 Hz) and a temporal pattern
  (steady tone, 4 Hz beeps, rising chirp every second, two-tone alternation, 6 Hz amplitude
  modulation, harmonic stack), audible exactly in ``[onset, offset)`` of its audio event with 10 ms
  fades, over low white noise; the mix is scaled down where it would clip.

Everything (names, plan, pixels, samples) is a function of the spec; the mp4 bytes may differ
between ffmpeg versions.
"""

from __future__ import annotations

import colorsys
import concurrent.futures
import dataclasses
import functools
import hashlib
import json
import math
import multiprocessing
import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from avvp_pipeline.data.llp import (
    CLASSES,
    EVAL_AUDIO,
    EVAL_VISUAL,
    FULL_FILE,
    SPLIT_FILES,
    write_dense_rows,
    write_weak_labels,
)
from avvp_pipeline.fileio import write_text

__all__ = [
    "SPLITS",
    "SHAPES",
    "MOTIONS",
    "PATTERNS",
    "SynthSpec",
    "Clip",
    "ClassSignature",
    "signatures",
    "video_filenames",
    "plan",
    "render_frames",
    "render_audio",
    "write_clip",
    "write_annotations",
    "generate",
]

SPLITS: tuple[str, ...] = ("train", "val", "test")
SHAPES: tuple[str, ...] = ("disc", "square", "triangle", "ring", "cross", "bar")
MOTIONS: tuple[str, ...] = ("sweep", "bounce", "orbit", "pulse", "zigzag", "figure8")
PATTERNS: tuple[str, ...] = ("steady", "beeps", "chirp", "two_tone", "am", "harmonics")

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
_ID_LEN = 11
_MIN_FREQ, _MAX_FREQ = 250.0, 4000.0
_CHIRP_RATIO = 1.3  # a chirp rises from f0 to 1.3 f0 within each second
_TWO_TONE_RATIO = 1.25
_FADE_S = 0.010
_NOISE_STD = 0.004  # audio background, about -48 dBFS
_PEAK = 0.95
_BG_GREY = 40
_OBJ_FRAC = 1.0 / 3.0  # object size as a fraction of the frame height
_PULSE_MAX = 1.2  # pulsing scales the object between 0.7 and 1.2 times its size
_NOISE_BANK = 12  # frames of temporal background noise, cycled

# Tags that separate the random streams derived from one seed.
_TAG_NAMES, _TAG_PLAN, _TAG_VIDEO, _TAG_AUDIO = 0x4E41, 0x504C, 0x5649, 0x4155


# --------------------------------------------------------------------------------------- spec


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
    """Parameters of a synthetic LLP-like data set (see the module docstring for the event model).

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


# ------------------------------------------------------------------------------------ signatures


@dataclass(frozen=True)
class ClassSignature:
    """How a class looks and sounds: RGB colour, shape, motion, base frequency (Hz), pattern."""

    name: str
    colour: tuple[int, int, int]
    shape: str
    motion: str
    base_freq: float
    pattern: str


def _mel(f: float) -> float:
    return 2595.0 * math.log10(1.0 + f / 700.0)


def _inv_mel(m: float) -> float:
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def signatures(spec: SynthSpec) -> dict[str, ClassSignature]:
    """The visual and audio signature of every class of ``spec`` (by its index in ``spec.classes``)."""
    n = len(spec.classes)
    lo, hi = _mel(_MIN_FREQ), _mel(_MAX_FREQ)
    out = {}
    for i, name in enumerate(spec.classes):
        r, g, b = colorsys.hsv_to_rgb(i / n, 1.0, 1.0)
        mel = (lo + hi) / 2 if n == 1 else lo + (hi - lo) * i / (n - 1)
        out[name] = ClassSignature(
            name=name,
            colour=(int(round(r * 255)), int(round(g * 255)), int(round(b * 255))),
            shape=SHAPES[i % len(SHAPES)],
            motion=MOTIONS[(i + i // len(SHAPES)) % len(MOTIONS)],
            base_freq=round(_inv_mel(mel), 3),
            pattern=PATTERNS[i % len(PATTERNS)],
        )
    return out


# ------------------------------------------------------------------------------------------ plan


Event = tuple[str, int, int]


@dataclass(frozen=True)
class Clip:
    """One planned clip: LLP filename, split, weak labels and its (class, onset, offset) events."""

    filename: str
    split: str
    labels: tuple[str, ...]
    audio_events: tuple[Event, ...]
    visual_events: tuple[Event, ...]

    @property
    def video_id(self) -> str:
        """The 11-character id, i.e. the stem of the clip's mp4 file."""
        return self.filename[:_ID_LEN]


def _key(filename: str) -> list[int]:
    digest = hashlib.sha256(filename.encode("utf-8")).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def _rng(spec: SynthSpec, tag: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([spec.seed, tag, *key]))


def video_filenames(spec: SynthSpec) -> dict[str, list[str]]:
    """LLP-style filenames ``<11-char id>_<start>_<end>`` per split; cheap, deterministic, unique ids."""
    alphabet = np.array(list(_ID_ALPHABET))
    used: set[str] = set()
    out: dict[str, list[str]] = {}
    for s, split in enumerate(SPLITS):
        rng = _rng(spec, _TAG_NAMES, s)
        names = []
        for _ in range(spec.split_sizes()[split]):
            while True:
                vid = "".join(alphabet[rng.integers(0, len(alphabet), _ID_LEN)])
                if vid not in used:
                    break
            used.add(vid)
            start = int(rng.integers(0, 291))
            names.append(f"{vid}_{start}_{start + spec.duration}")
        out[split] = names
    return out


def _plan_clip(spec: SynthSpec, filename: str, split: str) -> Clip:
    rng = _rng(spec, _TAG_PLAN, *_key(filename))
    k = int(rng.integers(1, min(spec.max_classes, len(spec.classes)) + 1))
    chosen = [spec.classes[i] for i in rng.choice(len(spec.classes), size=k, replace=False)]
    probs = np.array([spec.p_audio_only, spec.p_visual_only, spec.p_audio_visual])
    probs = probs / probs.sum()

    def event(cls: str) -> Event:
        dur = int(rng.integers(spec.min_event, spec.max_event + 1))
        onset = int(rng.integers(0, spec.duration - dur + 1))
        return (cls, onset, onset + dur)

    audio, visual = [], []
    for cls in chosen:
        kind = int(rng.choice(3, p=probs))  # 0 audio only, 1 visual only, 2 audio-visual
        if kind == 2 and spec.av_aligned:  # heard and seen together: one interval in both streams
            ev = event(cls)
            audio.append(ev)
            visual.append(ev)
            continue
        if kind in (0, 2):
            audio.append(event(cls))
        if kind in (1, 2):
            visual.append(event(cls))
    return Clip(filename, split, tuple(chosen), tuple(audio), tuple(visual))


def plan(spec: SynthSpec) -> list[Clip]:
    """All clips of the data set (train, then val, then test), deterministic in ``spec``."""
    names = video_filenames(spec)
    return [_plan_clip(spec, f, split) for split in SPLITS for f in names[split]]


# ------------------------------------------------------------------------------------- rendering


@functools.lru_cache(maxsize=512)
def _sprite(shape: str, size: int) -> np.ndarray:
    """Boolean ``size x size`` mask of a shape."""
    c = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    u, v = c[None, :], c[:, None]  # u: x to the right, v: y downwards
    r2 = u * u + v * v
    if shape == "disc":
        m = r2 <= 1.0
    elif shape == "square":
        m = (np.abs(u) <= 0.85) & (np.abs(v) <= 0.85)
    elif shape == "triangle":
        m = (v >= -0.95) & (v <= 0.85) & (np.abs(u) <= (v + 0.95) / 1.8)
    elif shape == "ring":
        m = (r2 <= 1.0) & (r2 >= 0.5**2)
    elif shape == "cross":
        m = (np.abs(u) <= 0.3) | (np.abs(v) <= 0.3)
    elif shape == "bar":
        m = (np.abs(v) <= 0.4) & (np.abs(u) <= 1.0)
    else:  # pragma: no cover - SHAPES is closed
        raise ValueError(f"unknown shape {shape!r}")
    return np.ascontiguousarray(np.broadcast_to(m, (size, size)))


def _tri(x: np.ndarray) -> np.ndarray:
    """Triangle wave with period 1 in [-1, 1]."""
    return 4.0 * np.abs(x - np.floor(x + 0.5)) - 1.0


def _trajectory(
    motion: str, t: np.ndarray, phase: float, cx: float, cy: float, ax: float, ay: float, size: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre x, centre y and size per frame time ``t``."""
    one = np.ones_like(t)
    tau = 2.0 * np.pi
    if motion == "sweep":
        return cx + ax * np.sin(tau * 0.4 * t + phase), cy * one, size * one
    if motion == "bounce":
        return cx * one, cy + ay * (1.0 - 2.0 * np.abs(np.sin(np.pi * 1.2 * t + phase))), size * one
    if motion == "orbit":
        a = tau * 0.5 * t + phase
        return cx + ax * np.cos(a), cy + ay * np.sin(a), size * one
    if motion == "pulse":
        scale = 0.95 + 0.25 * np.sin(tau * 1.5 * t + phase)
        return cx * one, cy * one, size * scale
    if motion == "zigzag":
        w = _tri(0.5 * t + phase / tau)
        return cx + ax * w, cy + ay * w, size * one
    if motion == "figure8":
        a = tau * 0.35 * t + phase
        return cx + ax * np.sin(a), cy + ay * np.sin(2.0 * a), size * one
    raise ValueError(f"unknown motion {motion!r}")  # pragma: no cover


def _frame_range(spec: SynthSpec, onset: float, offset: float) -> np.ndarray:
    """Indices of the frames whose time ``f / fps`` lies in ``[onset, offset)``."""
    first = max(0, math.ceil(onset * spec.fps - 1e-6))
    stop = min(spec.n_frames, math.ceil(offset * spec.fps - 1e-6))
    return np.arange(first, stop)


def render_frames(spec: SynthSpec, clip: Clip) -> np.ndarray:
    """RGB frames of a clip, ``uint8`` array of shape ``(n_frames, height, width, 3)``."""
    W, H, n = spec.width, spec.height, spec.n_frames
    rng = _rng(spec, _TAG_VIDEO, *_key(clip.filename))
    # Background: dark grey with a static noise texture plus a cycled bank of temporal noise.
    base = _BG_GREY + np.round(rng.normal(0.0, 3.0, (H, W))).astype(np.int16)
    bank = rng.integers(-2, 3, (_NOISE_BANK, H, W), dtype=np.int16)
    grey = np.clip(base[None] + bank, 0, 255).astype(np.uint8)  # (bank, H, W)
    frames = np.empty((n, H, W, 3), np.uint8)
    for b in range(min(_NOISE_BANK, n)):
        frames[b::_NOISE_BANK] = grey[b, :, :, None]

    vis_classes = list(dict.fromkeys(c for c, _, _ in clip.visual_events))
    if not vis_classes:
        return frames
    sigs = signatures(spec)
    k = len(vis_classes)
    rows = max(1, int(round(math.sqrt(k * H / W))))
    cols = math.ceil(k / rows)
    cells = rng.permutation(rows * cols)[:k]
    cw, ch = W / cols, H / rows
    base_size = max(4, min(int(round(H * _OBJ_FRAC)), int(0.9 * min(cw, ch))))
    t_all = np.arange(n) / spec.fps
    for cls, cell in zip(vis_classes, cells):
        sig = sigs[cls]
        r, c = divmod(int(cell), cols)
        cx, cy = (c + 0.5) * cw, (r + 0.5) * ch
        reach = base_size * (_PULSE_MAX if sig.motion == "pulse" else 1.0)
        ax, ay = max(0.0, (cw - reach) / 2.0), max(0.0, (ch - reach) / 2.0)
        phase = float(rng.uniform(0.0, 2.0 * np.pi))
        xs, ys, sizes = _trajectory(sig.motion, t_all, phase, cx, cy, ax, ay, base_size)
        colour = np.array(sig.colour, np.uint8)
        for _, onset, offset in (e for e in clip.visual_events if e[0] == cls):
            for f in _frame_range(spec, onset, offset):
                size = max(2, int(round(sizes[f])))
                mask = _sprite(sig.shape, size)
                x0 = int(round(xs[f] - size / 2.0))
                y0 = int(round(ys[f] - size / 2.0))
                # clip the sprite to the frame
                mx0, my0 = max(0, -x0), max(0, -y0)
                x1, y1 = min(W, x0 + size), min(H, y0 + size)
                x0, y0 = max(0, x0), max(0, y0)
                if x1 <= x0 or y1 <= y0:
                    continue
                m = mask[my0 : my0 + (y1 - y0), mx0 : mx0 + (x1 - x0)]
                frames[f, y0:y1, x0:x1][m] = colour
    return frames


def _smooth_gate(x: np.ndarray, period: float, duty: float, ramp: float) -> np.ndarray:
    """A 0/1 square wave of ``period`` s (on for ``duty`` of it) with linear ramps of ``ramp`` s."""
    ph = np.mod(x, period)
    on = period * duty
    return np.clip(np.minimum(ph, on - ph) / ramp, 0.0, 1.0)


def _tone(sig: ClassSignature, t: np.ndarray, sr: int, phase: float) -> np.ndarray:
    """The class's sound at absolute times ``t`` (seconds), roughly unit peak."""
    f0, tau = sig.base_freq, 2.0 * np.pi
    nyq = 0.45 * sr
    if sig.pattern == "steady":
        return np.sin(tau * f0 * t + phase)
    if sig.pattern == "beeps":  # 4 Hz: 125 ms on, 125 ms off
        return np.sin(tau * f0 * t + phase) * _smooth_gate(t, 0.25, 0.5, 0.005)
    if sig.pattern == "chirp":  # f0 -> 1.3 f0 within every second
        tt = np.mod(t, 1.0)
        k = (_CHIRP_RATIO - 1.0) * f0
        gate = np.clip(np.minimum(tt, 1.0 - tt) / 0.005, 0.0, 1.0)
        return np.sin(tau * (f0 * tt + 0.5 * k * tt * tt) + phase) * gate
    if sig.pattern == "two_tone":  # f0 and 1.25 f0, 250 ms each
        g = _smooth_gate(t, 0.5, 0.5, 0.005)
        return g * np.sin(tau * f0 * t + phase) + (1.0 - g) * np.sin(tau * f0 * _TWO_TONE_RATIO * t + phase)
    if sig.pattern == "am":  # 6 Hz amplitude modulation
        return np.sin(tau * f0 * t + phase) * (0.55 + 0.45 * np.sin(tau * 6.0 * t))
    if sig.pattern == "harmonics":
        out = np.zeros_like(t)
        norm = 0.0
        for h, a in ((1, 1.0), (2, 0.5), (3, 0.33), (4, 0.25)):
            if h * f0 < nyq:
                out += a * np.sin(tau * h * f0 * t + h * phase)
                norm += a
        return out / norm
    raise ValueError(f"unknown pattern {sig.pattern!r}")  # pragma: no cover


def render_audio(spec: SynthSpec, clip: Clip) -> np.ndarray:
    """Mono audio of a clip, ``float32`` array of ``duration * sample_rate`` samples in [-1, 1]."""
    sr, n = spec.sample_rate, spec.n_samples
    rng = _rng(spec, _TAG_AUDIO, *_key(clip.filename))
    out = rng.normal(0.0, _NOISE_STD, n)
    sigs = signatures(spec)
    fade = max(1, int(round(_FADE_S * sr)))
    for cls, onset, offset in clip.audio_events:
        s0, s1 = int(onset * sr), min(n, int(offset * sr))
        if s1 <= s0:
            continue
        gain = float(rng.uniform(0.25, 0.4))
        phase = float(rng.uniform(0.0, 2.0 * np.pi))
        t = np.arange(s0, s1) / sr
        x = _tone(sigs[cls], t, sr, phase) * gain
        f = min(fade, (s1 - s0) // 2)
        ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(f) + 0.5) / f)
        x[:f] *= ramp
        x[len(x) - f :] *= ramp[::-1]
        out[s0:s1] += x
    peak = float(np.max(np.abs(out)))
    if peak > _PEAK:
        out *= _PEAK / peak
    return out.astype(np.float32)


# -------------------------------------------------------------------------------------- encoding


def _rate(fps: float) -> str:
    fr = Fraction(fps).limit_denominator(100000)
    return str(fr.numerator) if fr.denominator == 1 else f"{fr.numerator}/{fr.denominator}"


def write_clip(spec: SynthSpec, clip: Clip, path: str | os.PathLike[str]) -> None:
    """Render ``clip`` and encode it to the mp4 file ``path`` (H.264 yuv420p + AAC), atomically.

    The file is written under a temporary name in the same folder and renamed when complete;
    an ffmpeg failure raises RuntimeError naming the clip and quoting ffmpeg's stderr.
    """
    from avvp_pipeline.media.ffmpeg_bin import ffmpeg_exe

    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_video = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp_audio = path.with_name(f".{path.name}.{os.getpid()}.f32")
    frames = render_frames(spec, clip)
    audio = render_audio(spec, clip)
    cmd = [
        ffmpeg_exe(),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{spec.width}x{spec.height}",
        "-r",
        _rate(spec.fps),
        "-i",
        "pipe:0",
        "-f",
        "f32le",
        "-ar",
        str(spec.sample_rate),
        "-ac",
        "1",
        "-i",
        str(tmp_audio),
        "-map",
        "0:v:0",
        "-map",
        "1:a:0",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-g",
        "48",
        "-c:a",
        "aac",
        "-aac_coder",
        "fast",
        "-b:a",
        "96k",
        "-ar",
        str(spec.sample_rate),
        "-shortest",
        "-t",
        str(spec.duration),
        "-threads",
        "1",
        "-f",
        "mp4",
        str(tmp_video),
    ]
    try:
        audio.astype("<f4").tofile(tmp_audio)
        try:
            proc = subprocess.run(
                cmd, input=frames.tobytes(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
            )
        except OSError as exc:
            raise RuntimeError(f"synth: cannot run ffmpeg for clip {clip.filename}: {exc}") from exc
        if proc.returncode != 0 or not tmp_video.is_file():
            tail = proc.stderr.decode("utf-8", "replace").strip()[-2000:]
            raise RuntimeError(f"synth: ffmpeg failed on clip {clip.filename} (exit {proc.returncode}): {tail}")
        os.replace(tmp_video, path)
    finally:
        for p in (tmp_audio, tmp_video):
            try:
                p.unlink()
            except FileNotFoundError:
                pass


# ----------------------------------------------------------------------------------- annotations


def write_annotations(spec: SynthSpec, clips: list[Clip], annotations_dir: str | os.PathLike[str]) -> None:
    """Write the LLP annotation CSVs for ``clips`` (through :mod:`avvp_pipeline.data.llp`) and
    ``synth_spec.json`` to ``annotations_dir``."""
    out = Path(annotations_dir)
    out.mkdir(parents=True, exist_ok=True)
    by_split = {s: [c for c in clips if c.split == s] for s in SPLITS}

    def weak(cs: list[Clip]) -> list[tuple[str, tuple[str, ...]]]:
        return [(c.filename, c.labels) for c in cs]

    def dense(attr: str) -> list[tuple[str, int, int, str]]:
        # LLP lists test clips first
        return [
            (c.filename, on, off, cls) for c in by_split["test"] + by_split["val"] for cls, on, off in getattr(c, attr)
        ]

    for split, name in SPLIT_FILES.items():
        write_weak_labels(out / name, weak(by_split[split]))
    write_weak_labels(out / FULL_FILE, weak(by_split["train"] + by_split["val"] + by_split["test"]))
    write_dense_rows(out / EVAL_AUDIO, dense("audio_events"))
    write_dense_rows(out / EVAL_VISUAL, dense("visual_events"))
    write_text(out / "synth_spec.json", json.dumps(spec.to_dict(), indent=2) + "\n")


# -------------------------------------------------------------------------------------- generate


def _render_job(spec: SynthSpec, clip: Clip, videos_dir: str) -> str:
    write_clip(spec, clip, Path(videos_dir) / f"{clip.video_id}.mp4")
    return clip.filename


def generate(
    spec: SynthSpec,
    videos_dir: str | os.PathLike[str],
    annotations_dir: str | os.PathLike[str],
    *,
    jobs: int = 1,
    progress: bool = True,
) -> None:
    """Render every clip of ``plan(spec)`` to ``videos_dir/<id>.mp4`` and write the annotations.

    Clips are rendered by a pool of ``jobs`` processes (in-process when ``jobs == 1``) with a
    tqdm progress bar when ``progress``; the annotation files are written once all clips exist.
    Workers are started with ``spawn`` (safe when torch is loaded), so a script calling this with
    ``jobs > 1`` needs the usual ``if __name__ == "__main__":`` guard.
    """
    from tqdm import tqdm

    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    clips = plan(spec)
    vdir = Path(videos_dir).resolve()
    vdir.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(clips), desc="synth", unit="clip", disable=not progress)
    try:
        if jobs == 1 or len(clips) <= 1:
            for clip in clips:
                _render_job(spec, clip, str(vdir))
                bar.update(1)
        else:
            ctx = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                futures = [pool.submit(_render_job, spec, c, str(vdir)) for c in clips]
                try:
                    for fut in concurrent.futures.as_completed(futures):
                        fut.result()
                        bar.update(1)
                except BaseException:
                    for fut in futures:
                        fut.cancel()
                    raise
    finally:
        bar.close()
    write_annotations(spec, clips, annotations_dir)
