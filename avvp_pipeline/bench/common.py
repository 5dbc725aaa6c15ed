"""What the benchmarks share: the machine line, best-of timing, printing and the ``--json`` file."""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path


def print_machine() -> None:
    """The first line of every speed benchmark's output."""
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}")


def best_of(fn, repeat: int) -> float:
    """The fastest of ``repeat`` timed calls of ``fn`` (seconds)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the ffmpeg subprocesses), user + system."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def print_figures(result: dict, digits: int = 3) -> None:
    """One ``name: value`` line per figure, floats with ``digits`` decimals."""
    for k, v in result.items():
        print(f"{k}: {v:.{digits}f}" if isinstance(v, float) else f"{k}: {v}")


def add_json_flag(p) -> None:
    p.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")


def write_json(path: str | None, result: dict) -> None:
    """``result`` as JSON in ``path`` (nothing without a path)."""
    if path:
        with open(path, "w") as fh:
            json.dump(result, fh, indent=1, default=str)


def add_videos_dir_flags(p) -> None:
    p.add_argument("--videos-dir", help="folder of mp4 clips to use")
    p.add_argument("--n", type=int, default=8, help="number of clips")


def video_paths(videos_dir: str | None, n: int, name: str) -> list[str]:
    """The first ``n`` mp4 files of ``videos_dir``; a clear error when there are none."""
    paths = sorted(str(p) for p in Path(videos_dir).glob("*.mp4"))[:n] if videos_dir else []
    if not paths:
        raise ValueError(f"bench {name} needs --videos-dir with mp4 files (e.g. resources/demo/videos after the demo)")
    return paths
