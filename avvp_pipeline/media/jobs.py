"""Decode jobs run in worker processes: ``(path, result, None)`` or ``(path, None, reason)``.

Kept free of torch so that spawning a decoder process imports only numpy and decord.
"""

from __future__ import annotations

import numpy as np

from .audio import load_audio
from .decode import iter_frames
from .frame_ring import Slot, deliver
from .probe import MediaError, probe, video_segments


def _guard(path: str, fn, *args):
    try:
        return path, fn(path, *args), None
    except MediaError as exc:
        return path, None, str(exc)
    except Exception as exc:  # keep the shard alive whatever one file does
        return path, None, f"{path}: {type(exc).__name__}: {exc}"


def _frames(path: str, fps: float, num_frames: int | None, slot: Slot | None):
    info = None
    if num_frames is None:  # the whole video: fps frames for each of its segments
        info = probe(path)
        num_frames = video_segments(path, info) * round(fps)
    return deliver(iter_frames(path, fps, num_frames, info=info), num_frames, slot)


def decode_visual(job: tuple):
    """``(path, fps, num_frames[, slot])`` -> frames ``(num_frames, H, W, 3)`` uint8, or, given a
    shared-memory :class:`~.frame_ring.Slot` they fit in, an ``InSlot`` saying they were written there.
    ``num_frames`` None: the whole video, ``fps`` frames per one-second segment (:func:`~.probe.video_segments`)."""
    path, fps, num_frames, *slot = job
    return _guard(path, _frames, fps, num_frames, slot[0] if slot else None)


def _audio(path: str, sample_rate: int, duration: float | None):
    if duration is not None:
        return load_audio(path, sample_rate, duration)
    info = probe(path, need_video=False)  # the whole soundtrack, as many seconds as the video has segments
    return load_audio(path, sample_rate, float(video_segments(path, info)), info=info)


def decode_audio(job: tuple[str, int, float | None]):
    """``(path, sample_rate, duration)`` -> ``(samples, has_audio)``; ``duration`` None: the whole video's
    segments (:func:`~.probe.video_segments`)."""
    path, sample_rate, duration = job
    return _guard(path, _audio, sample_rate, duration)


def _teacher_inputs(path: str, fps: float, num_frames: int, keep: tuple[int, ...], sample_rate: int, duration: float):
    wanted = set(keep)
    frames = {i: f for i, f in enumerate(iter_frames(path, fps, num_frames)) if i in wanted}
    samples, has_audio = load_audio(path, sample_rate, duration)
    return np.stack([frames[i] for i in keep]), samples, has_audio


def decode_teacher_inputs(job: tuple):
    """``(path, fps, num_frames, keep, sample_rate, duration)`` -> ``(frames, samples, has_audio)``: the frames
    at the indices ``keep`` of the ``num_frames`` sampled at ``fps`` (``(len(keep), H, W, 3)`` uint8, repeats
    allowed) and the soundtrack (mono float32 at ``sample_rate``, ``duration`` seconds)."""
    path, fps, num_frames, keep, sample_rate, duration = job
    return _guard(path, _teacher_inputs, fps, num_frames, tuple(keep), sample_rate, duration)
