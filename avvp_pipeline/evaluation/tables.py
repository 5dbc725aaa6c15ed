"""Results tables in the layout of the paper's Table 1 (segment / event level per column).

Our rows come from ``metrics.json`` files; for each row the CM-Co paper reports, its published
figures follow on a line of their own, labelled "published" (evaluation/published.py), unless a run was
scored on another data set's classes (the papers' figures are LLP's). A row whose
model was selected on the test split (``select_on: test``, the published CM-Co protocol) is marked;
selection on val, the default, is not. Runs of one model with several seeds (``train.seeds``,
docs/seeds.md) make one Markdown line, ``mean ± std`` over the seeds, and one CSV line per seed.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from pathlib import Path

from ..models.rows import PAPER_ROWS
from .protocols import PROTOCOLS
from .published import PUBLISHED, SOURCES
from .results_file import read_results, scored_on_llp

COLUMNS = (("Audio", "audio"), ("Visual", "visual"), ("Audio-visual", "av"), ("Type@AV", "type"), ("Event@AV", "event"))
METRICS = tuple(f"{level}_{k}" for _, k in COLUMNS for level in ("seg", "ev"))
TEST_MARK = "†"
TEST_LEGEND = (
    f"{TEST_MARK} selected on test, as published: the kept epoch is the one with the best test score, "
    "as in the official CM-Co script, so these test figures are optimistic (docs/paper-protocol.md)."
)
PROTOCOL_LEGEND = (
    "ours: each run's own video-level gate (evaluate.gate). ours, protocol P: the same predictions "
    "post-processed with protocol P: llp gates by the joint video-level probability >= 0.5, "
    "modality by each modality's own >= 0.5, tuned uses segment and video-level thresholds (visual "
    "per class) chosen on the validation split (docs/models-and-evaluation.md, post-processing protocols)."
)
SEEDS_LEGEND = (
    "ours (n=K): mean ± sample standard deviation (ddof=1) over the K runs of the model, one per "
    "training seed (seeds {seeds}); a value followed by its own (n=k) is over the k runs where it "
    "is defined (docs/seeds.md)."
)


def load_results(metrics_files: list[str | Path]) -> list[dict]:
    """Read metrics.json files, ordered as the paper's tables (baselines first, other rows last), the
    runs of one model together by seed."""
    rows = [read_results(p) for p in metrics_files]
    order = {name: i for i, name in enumerate(PAPER_ROWS)}
    first: dict[str, int] = {}
    for i, r in enumerate(rows):
        first.setdefault(r["model"], i)
    return sorted(
        rows,
        key=lambda r: (
            r["model"] in order,
            order.get(r["model"], len(order)),
            first[r["model"]],
            r.get("seed") is not None,
            r.get("seed") or 0,
        ),
    )


def group_runs(results: list[dict]) -> list[list[dict]]:
    """The runs of each model (one per seed), in ``load_results`` order."""
    groups: dict[str, list[dict]] = {}
    for r in results:
        groups.setdefault(r["model"], []).append(r)
    return list(groups.values())


def summarize(values: list) -> tuple[float | None, float | None, int]:
    """``(mean, sample std (ddof=1), n)`` of the defined values (None and NaN left out); std is None
    for fewer than two values, mean for none."""
    vals = [float(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    mean = statistics.fmean(vals) if vals else None
    return mean, (statistics.stdev(vals) if len(vals) > 1 else None), len(vals)


def selected_on(result: dict) -> str:
    """How a metrics.json's model was selected: val, test, last epoch, or "" (no model, or not recorded)."""
    if "select_on" not in result:
        return ""
    return result["select_on"] or "last epoch"


def protocol_runs(runs: list[dict], protocol: str) -> list[dict]:
    """The runs scored with post-processing ``protocol`` (metrics.json ``protocols``), each with that
    protocol's F-scores in place of its own."""
    return [{**r, "f_scores": r["protocols"][protocol]["f_scores"]} for r in runs if protocol in r.get("protocols", {})]


def table_rows(results: list[dict], published: bool = True) -> list[tuple[str, str, list[dict]]]:
    """``(method, source, runs)`` per line: ours (the model's runs, one per seed, with their own gate),
    ``ours:PROTOCOL`` for each post-processing protocol the runs were also scored with, then the
    published figures where a paper has the row (one pseudo-run: ``f_scores`` only) and every run was scored
    on LLP's classes."""
    published = published and all(scored_on_llp(r) for r in results)
    out = []
    for runs in group_runs(results):
        model = runs[0]["model"]
        out.append((model, "ours", runs))
        for protocol in PROTOCOLS:
            if scored := protocol_runs(runs, protocol):
                out.append((model, f"ours:{protocol}", scored))
        if published and model in PUBLISHED:
            out.append((model, "published", [{"model": model, "f_scores": PUBLISHED[model]}]))
    return out


