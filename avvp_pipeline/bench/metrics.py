"""metrics: vectorised scoring vs the per-video loop, on an LLP-sized and an LFAV-sized split. The
LLP protocol (1024-code tables at 10 seconds, runs at any length) and LFAV's protocol (F-scores, snippet
mAP, selection score) score the same random predictions and truth as the loops of evaluation/reference.py."""

from __future__ import annotations

import math

import numpy as np

from .common import add_json_flag, best_of, print_machine, write_json

LLP_VIDEOS, LFAV_VIDEOS = 1200, 968
LFAV_CLASSES, LFAV_SECONDS = 35, (60, 360)  # lengths drawn uniformly: 210 s on average


def add_arguments(p) -> None:
    p.add_argument(
        "--videos",
        type=int,
        help=f"videos of each split (default: {LLP_VIDEOS:,} LLP-shaped and {LFAV_VIDEOS} LFAV-shaped)",
    )
    p.add_argument("--repeat", type=int, default=5, help="best of this many rounds (vectorised; the loops run once)")
    add_json_flag(p)


def _llp_split(rng, n: int) -> list[np.ndarray]:
    return [(rng.random((n, 25, 10)) < p).astype(np.uint8) for p in (0.1, 0.1, 0.08, 0.08)]


def _lfav_split(rng, n: int) -> tuple:
    """LFAV-shaped inputs: a few true events per video and class present, probabilities that follow
    the truth with noise smoothed over about 5 s (so predicted events last seconds, as a model's do)."""
    c = LFAV_CLASSES
    lengths = rng.integers(LFAV_SECONDS[0], LFAV_SECONDS[1] + 1, size=n)
    t_max = int(lengths.max())
    truth = np.zeros((2, n, c, t_max), dtype=np.uint8)
    for m, i, k in zip(*np.nonzero(rng.random((2, n, c)) < 0.1)):
        for _ in range(rng.integers(1, 5)):
            s = int(rng.integers(0, lengths[i]))
            truth[m, i, k, s : s + int(rng.integers(3, 60))] = 1
    noise = np.cumsum(rng.normal(size=(2, n, c, t_max + 5)), axis=-1)
    smooth = (noise[..., 5:] - noise[..., :-5]) / 5**0.5
    logits = 3.0 * (2.0 * truth - 1.0) + 1.5 * smooth - 1.0
    frame_prob = (1.0 / (1.0 + np.exp(-logits))).astype(np.float32).transpose(1, 3, 0, 2)  # (N, T, 2, C)
    present = truth.any(axis=-1)
    gates = np.where(present, rng.random((2, n, c)) < 0.8, rng.random((2, n, c)) < 0.1).astype(np.float32)
    return frame_prob, gates[0], gates[1], truth[0], truth[1], lengths


def _max_diff(a: dict, b: dict) -> float:
    return max(0.0 if math.isnan(a[k]) and math.isnan(b[k]) else abs(a[k] - b[k]) for k in a)


def bench_metrics(videos: int | None = None, repeat: int = 5, seed: int = 0) -> dict:
    """Seconds of each scorer on each split, the loops' over the vectorised ratios and the largest difference."""
    from ..evaluation.lfav_metrics import lfav_predictions, lfav_scores
    from ..evaluation.metrics import llp_f_scores, llp_f_scores_padded
    from ..evaluation.reference import lfav_scores_loop, llp_f_scores_loop

    rng = np.random.default_rng(seed)
    n_llp, n_lfav = (videos, videos) if videos else (LLP_VIDEOS, LFAV_VIDEOS)
    llp = _llp_split(rng, n_llp)
    runs = [np.pad(a, ((0, 0), (0, 0), (0, 1))) for a in llp]  # 11 s with lengths 10: the runs path
    lfav = _lfav_split(rng, n_lfav)
    lengths = lfav[-1]
    pa, pv = lfav_predictions(*lfav[:3], lengths)
    lfav_f = (pa, pv, lfav[3], lfav[4], lengths)
    llp_f_scores(*_llp_split(rng, 1))  # builds the tables once, outside the timed calls
    r: dict = {"llp videos": n_llp, "lfav videos": n_lfav, "lfav mean length, s": float(lengths.mean())}
    r["llp, tables, s"] = best_of(lambda: llp_f_scores(*llp), repeat)
    r["llp, runs, s"] = best_of(lambda: llp_f_scores_padded(*runs, np.full(n_llp, 10)), repeat)
    r["llp, loop, s"] = best_of(lambda: llp_f_scores_loop(*llp), 1)
    r["lfav F-scores, runs, s"] = best_of(lambda: llp_f_scores_padded(*lfav_f), repeat)
    r["lfav F-scores, loop, s"] = best_of(lambda: llp_f_scores_loop(*lfav_f), 1)
    r["lfav all scores, vectorised, s"] = best_of(lambda: lfav_scores(*lfav), repeat)
    r["lfav all scores, loop, s"] = best_of(lambda: lfav_scores_loop(*lfav), 1)
    r["llp: loop / tables"] = r["llp, loop, s"] / r["llp, tables, s"]
    r["llp: runs / tables"] = r["llp, runs, s"] / r["llp, tables, s"]
    r["lfav F-scores: loop / runs"] = r["lfav F-scores, loop, s"] / r["lfav F-scores, runs, s"]
    r["lfav all scores: loop / vectorised"] = r["lfav all scores, loop, s"] / r["lfav all scores, vectorised, s"]
    r["max |difference|"] = max(
        _max_diff(llp_f_scores(*llp), llp_f_scores_loop(*llp)),
        _max_diff(llp_f_scores_padded(*runs, np.full(n_llp, 10)), llp_f_scores(*llp)),
        _max_diff(lfav_scores(*lfav), lfav_scores_loop(*lfav)),
    )
    return r


def main(args) -> int:
    print_machine()
    r = bench_metrics(args.videos, args.repeat)
    write_json(args.json, r)
    print(
        f"LLP-sized split, {r['llp videos']} videos x 25 classes x 10 s: 1024-code tables "
        f"{r['llp, tables, s'] * 1e3:.1f} ms, runs {r['llp, runs, s'] * 1e3:.1f} ms "
        f"({r['llp: runs / tables']:.1f}x the tables), per-video loop {r['llp, loop, s']:.2f} s "
        f"({r['llp: loop / tables']:.0f}x the tables)"
    )
    print(
        f"LFAV-sized split, {r['lfav videos']} videos x {LFAV_CLASSES} classes, {LFAV_SECONDS[0]}..{LFAV_SECONDS[1]} s "
        f"(mean {r['lfav mean length, s']:.0f} s): F-scores {r['lfav F-scores, runs, s'] * 1e3:.0f} ms, "
        f"per-video loop {r['lfav F-scores, loop, s']:.1f} s ({r['lfav F-scores: loop / runs']:.0f}x); "
        f"all scores (F, snippet mAP, selection) {r['lfav all scores, vectorised, s']:.2f} s, "
        f"per-video loop {r['lfav all scores, loop, s']:.1f} s ({r['lfav all scores: loop / vectorised']:.0f}x)"
    )
    print(f"max |difference| between vectorised and loop scores: {r['max |difference|']:.1e}")
    return 0
