"""teachers: VALOR's CLIP and CLAP teachers per video. Random full-size vs small networks, on the CPU."""

from __future__ import annotations

import time
from functools import partial

import numpy as np

from .common import add_json_flag, print_figures, print_machine, write_json


def add_arguments(p) -> None:
    p.add_argument("--n", type=int, default=8, help="videos timed per teacher")
    p.add_argument("--threads", type=int, default=2, help="torch threads")
    p.add_argument(
        "--sizes", default="small,full", help="comma-separated random network sizes: small, full (both: their ratio)"
    )
    add_json_flag(p)


def bench_teachers(n: int = 2, threads: int = 2, seed: int = 0, sizes: tuple[str, ...] = ("small", "full")) -> dict:
    """Seconds per video of VALOR's teachers on the CPU (decoding excluded: LLP-sized 240 x 320 frames and a
    10-s 48 kHz soundtrack made here), with random full-size networks (ViT-L/14 CLIP, HTS-AT + RoBERTa
    CLAP) against the small random ones of the tests and the demo, each after one warm-up video."""
    import torch

    from ..teachers.stage import Teachers

    torch.set_num_threads(max(1, threads))
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (10, 240, 320, 3), dtype=np.uint8)
    wave = (0.1 * rng.standard_normal(480000)).astype(np.float32)
    weak = np.ones(25, np.float32)
    out: dict = {"videos": n, "threads": threads}
    for size in sizes:
        t0 = time.perf_counter()
        t = Teachers({"random_size": size, "seed": seed}, device="cpu")
        out[f"{size}_load_s"] = time.perf_counter() - t0
        for name, fn in (("clip", partial(t.clip.labels, frames, weak)), ("clap", partial(t.clap.labels, wave, weak))):
            fn()
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            out[f"{size}_{name}_s_per_video"] = (time.perf_counter() - t0) / n
        out[f"{size}_parameters_M"] = sum(p.numel() for m in (t.clip.model, t.clap.model) for p in m.parameters()) / 1e6
    for name in ("clip", "clap") if {"small", "full"} <= set(sizes) else ():
        out[f"{name}_full_vs_small"] = out[f"full_{name}_s_per_video"] / out[f"small_{name}_s_per_video"]
    return out


def main(args) -> int:
    print_machine()
    r = bench_teachers(args.n, args.threads, sizes=tuple(args.sizes.split(",")))
    print_figures(r)
    write_json(args.json, r)
    return 0
