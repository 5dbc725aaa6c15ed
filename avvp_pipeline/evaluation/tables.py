"""Results tables in the layout of the paper's Table 1 (segment / event level per column)."""
from __future__ import annotations

import json
from pathlib import Path

COLUMNS = (("Audio", "audio"), ("Visual", "visual"), ("Audio-visual", "av"), ("Type@AV", "type"),
           ("Event@AV", "event"))


def results_markdown(metrics_files: list[str | Path]) -> str:
    """Markdown table: one row per metrics.json, 'segment / event' F-scores (%) per column."""
    rows = [json.loads(Path(p).read_text()) for p in metrics_files]
    header = "| method | " + " | ".join(name for name, _ in COLUMNS) + " |"
    lines = [header, "|" + " --- |" * (len(COLUMNS) + 1)]
    for r in rows:
        f = r["f_scores"]
        cells = [f"{f['seg_' + k]:.1f} / {f['ev_' + k]:.1f}" for _, k in COLUMNS]
        lines.append(f"| {r['model']} | " + " | ".join(cells) + " |")
    splits = sorted({f"{r['split']} ({r['n_videos']} videos)" for r in rows})
    note = (f"\nF-scores in %, segment-level / event-level, LLP protocol, split: {', '.join(splits)}. "
            "`broadcast` predicts each video-level label for every second of both modalities.\n")
    return "\n".join(lines) + "\n" + note
