"""Post-processing protocols (evaluation/protocols.py) on the hand-worked cases of docs/models-and-evaluation.md, and
how metrics.json and the results tables report them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from avvp_pipeline.evaluation.metrics import binarize_predictions
from avvp_pipeline.evaluation.protocols import (
    GRID,
    PROTOCOL_GATES,
    Thresholds,
    binarize_thresholds,
    protocol_result,
    tune_thresholds,
)
from avvp_pipeline.evaluation.tables import METRICS, results_csv, results_markdown

C, T = 25, 10


def _probs(n: int = 1) -> dict[str, np.ndarray]:
    return {
        "frame_prob": np.zeros((n, T, 2, C)),
        "global_prob": np.zeros((n, C)),
        "audio_prob": np.zeros((n, C)),
        "visual_prob": np.zeros((n, C)),
    }


def _truth(n: int = 1) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((n, C, T), np.uint8), np.zeros((n, C, T), np.uint8)


def case_gates():
    """Class 0 heard in seconds 0-3 (P_audio 0.8) and seen in 5-9 (P_visual 0.7); global 0.4, p_a 0.6,
    p_v 0.45."""
    p = _probs()
    p["frame_prob"][0, 0:4, 0, 0] = 0.8
    p["frame_prob"][0, 5:10, 1, 0] = 0.7
    p["global_prob"][0, 0], p["audio_prob"][0, 0], p["visual_prob"][0, 0] = 0.4, 0.6, 0.45
    ga, gv = _truth()
    ga[0, 0, 0:4] = 1
    gv[0, 0, 5:10] = 1
    return p, ga, gv


def test_llp_and_modality_gates_on_the_hand_worked_case():
    p, ga, gv = case_gates()
    llp = protocol_result("llp", p, ga, gv)["f_scores"]
    # global 0.4 < 0.5 vetoes both: audio and visual miss their events (F 0); no AV truth, no AV prediction (1.0)
    assert (llp["seg_audio"], llp["seg_visual"], llp["seg_av"]) == (0.0, 0.0, 100.0)
    assert llp["seg_type"] == pytest.approx(100 / 3)
    mod = protocol_result("modality", p, ga, gv)["f_scores"]
    # p_a 0.6 lets the audio run through (exact: F 1); p_v 0.45 vetoes the visual run
    assert (mod["seg_audio"], mod["seg_visual"], mod["seg_av"]) == (100.0, 0.0, 100.0)
    assert mod["ev_audio"] == 100.0 and mod["seg_type"] == pytest.approx(200 / 3)


def test_fixed_protocols_are_the_gates_of_binarize_predictions():
    rng = np.random.default_rng(0)
    p = {
        "frame_prob": rng.random((6, T, 2, C)),
        "global_prob": rng.random((6, C)),
        "audio_prob": rng.random((6, C)),
        "visual_prob": rng.random((6, C)),
    }
    ga, gv = (rng.random((2, 6, C, T)) < 0.3).astype(np.uint8)
    for name, gate in PROTOCOL_GATES.items():
        pa, pv = binarize_predictions(
            p["frame_prob"], p["global_prob"], gate=gate, audio_prob=p["audio_prob"], visual_prob=p["visual_prob"]
        )
        from avvp_pipeline.evaluation.metrics import llp_f_scores

        assert protocol_result(name, p, ga, gv)["f_scores"] == llp_f_scores(pa, pv, ga, gv)
    # the tuned protocol's binarisation at 0.5 everywhere is the modality gate
    pa, pv = binarize_predictions(
        p["frame_prob"], None, gate="modality", audio_prob=p["audio_prob"], visual_prob=p["visual_prob"]
    )
    ta, tv = binarize_thresholds(p, Thresholds())
    assert np.array_equal(pa, ta) and np.array_equal(pv, tv)


def test_tuned_lowers_the_segment_threshold_on_val_and_applies_it_to_test():
    # val: class 1 heard in seconds 0-4 with P_audio 0.3 (p_a 0.9): at 0.5 it is missed; 0.05 is the
    # first grid value that finds it (Type@AV sum 2 -> 3), later equal values do not replace it
    val = _probs()
    val["frame_prob"][0, 0:5, 0, 1] = 0.3
    val["audio_prob"][0, 1] = 0.9
    ga, gv = _truth()
    ga[0, 1, 0:5] = 1
    th = tune_thresholds(val, ga, gv)
    assert (th.segment, th.audio) == (0.05, 0.5)
    assert np.all(th.visual == 0.5)  # nothing visual to gain: every visual threshold keeps its 0.5
    # test: the same class, P_audio 0.2 in seconds 0-2, truth 0-4: TP 3, FN 2, F = 6 / 8
    test = _probs()
    test["frame_prob"][0, 0:3, 0, 1] = 0.2
    test["audio_prob"][0, 1] = 0.9
    ta, tv = _truth()
    ta[0, 1, 0:5] = 1
    res = protocol_result("tuned", test, ta, tv, (val, ga, gv, "val"))
    assert res["f_scores"]["seg_audio"] == pytest.approx(75.0)
    assert protocol_result("modality", test, ta, tv)["f_scores"]["seg_audio"] == 0.0
    assert res["thresholds"]["segment"] == 0.05 and res["tuned_on"] == "val" and res["n_tuning_videos"] == 1


def test_tuned_chooses_visual_thresholds_per_class():
    # class 2 seen all 10 s with p_v 0.3 (needs a gate <= 0.3), class 3 falsely seen with p_v 0.4 (needs > 0.4):
    # one threshold for all classes reaches 0.5 at best (0.05), the per-class step then moves class 3 to 0.45
    val = _probs()
    val["frame_prob"][0, :, 1, 2] = 0.9
    val["frame_prob"][0, :, 1, 3] = 0.9
    val["visual_prob"][0, 2], val["visual_prob"][0, 3] = 0.3, 0.4
    ga, gv = _truth()
    gv[0, 2, :] = 1
    th = tune_thresholds(val, ga, gv)
    assert (th.segment, th.audio) == (0.5, 0.5)
    want = np.full(C, 0.05)
    want[3] = 0.45
    assert np.array_equal(th.visual, want)
    pa, pv = binarize_thresholds(val, th)
    assert pv[0, 2].all() and not pv[0, 3].any() and not pa.any()


def test_tuning_never_reads_the_scored_split():
    val = _probs()
    val["frame_prob"][0, 0:5, 0, 1] = 0.3
    val["audio_prob"][0, 1] = 0.9
    ga, gv = _truth()
    ga[0, 1, 0:5] = 1
    test = _probs(2)
    ta, tv = _truth(2)
    a = protocol_result("tuned", test, ta, tv, (val, ga, gv, "val"))
    ta[1, 7, :] = 1  # other test truth: same thresholds
    b = protocol_result("tuned", test, ta, tv, (val, ga, gv, "val"))
    assert a["thresholds"] == b["thresholds"] and a["f_scores"] != b["f_scores"]
    with pytest.raises(ValueError, match="validation split"):
        protocol_result("tuned", test, ta, tv)
    with pytest.raises(ValueError, match="unknown post-processing protocol"):
        protocol_result("cmpae", test, ta, tv)
    assert GRID[0] == 0.05 and GRID[-1] == 0.95 and len(GRID) == 19


def _metrics(tmp_path, name, value, protocols=None):
    f = {k: value for k in METRICS}
    path = tmp_path / f"{name}.json"
    doc = {"model": name, "split": "test", "n_videos": 3, "f_scores": f, "seed": 1, "select_on": "val"}
    if protocols:
        doc["protocols"] = {p: {"gate": "modality", "f_scores": {k: v for k in METRICS}} for p, v in protocols.items()}
    path.write_text(json.dumps(doc))
    return path


def test_tables_label_each_protocol_and_leave_runs_without_them_unchanged(tmp_path):
    plain = [_metrics(tmp_path, "han", 50.0)]
    text, csv_text = results_markdown(plain), results_csv(plain)
    assert "ours, protocol" not in text and "Post-processed" not in text and "protocol" not in csv_text
    scored = [_metrics(tmp_path, "ma", 50.0, {"tuned": 61.0, "llp": 40.0})]
    text = results_markdown(scored)
    lines = [ln for ln in text.splitlines() if ln.startswith("| ma")]
    assert lines[0].startswith("| ma | ours | 50.0 / 50.0")
    assert lines[1].startswith("| ma | ours, protocol llp | 40.0 / 40.0")  # protocols in their fixed order
    assert lines[2].startswith("| ma | ours, protocol tuned | 61.0 / 61.0")
    assert "chosen on the validation split" in text and "post-processed with protocol P" in text
    rows = results_csv(scored).splitlines()
    assert rows[1].startswith("ma,ours,50.00") and rows[2].startswith("ma,ours (protocol llp),40.00")
    assert rows[3].startswith("ma,ours (protocol tuned),61.00")
