"""stages: wall time and peak memory per rule. Read from the `benchmark:` files of a Snakemake run."""

from __future__ import annotations

import csv
from pathlib import Path

from .common import print_machine


def add_arguments(p) -> None:
    p.add_argument("--dir", default="results/benchmarks", help="folder of Snakemake benchmark files")


def stage_table(bench_dir: str = "results/benchmarks") -> str:
    """Markdown table of Snakemake ``benchmark:`` files: jobs, summed wall time and peak memory per rule."""
    rows: dict[str, list[tuple[float, float]]] = {}
    for tsv in sorted(Path(bench_dir).rglob("*.tsv")):
        rule = tsv.parent.name if tsv.parent != Path(bench_dir) else tsv.stem
        with open(tsv) as fh:
            for rec in csv.DictReader(fh, delimiter="\t"):
                rss = float(rec["max_rss"]) if rec.get("max_rss") not in (None, "", "NA", "-") else float("nan")
                rows.setdefault(rule, []).append((float(rec["s"]), rss))
    if not rows:
        raise ValueError(f"no benchmark files under {bench_dir}")
    lines = [
        "| stage (rule) | jobs | wall time, summed (s) | peak memory of one job (MiB) |",
        "| --- | --- | --- | --- |",
    ]
    for rule, recs in rows.items():
        lines.append(f"| {rule} | {len(recs)} | {sum(r[0] for r in recs):.1f} | {max(r[1] for r in recs):.0f} |")
    return "\n".join(lines)


def main(args) -> int:
    print_machine()
    print(stage_table(args.dir))
    return 0