def _fmt(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f}"


def _fmt_runs(runs: list[dict], key: str) -> str:
    """One run: its value; several: ``mean ± std``, with ``(n=k)`` where fewer runs define it."""
    if len(runs) == 1:
        return _fmt(runs[0]["f_scores"][key])
    mean, std, n = summarize([r["f_scores"][key] for r in runs])
    text = _fmt(mean) if std is None else f"{mean:.1f} ± {std:.1f}"
    return text if n in (0, len(runs)) else f"{text} (n={n})"


def results_markdown(metrics_files: list[str | Path], published: bool = True) -> str:
    """Markdown table: one line per model (ours) and per published figure set, 'segment / event' in %."""
    results = load_results(metrics_files)
    llp = all(scored_on_llp(r) for r in results)
    published = published and llp
    lines = [
        "| method | source | " + " | ".join(name for name, _ in COLUMNS) + " |",
        "|" + " --- |" * (len(COLUMNS) + 2),
    ]
    marked, seeds, protocols = False, set(), False
    for method, source, runs in table_rows(results, published):
        cells = [f"{_fmt_runs(runs, 'seg_' + k)} / {_fmt_runs(runs, 'ev_' + k)}" for _, k in COLUMNS]
        ours = source.startswith("ours")
        label = method if ours else f"*{method}*"
        if source.startswith("ours:"):
            src, protocols = f"ours, protocol {source[5:]}", True
        else:
            src = "ours" if ours else f"*published (LLP, {SOURCES.get(method, 'CM-Co paper')})*"
        if len(runs) > 1:
            src = f"{src} (n={len(runs)})"
            seeds |= {r.get("seed") for r in runs}
        if ours and any(selected_on(r) == "test" for r in runs):
            src, marked = f"{src} {TEST_MARK}", True
        lines.append(f"| {label} | {src} | " + " | ".join(cells) + " |")
    splits = sorted({f"{r['split']} ({r['n_videos']} videos)" for r in results})
    compared = (
        "Published: the CM-Co paper's figures on the LLP test split, shown for comparison only (not produced "
        "by this run; Table 4 rows are segment-level only). "
        if llp
        else ""
    )
    note = (
        f"\nF-scores in %, segment-level / event-level, LLP protocol. Ours: split {', '.join(splits)} of "
        f"the data this run was given. {compared}"
        "`broadcast` predicts each video-level label for every second of both modalities.\n"
    )
    others = sorted({SOURCES[r["model"]] for r in results if published and r["model"] in SOURCES})
    if others:
        note += (
            f"Rows labelled with another paper ({', '.join(others)}) show that paper's figures on the LLP "
            "test split; `-`: not recorded.\n"
        )
    legend = f"\n{TEST_LEGEND}\n" if marked else ""
    if protocols:
        legend += f"\n{PROTOCOL_LEGEND}\n"
    if seeds:
        listed = ", ".join(map(str, sorted(s for s in seeds if s is not None))) or "not recorded"
        legend += "\n" + SEEDS_LEGEND.format(seeds=listed) + "\n"
    return "\n".join(lines) + "\n" + note + legend


def results_csv(metrics_files: list[str | Path], published: bool = True) -> str:
    """The same table as CSV: ``method,source,seg_audio,ev_audio,...,seed,selected_on``, one line per
    run (per seed) and per published figure set (empty cells where unpublished; ``seed``: the run's
    training seed, empty where not recorded; ``selected_on``: val, test, last epoch, or empty for
    published lines and the baseline)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["method", "source", *METRICS, "seed", "selected_on"])
    for method, source, runs in table_rows(load_results(metrics_files), published):
        source = f"ours (protocol {source[5:]})" if source.startswith("ours:") else source
        for r in runs:
            f = r["f_scores"]
            w.writerow(
                [
                    method,
                    source,
                    *("" if f[k] is None else f"{f[k]:.2f}" for k in METRICS),
                    "" if r.get("seed") is None else r["seed"],
                    selected_on(r),
                ]
            )
    return buf.getvalue()


def per_class_csv(metrics_files: list[str | Path]) -> str:
    """``model,modality,class,segment_f,seed`` for every run with per-class scores in its metrics.json
    (``seed`` empty where not recorded)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "modality", "class", "segment_f", "seed"])
    for r in load_results(metrics_files):
        seed = "" if r.get("seed") is None else r["seed"]
        for modality, scores in r.get("per_class_segment_f", {}).items():
            for cls, v in scores.items():
                w.writerow([r["model"], modality, cls, "" if v is None else f"{v:.2f}", seed])
    return buf.getvalue()
