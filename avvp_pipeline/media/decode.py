"""Decode video frames at a fixed rate with decord.

Timestamp rule: output frame k (k = 0 .. num_frames-1) is the source frame on screen at
``t_k = k / fps``, i.e. the last frame whose presentation timestamp is <= t_k (the first
frame for t_k before it). For a 10-s clip at 8 fps that is 80 frames spanning [0, 10) s,
as ``ffmpeg -r 8`` would produce. Clips shorter than ``num_frames / fps`` repeat their last
frame; longer clips use their first ``num_frames / fps`` seconds.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


class MediaError(RuntimeError):
    """A media file that cannot be decoded; the message names the file and the problem."""


def frame_indices(timestamps: np.ndarray, fps: float, num_frames: int) -> np.ndarray:
    """Indices into frames with start ``timestamps`` (seconds) for output times ``k / fps``."""
    targets = np.arange(num_frames) / fps
    idx = np.searchsorted(timestamps, targets + 1e-6, side="right") - 1
    return np.clip(idx, 0, len(timestamps) - 1)


def sample_frames(path: str | Path, fps: float = 8.0, num_frames: int = 80) -> np.ndarray:
    """Return ``num_frames`` RGB frames ``(num_frames, H, W, 3)`` uint8 sampled at ``fps``."""
    import decord

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file (0 bytes)")
    try:
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
        n = len(reader)
        if n == 0:
            raise MediaError(f"{path}: no video frames")
        starts = reader.get_frame_timestamp(np.arange(n))[:, 0]
        idx = frame_indices(starts, fps, num_frames)
        unique, inverse = np.unique(idx, return_inverse=True)
        frames = reader.get_batch(unique.tolist()).asnumpy()
    except MediaError:
        raise
    except Exception as exc:  # decord raises bare DECORDError / RuntimeError
        raise MediaError(f"{path}: cannot decode video ({type(exc).__name__}: {exc})") from exc
    return np.ascontiguousarray(frames[inverse])
