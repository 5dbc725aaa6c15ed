"""Decode jobs run in worker processes: ``(path, result, None)`` or ``(path, None, reason)``.

Kept free of torch so that spawning a decoder process imports only numpy and decord.
"""
from __future__ import annotations

from .audio import load_audio
from .decode import sample_frames
from .probe import MediaError


def _guard(path: str, fn, *args):
    try:
        return path, fn(path, *args), None
    except MediaError as exc:
        return path, None, str(exc)
    except Exception as exc:  # keep the shard alive whatever one file does
        return path, None, f"{path}: {type(exc).__name__}: {exc}"


def decode_visual(job: tuple[str, float, int]):
    """``(path, fps, num_frames)`` -> frames ``(num_frames, H, W, 3)`` uint8."""
    path, fps, num_frames = job
    return _guard(path, sample_frames, fps, num_frames)


def decode_audio(job: tuple[str, int, float]):
    """``(path, sample_rate, duration)`` -> ``(samples, has_audio)``."""
    path, sample_rate, duration = job
    return _guard(path, load_audio, sample_rate, duration)
