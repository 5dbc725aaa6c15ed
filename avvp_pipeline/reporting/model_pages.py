"""The page of an evaluated model: its test videos played under the predicted events and the truth.

One HTML file per model (``reports/videos/NAME.html``, :mod:`.video_page`) from ``predictions.h5`` (the
per-second probabilities, the binarised events and the dense truth that ``avvp evaluate`` writes) and
the videos folder: every evaluated video whose file is there (``<YouTube id><extension>``) gets five
lanes, heard / seen / heard and seen as predicted, then heard and seen in the truth, and a line in the
video picker, worst first (most class-seconds where prediction and truth differ). Events come from the
function ``avvp parse`` uses (``evaluation.events.events_from``): runs of positive seconds, scored by
their mean probability (heard and seen: the lower of the two). Videos are referenced where they lie (no
copies), so the page stays small.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..evaluation.events import events_from
from ..evaluation.predictions import prediction_classes, read_predictions
from ..media.inputs import VIDEO_EXTENSIONS
from .event_exports import vtt_cues
from .video_page import class_probs, lanes, relative_url, write_page


def find_videos(videos_dir: str | Path | None, ids: list[str]) -> dict[str, Path]:
    """``{id: file}`` for the ids with a ``<id><extension>`` file in ``videos_dir`` (one listing)."""
    if videos_dir is None or not os.path.isdir(videos_dir):
        return {}
    by_name = {entry.name: Path(entry.path) for entry in os.scandir(videos_dir) if not entry.name.startswith(".")}
    found = {}
    for vid in ids:
        for ext in VIDEO_EXTENSIONS:
            if f"{vid}{ext}" in by_name:
                found[vid] = by_name[f"{vid}{ext}"]
                break
    return found


def model_page(predictions: str | Path, out_path: str | Path, model: str, videos_dir: str | Path | None = None) -> dict:
    """Write the page of ``model`` over its evaluated videos found in ``videos_dir``; return
    ``{"videos": evaluated, "shown": with a file}``."""
    out_path = Path(out_path)
    ids, _, d = read_predictions(
        predictions, ("frame_prob", "pred_audio", "pred_visual", "gt_audio", "gt_visual", "lengths")
    )
    classes, segment_seconds = prediction_classes(predictions)
    files = find_videos(videos_dir, ids)
    entries = []
    for i, vid in enumerate(ids):
        if vid not in files:
            continue
        n = int(d["lengths"][i])  # the arrays are padded past a shorter video's length
        pa, pv = d["pred_audio"][i, :, :n].astype(bool), d["pred_visual"][i, :, :n].astype(bool)
        prob_a, prob_v = d["frame_prob"][i, :n, 0].T, d["frame_prob"][i, :n, 1].T  # (C, S)
        ga, gv = d["gt_audio"][i, :, :n].astype(bool), d["gt_visual"][i, :, :n].astype(bool)
        duration = float(n * segment_seconds)

        def found(pred, prob, duration=duration):
            return events_from(pred, prob, duration, classes, segment_seconds)

        events = {
            "audio": found(pa, prob_a),
            "visual": found(pv, prob_v),
            "audio_visual": found(pa & pv, np.minimum(prob_a, prob_v)),
            "gt_audio": found(ga, None),
            "gt_visual": found(gv, None),
        }
        wrong_a, wrong_v = int((pa != ga).sum()), int((pv != gv).sum())
        entries.append(
            {
                "key": vid,
                "name": files[vid].name,
                "duration": duration,
                "src": relative_url(files[vid], out_path.parent),
                "note": None,
                "vtt": None,
                "cues": vtt_cues(events),
                "lanes": lanes(events),
                "probs": class_probs(events, prob_a, prob_v, classes),
                "subtitle": f"{model} on {vid}: predictions (heard, seen, heard and seen) and the truth",
                "choice": f"{vid}: {wrong_a + wrong_v} wrong class-seconds",
                "wrong": wrong_a + wrong_v,
                "info": f"Class-seconds where the prediction differs from the truth: heard {wrong_a}, seen {wrong_v}.",
            }
        )
    entries.sort(key=lambda e: (-e["wrong"], e["key"]))
    where = f"in {videos_dir}" if videos_dir else "(no videos folder: the features were imported)"
    data = {
        "title": f"{model}: test videos",
        "videos": entries,
        "empty": f"None of the {len(ids)} evaluated videos has its file {where}.",
    }
    write_page(out_path, data, f"{model}: predictions and truth of {len(entries)} videos")
    return {"videos": len(ids), "shown": len(entries)}
