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

Time limit: decoding stops with MediaError once the time spent inside decord exceeds
:func:`frames_timeout` (time the caller spends between frames does not count). decord runs
in-process, so the limit is checked between calls: a single native call that never returns
cannot be interrupted here, which is why feature extraction with decoder workers also stops a
job after its pool timeout.
"""
from __future__ import annotations

import logging
import re
import time
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from .probe import DAMAGED, MediaError, probe

__all__ = ["MediaError", "frame_indices", "frames_timeout", "iter_frames", "sample_frames"]

log = logging.getLogger(__name__)

CHUNK = 32  # frames decoded per call while walking through a file
FRAMES_TIMEOUT_BASE = 120.0  # seconds of decoding allowed: this much ...
FRAMES_TIMEOUT_PER_SECOND = 4.0  # ... plus this much per second of video sampled


def frames_timeout(seconds: float) -> float:
    """Seconds of decoding allowed for sampling ``seconds`` of video."""
    return FRAMES_TIMEOUT_BASE + FRAMES_TIMEOUT_PER_SECOND * seconds


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


class _Budget:
    """Time spent in decoder calls, against a limit checked after each call."""

    def __init__(self, path: Path, limit: float, num_frames: int):
        self.path, self.limit, self.num_frames, self.spent = path, limit, num_frames, 0.0

    def call(self, done: int, fn: Callable, *args):
        t0 = time.monotonic()
        try:
            return fn(*args)
        finally:
            self.spent += time.monotonic() - t0
            if self.spent > self.limit:
                raise MediaError(f"{self.path}: decoding frames did not finish within {self.limit:g} s "
                                 f"(stopped after {done} of {self.num_frames} frames)")


def _decord_failure(path: Path, exc: Exception) -> MediaError:
    """The MediaError for an exception of decord, with its source-location prefix dropped."""
    text = re.sub(r"^\[[\d:]+\] \S+:\d+: (Error: )?", "", str(exc).strip())
    if "av_read_frame failed" in text:  # a packet the index promises cannot be read: data cut off or corrupt
        return MediaError(f"{path}: {DAMAGED}: its video data ends or breaks before the end its index "
                          f"states (decord: {text})")
    return MediaError(f"{path}: cannot decode video ({type(exc).__name__}: {text})")


def _warn_if_cut_short(path: Path, last_pts: float, wanted: float) -> None:
    """Warn when the frames end well before the span wanted and the container states (a truncated file
    still gives frames: its last one repeats, as for a short clip)."""
    if last_pts + 1.0 < wanted:
        log.warning("%s: the video frames stop at %.2f s, though %.2f s are wanted and the container states "
                    "them: a truncated file? Its last frame repeats to fill", path, last_pts, wanted)


def iter_frames(path: str | Path, fps: float = 8.0, num_frames: int = 80,
                max_short_side: int | None = 720, timeout: float | None = None) -> Iterator[np.ndarray]:
    """Yield the frames of :func:`sample_frames` one by one as decoding reaches them, so a long video
    never has to be held in memory whole (one chunk of decoded frames at a time). ``timeout``:
    seconds of decoding allowed (default :func:`frames_timeout` of ``num_frames / fps``)."""
    import decord

    path = Path(path)
    info = probe(path)
    width, height, rotation = info.width, info.height, info.rotation
    budget = _Budget(path, frames_timeout(num_frames / fps) if timeout is None else timeout, num_frames)
    try:
        # decord applies rotation metadata itself, but its resize path mishandles rotated
        # streams: rotated clips are decoded at native size
        width, height = (-1, -1) if rotation else _decode_size(width, height, max_short_side)
        reader = budget.call(0, lambda: decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1, width=width,
                                                           height=height))
        n = len(reader)
        if n == 0:
            raise MediaError(f"{path}: no video frames")
        pts = budget.call(0, reader.get_frame_timestamp, np.arange(n))[:, 0]
        shown = np.sort(pts[pts >= -1e-6])  # pre-roll packets of an edit list are never displayed
        if shown.size == 0:
            raise MediaError(f"{path}: no displayable video frames")
        _warn_if_cut_short(path, shown[-1], min(info.duration, num_frames / fps))
        idx = frame_indices(shown, fps, num_frames)  # ascending
        k = 0
        for start in range(0, int(idx[-1]) + 1, CHUNK):  # every chunk, in order: never a seek
            stop = min(start + CHUNK, int(idx[-1]) + 1)
            chunk = budget.call(k, lambda: reader.get_batch(list(range(start, stop))).asnumpy())
            while k < num_frames and idx[k] < stop:
                yield chunk[idx[k] - start].copy()  # a view would keep the whole chunk alive
                k += 1
    except MediaError:
        raise
    except Exception as exc:  # decord raises bare DECORDError / RuntimeError
        raise _decord_failure(path, exc) from exc


def sample_frames(path: str | Path, fps: float = 8.0, num_frames: int = 80,
                  max_short_side: int | None = 720, timeout: float | None = None) -> np.ndarray:
    """Return ``num_frames`` RGB frames ``(num_frames, H, W, 3)`` uint8 sampled at ``fps`` (see module doc)."""
    return np.stack(list(iter_frames(path, fps, num_frames, max_short_side, timeout)))
