"""Decode jobs in spawned worker processes, results in job order, each job bounded by a timeout.

With a :class:`~.frame_ring.FrameRing`, every job is submitted with a free slot appended to its
tuple; a decoder that wrote its frames there answers with an ``InSlot`` and the consumer takes the
frames out of shared memory (``take``) before the slot is handed to the next job. Without one (or
when no slot is free), results come back through the pool's pipe.

Kept free of torch, like the decoder processes themselves.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from multiprocessing import TimeoutError as PoolTimeout
from multiprocessing import get_context

import numpy as np

from .frame_ring import FrameRing, InSlot


def _warm(_):
    """Run once per worker before timing: pay the imports of the decoder process up front."""
    import decord  # noqa: F401

    time.sleep(0.05)  # long enough that every worker takes one of these tasks
    return 0


class DecoderPool:
    """``workers`` decoder processes (jobs run inline when 0), reused across :meth:`imap` calls.

    At most ``2 * workers`` jobs are in flight (bounded memory). A job that takes longer than
    ``timeout`` seconds (decord can hang on files whose header over-reports frames) yields
    ``(path, None, reason)``; the pool is terminated and a fresh one takes the remaining jobs.
    """

    def __init__(self, workers: int, timeout: float = 300.0, ring: FrameRing | None = None):
        self.workers, self.timeout, self.ring = workers, timeout, ring
        self._pool = None

    @property
    def window(self) -> int:
        return 2 * self.workers

    def start(self, warm: bool = False) -> DecoderPool:
        """Start the processes now (otherwise the first :meth:`imap` does); ``warm``: also import the decoder."""
        if self.workers > 0 and self._pool is None:
            # forking a process that already runs torch threads can deadlock
            self._pool = get_context("spawn").Pool(self.workers)
            if warm:
                self._pool.map(_warm, range(self.workers), chunksize=1)
        return self

    def close(self) -> None:
        """Stop the processes (idempotent); a decoder still writing into a slot is stopped first."""
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.terminate()
            pool.join()

    def __enter__(self) -> DecoderPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def imap(self, fn: Callable, jobs: Iterable[tuple], take: Callable[[np.ndarray], object] = np.copy) -> Iterator:
        """Yield ``fn(job)`` (``(path, value, error)``) in job order; frames delivered in a slot are
        replaced by ``take(view of the slot)``, which must copy them."""
        if self.workers <= 0:
            yield from map(fn, jobs)
            return
        ring = self.ring
        pending = deque(jobs)
        window: deque = deque()
        try:
            while pending or window:
                self.start()
                while pending and len(window) < self.window:
                    job = pending.popleft()
                    slot = ring.acquire() if ring is not None else None
                    args = job if slot is None else (*job, slot)
                    window.append((job, slot, self._pool.apply_async(fn, (args,))))
                job, slot, result = window.popleft()
                try:
                    out = result.get(timeout=self.timeout)
                except PoolTimeout:
                    self.close()  # nothing writes into a slot any more
                    if slot is not None:
                        ring.release(slot)
                    for j, s, _ in reversed(window):
                        if s is not None:
                            ring.release(s)
                        pending.appendleft(j)
                    window.clear()
                    yield job[0], None, f"{job[0]}: decoding took longer than {self.timeout:.0f} s; skipped"
                    continue
                if slot is not None:
                    path, value, err = out
                    if isinstance(value, InSlot):
                        view = ring.frames(value)
                        value = take(view)
                        del view
                        ring.release(slot)
                    else:
                        ring.release(slot, needed=value.nbytes if isinstance(value, np.ndarray) else 0)
                    out = path, value, err
                yield out
        finally:
            if window:  # the consumer stopped early or failed: no decoder may keep writing
                self.close()
                for _, s, _ in window:
                    if s is not None:
                        ring.release(s)


def decoded(fn: Callable, jobs: list, workers: int, timeout: float = 300.0) -> Iterator:
    """Yield ``fn(job)`` in job order, computed by ``workers`` processes (inline when 0), results
    through the pool's pipe (see :class:`DecoderPool`)."""
    with DecoderPool(workers, timeout) as pool:
        yield from pool.imap(fn, jobs)
