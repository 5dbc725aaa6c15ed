"""Decode video frames at a fixed rate with decord, without seeking.

Timestamp rule: output frame k (k = 0 .. num_frames-1) is the source frame on screen at
``t_k = t_0 + k / fps``, where ``t_0`` is the presentation time of the first displayed frame:
the last frame whose presentation timestamp is <= ``t_k`` (pts from the container, so variable
frame rates are handled). A 10-s clip at 8 fps gives 80 frames spanning [0, 10) s, like the
recipe's ``ffmpeg -r 8`` (which takes the frame nearest to each tick rather than the one on
screen, so the two can differ by one source frame). Clips shorter than ``num_frames / fps`` repeat their last
frame; longer
clips use their first ``num_frames / fps`` seconds.

Why no seeking: decord's random access returns wrong frames on some files. On a clip cut with
``ffmpeg -ss ... -c copy`` (an MP4 edit list whose first packets have negative timestamps),
decord's frame table still lists the pre-roll packets while its decoder drops them, so frame i
of ``get_batch`` is really frame i + (pre-roll count), and seeks land elsewhere again. Frames
are therefore decoded strictly in order from the start (``skip_frames`` / ``next``), and matched
to the timestamps of the frames that are actually displayed (pts >= 0). Only the frames kept are
converted to RGB. ``tests/test_decode_accuracy.py`` checks this
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
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from .probe import DAMAGED, MediaError, MediaInfo, probe, utf8_path

__all__ = ["frame_indices", "frames_timeout", "iter_frames", "sample_frames"]

log = logging.getLogger(__name__)

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
                raise MediaError(
                    f"{self.path}: decoding frames did not finish within {self.limit:g} s "
                    f"(stopped after {done} of {self.num_frames} frames)"
                )


def _decord_failure(path: Path, exc: Exception) -> MediaError:
    """The MediaError for an exception of decord, with its source-location prefix dropped."""
    text = re.sub(r"^\[[\d:]+\] \S+:\d+: (Error: )?", "", str(exc).strip())
    if "av_read_frame failed" in text:  # a packet the index promises cannot be read: data cut off or corrupt
        return MediaError(
            f"{path}: {DAMAGED}: its video data ends or breaks before the end its index states (decord: {text})"
        )
    return MediaError(f"{path}: cannot decode video ({type(exc).__name__}: {text})")


def _warn_if_cut_short(path: Path, last_pts: float, wanted: float) -> None:
    """Warn when the frames end well before the span wanted and the container states (a truncated file
    still gives frames: its last one repeats, as for a short clip)."""
    if last_pts + 1.0 < wanted:
        log.warning(
            "%s: the video frames stop at %.2f s, though %.2f s are wanted and the container states "
            "them: a truncated file? Its last frame repeats to fill",
            path,
            last_pts,
            wanted,
        )


def _skip_to(reader, position: int, target: int, keys: np.ndarray, call: Callable) -> int:
    """Decode without converting the frames ``position .. target - 1``, so that the reader's next frame
    is ``target``; return ``target``. decord's ``skip_frames`` seeks to the last key frame when the
    skip passes one (a seek, wrong on edit-list clips), so a skip never passes a key frame: the frame
    just before each is read with ``next`` instead. ``call(fn, *args)`` makes each decoder call (timed)."""
    while position < target:
        after = keys[np.searchsorted(keys, position, side="right") :]  # key frames past the current position
        key = int(after[0]) if after.size else None
        if key is None or key > target:
            call(reader.skip_frames, target - position)
            position = target
        else:
            if key - 1 > position:
                call(reader.skip_frames, key - 1 - position)
            call(reader.next)  # frame key - 1: crossing the key frame without a seek
            position = key
    return position


def iter_frames(
    path: str | Path,
    fps: float = 8.0,
    num_frames: int = 80,
    max_short_side: int | None = 720,
    timeout: float | None = None,
    info: MediaInfo | None = None,
) -> Iterator[np.ndarray]:
    """Yield the frames of :func:`sample_frames` one by one as decoding reaches them, so a long video
    never has to be held in memory whole (one decoded frame at a time). ``timeout``: seconds of decoding
    allowed (default :func:`frames_timeout` of ``num_frames / fps``); ``info``: the file's
    :func:`~.probe.probe`, when the caller has it already."""
    import decord

    path = Path(path)
    info = probe(path) if info is None else info
    width, height, rotation = info.width, info.height, info.rotation
    budget = _Budget(path, frames_timeout(num_frames / fps) if timeout is None else timeout, num_frames)
    with utf8_path(path) as readable:  # the name decord opens (it takes only UTF-8 paths)
        try:
            # decord applies rotation metadata itself, but its resize path mishandles rotated
            # streams: rotated clips are decoded at native size
            width, height = (-1, -1) if rotation else _decode_size(width, height, max_short_side)
            reader = budget.call(
                0,
                lambda: decord.VideoReader(str(readable), ctx=decord.cpu(0), num_threads=1, width=width, height=height),
            )
            n = len(reader)
            if n == 0:
                raise MediaError(f"{path}: no video frames")
            pts = budget.call(0, reader.get_frame_timestamp, np.arange(n))[:, 0]
            shown = np.sort(pts[pts >= -1e-6])  # pre-roll packets of an edit list are never displayed
            if shown.size == 0:
                raise MediaError(f"{path}: no displayable video frames")
            _warn_if_cut_short(path, shown[-1], min(info.duration, num_frames / fps))
            idx = frame_indices(shown, fps, num_frames)  # ascending
            keys = np.sort(np.asarray(budget.call(0, reader.get_key_indices), dtype=np.int64))
            # walk through the file in order, never seeking: frames that are not kept are decoded but
            # skipped (not converted to RGB); a kept frame is converted once, however often it repeats
            position, frame = 0, None  # index of the next frame the reader returns; the last one kept
            for k in range(num_frames):
                if frame is None or idx[k] != position - 1:
                    position = _skip_to(reader, position, int(idx[k]), keys, lambda fn, *a: budget.call(k, fn, *a))  # noqa: B023 (called here)
                    frame = budget.call(k, lambda: reader.next().asnumpy())
                    position += 1
                yield frame if k + 1 == num_frames or idx[k + 1] != idx[k] else frame.copy()
        except MediaError:
            raise
        except StopIteration as exc:
            raise MediaError(f"{path}: {DAMAGED}: its video frames end before the frames its index lists") from exc
        except Exception as exc:  # decord raises bare DECORDError / RuntimeError
            raise _decord_failure(path, exc) from exc


def sample_frames(
    path: str | Path,
    fps: float = 8.0,
    num_frames: int = 80,
    max_short_side: int | None = 720,
    timeout: float | None = None,
    info: MediaInfo | None = None,
) -> np.ndarray:
    """Return ``num_frames`` RGB frames ``(num_frames, H, W, 3)`` uint8 sampled at ``fps`` (see module doc)."""
    return np.stack(list(iter_frames(path, fps, num_frames, max_short_side, timeout, info)))
