"""The samples of a planned clip (:func:`render_audio`): each audible class's tone pattern over low
white noise (the sound of each class: :mod:`.signatures`)."""

from __future__ import annotations

import numpy as np

from avvp_pipeline.data.synth import streams
from avvp_pipeline.data.synth.clip_plan import Clip
from avvp_pipeline.data.synth.signatures import ClassSignature, signatures
from avvp_pipeline.data.synth.spec import SynthSpec

_CHIRP_RATIO = 1.3  # a chirp rises from f0 to 1.3 f0 within each second
_TWO_TONE_RATIO = 1.25
_FADE_S = 0.010
_NOISE_STD = 0.004  # audio background, about -48 dBFS
_PEAK = 0.95


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
    """Mono audio of a clip, ``float32`` array of ``clip.duration * sample_rate`` samples in [-1, 1]."""
    sr, n = spec.sample_rate, spec.n_samples(clip.duration)
    rng = streams.stream(spec.seed, streams.AUDIO, *streams.clip_key(clip.filename))
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
