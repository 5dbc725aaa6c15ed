"""The pixels of a planned clip (:func:`render_frames`): each visible class's sprite moving in its own
cell over a mildly noisy dark-grey background (the look of each class: :mod:`.signatures`)."""

from __future__ import annotations

import functools
import math

import numpy as np

from avvp_pipeline.data.synth import streams
from avvp_pipeline.data.synth.clip_plan import Clip
from avvp_pipeline.data.synth.signatures import signatures
from avvp_pipeline.data.synth.spec import SynthSpec

_BG_GREY = 40
_OBJ_FRAC = 1.0 / 3.0  # object size as a fraction of the frame height
_PULSE_MAX = 1.2  # pulsing scales the object between 0.7 and 1.2 times its size
_NOISE_BANK = 12  # frames of temporal background noise, cycled


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


def _frame_range(fps: float, n: int, onset: float, offset: float) -> np.ndarray:
    """Indices (below ``n``) of the frames whose time ``f / fps`` lies in ``[onset, offset)``."""
    first = max(0, math.ceil(onset * fps - 1e-6))
    stop = min(n, math.ceil(offset * fps - 1e-6))
    return np.arange(first, stop)


def render_frames(spec: SynthSpec, clip: Clip) -> np.ndarray:
    """RGB frames of a clip, ``uint8`` array of shape ``(n_frames, height, width, 3)``, ``n_frames`` those of
    ``clip.duration`` at ``spec.fps``."""
    W, H, n = spec.width, spec.height, spec.n_frames(clip.duration)
    rng = streams.stream(spec.seed, streams.VIDEO, *streams.clip_key(clip.filename))
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
            for f in _frame_range(spec.fps, n, onset, offset):
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
