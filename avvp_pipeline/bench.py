"""``avvp bench``: speed measurements, each against a baseline measured in the same run."""
from __future__ import annotations

import platform
import time

import numpy as np


def _best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_metrics(videos: int = 1849, repeat: int = 5, seed: int = 0) -> dict:
    """Vectorised LLP F-scores vs the per-video loop reference on random predictions and truth."""
    from .evaluation.metrics import llp_f_scores
    from .evaluation.reference import llp_f_scores_loop

    rng = np.random.default_rng(seed)
    arrays = [(rng.random((videos, 25, 10)) < p).astype(np.uint8) for p in (0.1, 0.1, 0.08, 0.08)]
    fast = _best_of(lambda: llp_f_scores(*arrays), repeat)
    slow = _best_of(lambda: llp_f_scores_loop(*arrays), 1)
    a, b = llp_f_scores(*arrays), llp_f_scores_loop(*arrays)
    max_diff = max(abs(a[k] - b[k]) for k in a)
    return {"videos": videos, "vectorised_s": fast, "loop_s": slow, "speedup": slow / fast, "max_abs_diff": max_diff}


def stage_table(bench_dir: str = "benchmarks") -> str:
    """Markdown table of Snakemake ``benchmark:`` files: jobs, summed wall time and peak memory per rule."""
    import csv
    from pathlib import Path

    rows: dict[str, list[tuple[float, float]]] = {}
    for tsv in sorted(Path(bench_dir).rglob("*.tsv")):
        rule = tsv.parent.name if tsv.parent != Path(bench_dir) else tsv.stem
        with open(tsv) as fh:
            for rec in csv.DictReader(fh, delimiter="\t"):
                rss = float(rec["max_rss"]) if rec.get("max_rss") not in (None, "", "NA", "-") else float("nan")
                rows.setdefault(rule, []).append((float(rec["s"]), rss))
    if not rows:
        raise ValueError(f"no benchmark files under {bench_dir}")
    lines = ["| stage (rule) | jobs | wall time, summed (s) | peak memory of one job (MiB) |", "| --- | --- | --- | --- |"]
    for rule, recs in rows.items():
        lines.append(f"| {rule} | {len(recs)} | {sum(r[0] for r in recs):.1f} | {max(r[1] for r in recs):.0f} |")
    return "\n".join(lines)


def run(what: str, args) -> int:
    """Run the benchmark named ``what`` and print its figures."""
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}")
    if what == "metrics":
        r = bench_metrics(args.videos, args.repeat)
        print(f"LLP F-scores over {r['videos']} videos: vectorised {r['vectorised_s'] * 1e3:.1f} ms, "
              f"per-video loop {r['loop_s']:.2f} s -> {r['speedup']:.0f}x faster "
              f"(max |difference| {r['max_abs_diff']:.1e})")
        return 0
    if what == "stages":
        print(stage_table(args.dir))
        return 0
    raise ValueError(f"unknown benchmark {what!r}")
