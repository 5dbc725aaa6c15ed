"""metrics: vectorised LLP F-scores vs the per-video loop. Both score the same random predictions and truth."""

from __future__ import annotations

import numpy as np

from .common import best_of, print_machine


def add_arguments(p) -> None:
    p.add_argument("--videos", type=int, default=1849, help="videos scored (default: LLP val+test)")
    p.add_argument("--repeat", type=int, default=5, help="best of this many rounds (vectorised)")


def bench_metrics(videos: int = 1849, repeat: int = 5, seed: int = 0) -> dict:
    """Vectorised LLP F-scores vs the per-video loop reference on random predictions and truth."""
    from ..evaluation.metrics import llp_f_scores
    from ..evaluation.reference import llp_f_scores_loop

    rng = np.random.default_rng(seed)
    arrays = [(rng.random((videos, 25, 10)) < p).astype(np.uint8) for p in (0.1, 0.1, 0.08, 0.08)]
    fast = best_of(lambda: llp_f_scores(*arrays), repeat)
    slow = best_of(lambda: llp_f_scores_loop(*arrays), 1)
    a, b = llp_f_scores(*arrays), llp_f_scores_loop(*arrays)
    max_diff = max(abs(a[k] - b[k]) for k in a)
    return {"videos": videos, "vectorised_s": fast, "loop_s": slow, "speedup": slow / fast, "max_abs_diff": max_diff}


def main(args) -> int:
    print_machine()
    r = bench_metrics(args.videos, args.repeat)
    print(
        f"LLP F-scores over {r['videos']} videos: vectorised {r['vectorised_s'] * 1e3:.1f} ms, "
        f"per-video loop {r['loop_s']:.2f} s -> {r['speedup']:.0f}x faster "
        f"(max |difference| {r['max_abs_diff']:.1e})"
    )
    return 0
