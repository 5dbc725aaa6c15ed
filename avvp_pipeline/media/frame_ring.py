"""Shared-memory slots that carry decoded frames from decoder processes to the process running the models.

Sending a video's frames back through a process pool's result pipe costs a pickle in the decoder, a
pipe transfer and an unpickle in the consumer (18.4 MB for 80 frames at 320x240). Here the consumer
owns a ring of ``multiprocessing.shared_memory`` segments, one per slot; a decode job carries a
:class:`Slot` (index, segment name, capacity), the decoder writes the kept frames straight into that
segment and answers with an :class:`InSlot` (index and frame shape) only. The consumer copies the
frames out (to pinned memory on CUDA), and the slot is free for the next job.

A video whose frames do not fit its slot comes back through the pipe as before, and the slot is
enlarged (up to ``max_slot_bytes``) for later jobs. Segments are named ``avvp-frames-<pid>-<hex>``;
they are unlinked when the ring closes (also on errors), the multiprocessing resource tracker
unlinks them if the consumer is killed, and a new ring removes those of consumers that no longer
run (killed together with their resource tracker).

Kept free of torch: decoder processes import this module.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np

log = logging.getLogger(__name__)

PREFIX = "avvp-frames"
SHM_DIR = "/dev/shm"


@dataclass(frozen=True)
class Slot:
    """What a decode job needs to write into slot ``index``."""

    index: int
    name: str
    capacity: int


@dataclass(frozen=True)
class InSlot:
    """A decoder's answer: the frames, ``shape`` uint8, are in slot ``index``."""

    index: int
    shape: tuple[int, ...]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_segments(shm_dir: str = SHM_DIR) -> list[str]:
    """Unlink the ring segments of processes that no longer run; return their names."""
    removed = []
    try:
        names = os.listdir(shm_dir)
    except OSError:
        return removed
    for name in names:
        parts = name.split("-")
        if not name.startswith(PREFIX + "-") or len(parts) != 4 or not parts[2].isdigit():
            continue
        if not _pid_alive(int(parts[2])):
            try:
                os.unlink(os.path.join(shm_dir, name))
                removed.append(name)
            except OSError:
                pass
    if removed:
        log.warning(
            "removed %d shared-memory frame segment(s) left by a process that was killed: %s",
            len(removed),
            ", ".join(removed),
        )
    return removed


def segments_of(pid: int, shm_dir: str = SHM_DIR) -> list[str]:
    """Names of the ring segments that process ``pid`` owns."""
    try:
        return sorted(n for n in os.listdir(shm_dir) if n.startswith(f"{PREFIX}-{pid}-"))
    except OSError:
        return []


def _create(nbytes: int) -> shared_memory.SharedMemory:
    shm = shared_memory.SharedMemory(name=f"{PREFIX}-{os.getpid()}-{secrets.token_hex(6)}", create=True, size=nbytes)
    try:
        # reserve the pages now: on a full tmpfs a decoder writing into an unreserved page dies of SIGBUS
        os.posix_fallocate(shm._fd, 0, nbytes)
    except OSError:
        shm.close()
        shm.unlink()
        raise
    return shm


class FrameRing:
    """The consumer's ring of ``slots`` shared-memory segments of ``slot_bytes`` each (see module doc)."""

    def __init__(self, slots: int, slot_bytes: int, max_slot_bytes: int | None = None):
        remove_stale_segments()
        self.max_slot_bytes = max(slot_bytes, max_slot_bytes or slot_bytes)
        self._segments: list[shared_memory.SharedMemory] = []
        try:
            for _ in range(slots):
                self._segments.append(_create(slot_bytes))
        except BaseException:
            self.close()
            raise
        self._free = list(range(slots))
        self._grow: dict[int, int] = {}

    @property
    def slots(self) -> int:
        return len(self._segments)

    @property
    def free(self) -> int:
        return len(self._free)

    def names(self) -> list[str]:
        return [s.name for s in self._segments]

    def acquire(self) -> Slot | None:
        """A free slot for the next job, or None when all are in use (the job then uses the pipe)."""
        if not self._free:
            return None
        i = self._free.pop(0)
        if i in self._grow:  # enlarge before handing it out again: no decoder holds it now
            self._resize(i, self._grow.pop(i))
        seg = self._segments[i]
        return Slot(i, seg.name, seg.size)

    def _resize(self, i: int, nbytes: int) -> None:
        try:
            new = _create(nbytes)
        except OSError as exc:
            log.warning(
                "cannot enlarge a shared-memory frame slot to %.0f MB (%s): larger videos use the pipe",
                nbytes / 1e6,
                exc,
            )
            self.max_slot_bytes = self._segments[i].size
            return
        old, self._segments[i] = self._segments[i], new
        old.close()
        old.unlink()

    def frames(self, done: InSlot) -> np.ndarray:
        """A view of the frames in slot ``done.index``: valid until :meth:`release`."""
        n = int(np.prod(done.shape))
        return np.ndarray(done.shape, np.uint8, self._segments[done.index].buf[:n])

    def release(self, slot: Slot, needed: int = 0) -> None:
        """Hand ``slot`` back; ``needed``: bytes a video needed that did not fit (the slot grows for later jobs)."""
        if slot.capacity < needed <= self.max_slot_bytes:
            self._grow[slot.index] = needed
        self._free.append(slot.index)

    def close(self) -> None:
        """Unlink every segment (idempotent)."""
        segments, self._segments = self._segments, []
        for seg in segments:
            try:
                seg.close()
            except BufferError:  # a view still exported: the mapping goes when the view does
                pass
            try:
                seg.unlink()
            except FileNotFoundError:
                pass

    def __enter__(self) -> FrameRing:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_attached: dict[int, shared_memory.SharedMemory] = {}  # in a decoder process: slot index -> its segment


def _segment(slot: Slot) -> shared_memory.SharedMemory:
    seg = _attached.get(slot.index)
    if seg is None or seg.name != slot.name:
        if seg is not None:
            seg.close()
        # the spawned decoder shares the consumer's resource tracker, which already tracks this name
        seg = _attached[slot.index] = shared_memory.SharedMemory(name=slot.name)
    return seg


def deliver(frames: Iterable[np.ndarray], num_frames: int, slot: Slot | None):
    """In a decoder: write ``num_frames`` frames into ``slot`` and return an :class:`InSlot`; without a
    slot, or when they do not fit it, return the stacked frames (they travel through the pipe)."""
    it = iter(frames)
    if slot is None:
        return np.stack(list(it))
    first = next(it)
    nbytes = num_frames * first.nbytes
    if nbytes > slot.capacity:
        return np.stack([first, *it])
    shape = (num_frames, *first.shape)
    out = np.ndarray(shape, np.uint8, _segment(slot).buf[:nbytes])
    out[0] = first
    count = 1
    for frame in it:
        if count == num_frames:
            raise ValueError(f"more than the {num_frames} frames expected")
        out[count] = frame
        count += 1
    if count != num_frames:
        raise ValueError(f"expected {num_frames} frames, got {count}")
    del out  # no view may outlive the job: the segment is closed when the slot moves on
    return InSlot(slot.index, shape)
