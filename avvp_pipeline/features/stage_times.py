"""Where an extraction's time goes: seconds per stage, from perf_counter on the host and from CUDA
events for work queued on a GPU (read once the work is done, so timing never stalls the pipeline)."""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager


class StageTimes:
    """Summed seconds per stage name, plus the time each batch's features were ready (for steady rates)."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.batches: list[tuple[float, int]] = []  # (perf_counter when ready, videos in the batch)
        self.start = time.perf_counter()

    @contextmanager
    def host(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - t0

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] += seconds

    def cuda_events(self, spans) -> None:
        """``spans``: ``(name, start event, end event)`` whose work has completed."""
        for name, start, end in spans:
            self.seconds[name] += start.elapsed_time(end) / 1e3

    def batch_ready(self, videos: int) -> None:
        self.batches.append((time.perf_counter(), videos))

    def steady_rate(self) -> float:
        """Videos/s after the first batch (its start-up, warm-up and pipeline fill are fixed costs)."""
        if len(self.batches) < 2:
            return float("nan")
        (t_first, _), (t_last, _) = self.batches[0], self.batches[-1]
        videos = sum(n for _, n in self.batches[1:])
        return videos / (t_last - t_first) if t_last > t_first else float("nan")
