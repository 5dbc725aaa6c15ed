"""Results tables in the layout of the paper's Table 1 (segment / event level per column).

Our rows come from ``metrics.json`` files; for each row the CM-Co paper reports, its published
figures follow on a line of their own, labelled "published" (evaluation/published.py). A row whose
model was selected on the test split (``select_on: test``, the published CM-Co protocol) is marked;
selection on val, the default, is not.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from ..models.rows import PAPER_ROWS
from .published import PUBLISHED

COLUMNS = (("Audio", "audio"), ("Visual", "visual"), ("Audio-visual", "av"), ("Type@AV", "type"),
           ("Event@AV", "event"))
METRICS = tuple(f"{level}_{k}" for _, k in COLUMNS for level in ("seg", "ev"))
TEST_MARK = "†"
TEST_LEGEND = (f"{TEST_MARK} selected on test, as published: the kept epoch is the one with the best test score, "
               "as in the official CM-Co script, so these test figures are optimistic (docs/paper-protocol.md).")


def load_results(metrics_files: list[str | Path]) -> list[dict]:
    """Read metrics.json files, ordered as the paper's tables (baselines first, other rows last)."""
    rows = [json.loads(Path(p).read_text()) for p in metrics_files]
    order = {name: i for i, name in enumerate(PAPER_ROWS)}
    return sorted(rows, key=lambda r: (r["model"] in order, order.get(r["model"], len(order))))


def selected_on(result: dict) -> str:
    """How a metrics.json's model was selected: val, test, last epoch, or "" (no model, or not recorded)."""
    if "select_on" not in result:
        return ""
    return result["select_on"] or "last epoch"


def table_rows(results: list[dict], published: bool = True) -> list[tuple[str, str, dict, str]]:
    """``(method, source, f_scores, selected_on)`` per line: ours, then the paper's figures where it has
    the row (their selection is left blank)."""
    out = []
    for r in results:
        out.append((r["model"], "ours", r["f_scores"], selected_on(r)))
        if published and r["model"] in PUBLISHED:
            out.append((r["model"], "published", PUBLISHED[r["model"]], ""))
    return out


def _fmt(v) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.1f}"


def results_markdown(metrics_files: list[str | Path], published: bool = True) -> str:
    """Markdown table: one line per model (ours) and per published figure set, 'segment / event' in %."""
    results = load_results(metrics_files)
    lines = ["| method | source | " + " | ".join(name for name, _ in COLUMNS) + " |", "|" + " --- |" * (len(COLUMNS) + 2)]
    marked = False
    for method, source, f, selection in table_rows(results, published):
        cells = [f"{_fmt(f['seg_' + k])} / {_fmt(f['ev_' + k])}" for _, k in COLUMNS]
        label = method if source == "ours" else f"*{method}*"
        src = "ours" if source == "ours" else "*published (LLP, CM-Co paper)*"
        if selection == "test":
            src, marked = f"{src} {TEST_MARK}", True
        lines.append(f"| {label} | {src} | " + " | ".join(cells) + " |")
    splits = sorted({f"{r['split']} ({r['n_videos']} videos)" for r in results})
    note = (f"\nF-scores in %, segment-level / event-level, LLP protocol. Ours: split {', '.join(splits)} of "
            "the data this run was given. Published: the CM-Co paper's figures on the LLP test split, shown "
            "for comparison only (not produced by this run; Table 4 rows are segment-level only). "
            "`broadcast` predicts each video-level label for every second of both modalities.\n")
    legend = f"\n{TEST_LEGEND}\n" if marked else ""
    return "\n".join(lines) + "\n" + note + legend


def results_csv(metrics_files: list[str | Path], published: bool = True) -> str:
    """The same table as CSV: ``method,source,seg_audio,ev_audio,...,selected_on`` (empty cells where
    unpublished; ``selected_on``: val, test, last epoch, or empty for published lines and the baseline)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["method", "source", *METRICS, "selected_on"])
    for method, source, f, selection in table_rows(load_results(metrics_files), published):
        w.writerow([method, source, *("" if f[k] is None else f"{f[k]:.2f}" for k in METRICS), selection])
    return buf.getvalue()


def per_class_csv(metrics_files: list[str | Path]) -> str:
    """``model,modality,class,segment_f`` for every model with per-class scores in its metrics.json."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["model", "modality", "class", "segment_f"])
    for r in load_results(metrics_files):
        for modality, scores in r.get("per_class_segment_f", {}).items():
            for cls, v in scores.items():
                w.writerow([r["model"], modality, cls, "" if v is None else f"{v:.2f}"])
    return buf.getvalue()
