"""``avvp bench NAME``: the benchmarks. This module only hands the command line to ``avvp_pipeline.bench``,
whose modules add one parser each, with that benchmark's own flags."""

from __future__ import annotations

from ..bench import add_parsers as add_benchmark_parsers


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="speed benchmarks and the planted-events benchmark: avvp bench NAME (docs/benchmarks.md)",
        description="Speed benchmarks, each against a baseline measured in the same run, and the planted-events "
        "model benchmark (docs/benchmarks.md, docs/planted-benchmark.md). `avvp bench NAME --help`: its flags.",
    )
    add_benchmark_parsers(p.add_subparsers(dest="what", required=True, metavar="NAME"))
    p.set_defaults(func=bench)


def bench(args) -> int:
    return args.bench(args)
