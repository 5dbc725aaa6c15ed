"""``avvp bench``: the benchmarks. This module only hands the command line over to ``avvp_pipeline.bench``."""

from __future__ import annotations

from pathlib import Path

BENCHMARKS = ["metrics", "extract", "train", "stages", "import", "pages", "transport", "decode", "teachers"]


def add_parsers(sub) -> None:
    add_bench(sub)
    add_planted_benchmark(sub)


def add_bench(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="speed benchmarks: avvp bench NAME (docs/benchmarks.md)",
        description="Measure speed; ratios are always against a baseline measured in the same run "
        "(docs/benchmarks.md).",
    )
    p.add_argument(
        "what",
        choices=BENCHMARKS,
        help="metrics: vectorised LLP F-scores vs a per-video loop; extract: feature extraction "
        "videos/s per stage and end to end, with the reference-style baseline; "
        "stages: wall time and peak memory per rule from Snakemake's benchmark files; "
        "import: importing released .npy features into shards vs reading the same files; "
        "pages: the page, thumbnail and exports `avvp parse` writes per video (--videos-dir, --n), "
        "against the model's prediction of the same videos (--parse-model); "
        "transport: decoded frames from decoder processes to the models, shared memory vs pipe; "
        "decode: decoding a clip (--video) now vs the previous way; "
        "teachers: VALOR's CLIP and CLAP teachers per video (--n), random full-size vs small networks",
    )
    _add_bench_flags(p)
    p.set_defaults(func=bench)


def _add_bench_flags(p) -> None:
    """The flags every benchmark shares today (the benchmarks' own module reads them)."""
    p.add_argument("--dir", default="results/benchmarks", help="stages: folder of Snakemake benchmark files")
    g = p.add_argument_group(
        "extract: our extraction vs the reference style (ffmpeg JPEGs, PIL, fp32, 1 video/forward)"
    )
    g.add_argument("--videos-dir", help="folder of mp4 clips to use")
    g.add_argument("--n", type=int, default=8, help="number of clips")
    g.add_argument("--threads", type=int, default=2)
    g.add_argument("--weights", default="random", choices=["random", "pretrained"])
    g.add_argument("--weights-dir")
    g.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    g.add_argument("--resnet-resize", type=int, default=256)
    g.add_argument("--resnet-crop", type=int, default=224)
    g.add_argument("--r2plus1d-size", type=int, default=112)
    g.add_argument("--batch-videos", type=int, default=8)
    g.add_argument("--no-reference", action="store_true", help="skip the reference-style baseline")
    g.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    g.add_argument("--json", metavar="FILE", help="also write the figures to FILE as JSON")
    g.add_argument(
        "--stage-n",
        type=int,
        default=16,
        help="clips for the per-stage figures and the reference style (end to end uses all --n)",
    )
    p.add_argument(
        "--videos",
        type=int,
        default=1849,
        help="metrics: videos scored (default: LLP val+test); train: synthetic videos per epoch",
    )
    g0 = p.add_argument_group("train: epoch time of a model on synthetic LLP-shaped features held in memory")
    g0.add_argument("--model", default="han", help="model name (avvp models)")
    g0.add_argument(
        "--batch-sizes",
        default="16,256",
        help="comma-separated batch sizes; the recipe's batch size in fp32 is always measured first as the reference",
    )
    g0.add_argument("--train-precisions", default="fp32,bf16", help="comma-separated: fp32, bf16 (autocast)")
    g0.add_argument(
        "--cuda-graphs",
        action="store_true",
        help="also time each setting with the training step replayed as a CUDA graph, and compare one epoch "
        "of it with the eager epoch (CUDA only)",
    )
    g1 = p.add_argument_group(
        "import: released features into shards (--threads readers) vs open().read() of the "
        "same files, both warm, alternating, best of --repeat rounds"
    )
    g1.add_argument("--released-dir", metavar="DIR", help="a released-layout folder (vggish/, res152/, r2plus1d_18/)")
    g1.add_argument(
        "--generate",
        type=int,
        metavar="N",
        help="first write N ids of random float32 features into DIR (files already there are kept; "
        "N=11849, all of LLP, is about 8.2 GB)",
    )
    g1.add_argument("--shard-size", type=int, default=256, help="videos per imported shard")
    p.add_argument(
        "--parse-model",
        metavar="MODEL_PT",
        help="pages: a model.pt whose prediction of the same videos is the baseline (e.g. results/runs/han/model.pt)",
    )
    g2 = p.add_argument_group("transport / decode")
    g2.add_argument("--workers", type=int, default=1, help="transport: decoder processes (--n: videos)")
    g2.add_argument("--video", help="decode: the clip to decode (default: the LLP clip in $AVVP_LLP_DIR)")
    p.add_argument("--repeat", type=int, default=5)


def bench(args) -> int:
    from .. import bench as benchmarks

    return benchmarks.run(args.what, args)


def add_planted_benchmark(sub) -> None:
    p = sub.add_parser(
        "planted-benchmark",
        help="train and score model rows on LLP-shaped synthetic features (docs/planted-benchmark.md)",
        description="Make an LLP-sized feature set with planted per-second audio and visual events "
        "(modality-specific classes, co-occurring class pairs), train each row with its "
        "recipe (MA rows through ma_base and label refinement), select on val and "
        "write test F-scores in the paper's table layout to OUT/table.md and "
        "OUT/results.json (docs/planted-benchmark.md).",
    )
    p.add_argument("--rows", default="all", help="comma-separated model names, or 'all' (the 21 rows of the paper)")
    p.add_argument("--scale", type=float, default=1.0, help="fraction of LLP's 10,000/649/1,200 videos")
    p.add_argument("--epochs", type=int, help="cap every recipe at this many epochs (default: the recipes)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--out", default="planted-benchmark", help="output folder")
    p.add_argument(
        "--teacher-error",
        type=float,
        default=0.2,
        help="VALOR rows: error rate of the noisy teacher that makes their pseudo labels from the planted "
        "truth (each second and class of the weak label flipped with this probability)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=planted_benchmark)


def planted_benchmark(args) -> int:
    from ..benchmarks.planted import parse_rows, run_benchmark
    from ..data.planted_features import PlantedFeatureConfig
    from ..device import resolve_device

    data = PlantedFeatureConfig(seed=args.seed).scaled(args.scale)
    rows = parse_rows(args.rows)
    device = str(resolve_device(args.device))
    print(
        f"synthetic LLP-shaped features: {data.n_train}/{data.n_val}/{data.n_test} videos on {device}; "
        f"rows: {', '.join(rows)}",
        flush=True,
    )
    run_benchmark(
        rows, data, args.out, args.epochs, device, progress=not args.no_progress, teacher_error=args.teacher_error
    )
    print((Path(args.out) / "table.md").read_text())
    return 0
