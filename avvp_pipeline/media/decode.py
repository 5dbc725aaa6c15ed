"""Decode video frames at a fixed rate with decord, without seeking.

Timestamp rule: output frame k (k = 0 .. num_frames-1) is the source frame on screen at
``t_k = t_0 + k / fps``, where ``t_0`` is the presentation time of the first displayed frame:
the last frame whose presentation timestamp is <= ``t_k`` (pts from the container, so variable
frame rates are handled). A 10-s clip at 8 fps gives 80 frames spanning [0, 10) s, like the
recipe's ``ffmpeg -r 8`` (which takes the frame nearest to each tick rather than the one on
screen, so the two can differ by one source frame). Clips shorter than ``num_frames / fps`` repeat their last frame; longer
clips use their first ``num_frames / fps`` seconds.

Why no seeking: decord's random access returns wrong frames on some files. On a clip cut with
``ffmpeg -ss ... -c copy`` (an MP4 edit list whose first packets have negative timestamps),
decord's frame table still lists the pre-roll packets while its decoder drops them, so frame i
of ``get_batch`` is really frame i + (pre-roll count), and seeks land elsewhere again. Frames
are therefore decoded strictly in order from the start, and matched to the timestamps of the
frames that are actually displayed (pts >= 0). ``tests/test_decode_accuracy.py`` checks this
against ffmpeg's own decode on frame-coded clips.

Rotation metadata (phone videos) is applied as ffmpeg would (decord does it; the tests check
the orientation against ffmpeg's). Frames whose shorter side exceeds ``max_short_side`` are
downscaled by the decoder (aspect kept) so a 4K clip does not need gigabytes of memory; LLP's
clips (at most 480 p) are never affected by the default. Rotated clips are decoded at native
size (decord's resize mishandles them).
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from .probe import MediaError, probe

__all__ = ["MediaError", "frame_indices", "iter_frames", "sample_frames"]

CHUNK = 32  # frames decoded per call while walking through a file


def frame_indices(timestamps: np.ndarray, fps: float, num_frames: int) -> np.ndarray:
    """Indices into frames with presentation ``timestamps`` (seconds, ascending) for times ``t_0 + k / fps``."""
    targets = timestamps[0] + np.arange(num_frames) / fps
    idx = np.searchsorted(timestamps, targets + 1e-6, side="right") - 1
    return np.clip(idx, 0, len(timestamps) - 1)


def _decode_size(width: int, height: int, max_short_side: int | None) -> tuple[int, int]:
    """(width, height) to ask decord for: (-1, -1), i.e. native, unless the shorter side is too large."""
    if max_short_side is None or min(width, height) <= max_short_side:
        return -1, -1
    scale = max_short_side / min(width, height)
    return int(round(width * scale / 2) * 2), int(round(height * scale / 2) * 2)


def iter_frames(path: str | Path, fps: float = 8.0, num_frames: int = 80,
                max_short_side: int | None = 720) -> Iterator[np.ndarray]:
    """Yield the frames of :func:`sample_frames` one by one as decoding reaches them, so a long video
    never has to be held in memory whole (one chunk of decoded frames at a time)."""
    import decord

    path = Path(path)
    info = probe(path)
    width, height, rotation = info.width, info.height, info.rotation
    try:
        # decord applies rotation metadata itself, but its resize path mishandles rotated
        # streams: rotated clips are decoded at native size
        width, height = (-1, -1) if rotation else _decode_size(width, height, max_short_side)
        reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1, width=width, height=height)
        n = len(reader)
        if n == 0:
            raise MediaError(f"{path}: no video frames")
        pts = reader.get_frame_timestamp(np.arange(n))[:, 0]
        shown = np.sort(pts[pts >= -1e-6])  # pre-roll packets of an edit list are never displayed
        if shown.size == 0:
            raise MediaError(f"{path}: no displayable video frames")
        idx = frame_indices(shown, fps, num_frames)  # ascending
        k = 0
        for start in range(0, int(idx[-1]) + 1, CHUNK):  # every chunk, in order: never a seek
            stop = min(start + CHUNK, int(idx[-1]) + 1)
            chunk = reader.get_batch(list(range(start, stop))).asnumpy()
            while k < num_frames and idx[k] < stop:
                yield chunk[idx[k] - start].copy()  # a view would keep the whole chunk alive
                k += 1
    except MediaError:
        raise
    except Exception as exc:  # decord raises bare DECORDError / RuntimeError
        raise MediaError(f"{path}: cannot decode video ({type(exc).__name__}: {exc})") from exc


def sample_frames(path: str | Path, fps: float = 8.0, num_frames: int = 80,
                  max_short_side: int | None = 720) -> np.ndarray:
    """Return ``num_frames`` RGB frames ``(num_frames, H, W, 3)`` uint8 sampled at ``fps`` (see module doc)."""
    return np.stack(list(iter_frames(path, fps, num_frames, max_short_side)))
