"""transport: decoded frames to the models, shared memory vs pipe. Decoder processes hand frames to the
consumer through a shared-memory ring or the pool's pipe."""

from __future__ import annotations

import time

import numpy as np

from .common import add_json_flag, print_machine, write_json


def add_arguments(p) -> None:
    p.add_argument("--n", type=int, default=8, help="videos")
    p.add_argument("--workers", type=int, default=1, help="decoder processes")
    p.add_argument("--repeat", type=int, default=5, help="best of this many rounds each")
    add_json_flag(p)


def _transport_job(job):
    """A decoder stand-in for the transport benchmark: ``num_frames`` frames of a constant (no decoding)."""
    from ..media.frame_ring import deliver

    seed, num_frames, height, width, *slot = job
    frames = (np.full((height, width, 3), (seed + k) % 251, np.uint8) for k in range(num_frames))
    return seed, deliver(frames, num_frames, slot[0] if slot else None), None


def bench_transport(
    videos: int = 64, workers: int = 1, num_frames: int = 80, height: int = 240, width: int = 320, repeat: int = 3
) -> dict:
    """Decoder processes -> consumer hand-off of ``videos`` videos' frames, through the pool's pipe
    (pickled) and through the shared-memory ring, in alternating order, best of ``repeat`` rounds each.
    The decoders write constant frames (no decoding) and the consumer's model is trivial (a checksum
    of a few pixels), so the hand-off is all that is timed; pools start before the timed window."""
    from ..media.frame_ring import FrameRing
    from ..media.pool import DecoderPool

    jobs = [(i, num_frames, height, width) for i in range(videos)]
    nbytes = num_frames * height * width * 3
    times: dict[str, list[float]] = {"pipe": [], "shm": []}
    checks: dict[str, int] = {}

    def once(mode: str) -> float:
        ring = FrameRing(2 * workers, nbytes) if mode == "shm" else None
        try:
            with DecoderPool(workers, ring=ring) as pool:
                pool.start(warm=True)
                list(pool.imap(_transport_job, jobs[: 2 * workers]))  # slots attached, pipes warm
                t0 = time.perf_counter()
                check = 0
                for _seed, frames, _err in pool.imap(_transport_job, jobs):
                    check += int(frames[:, ::60, ::80, 0].sum())  # the trivial model
                dt = time.perf_counter() - t0
        finally:
            if ring is not None:
                ring.close()
        checks[mode] = check
        return dt

    for r in range(repeat):
        for mode in ("pipe", "shm") if r % 2 == 0 else ("shm", "pipe"):
            times[mode].append(once(mode))
    if checks["pipe"] != checks["shm"]:
        raise AssertionError("the two transports delivered different frames")
    best = {m: min(t) for m, t in times.items()}
    return {
        "videos": videos,
        "workers": workers,
        "MB per video": nbytes / 1e6,
        "pipe (pickled through the pool), videos/s": videos / best["pipe"],
        "shared-memory ring, videos/s": videos / best["shm"],
        "pipe, MB/s": videos * nbytes / 1e6 / best["pipe"],
        "shared-memory ring, MB/s": videos * nbytes / 1e6 / best["shm"],
        "speed-up of shared memory over the pipe": best["pipe"] / best["shm"],
    }


def main(args) -> int:
    print_machine()
    r = bench_transport(args.n, args.workers, repeat=args.repeat)
    write_json(args.json, r)
    print(
        f"transport of {r['videos']} videos ({r['MB per video']:.1f} MB of frames each) from {r['workers']} "
        f"decoder process(es) to the consumer; best of {args.repeat} rounds each, alternating"
    )
    for k, v in r.items():
        if k not in ("videos", "workers", "MB per video"):
            print(f"{k}: {v:.1f}" + ("x" if "speed-up" in k else ""))
    return 0
