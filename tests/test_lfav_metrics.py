"""LFAV's evaluation protocol (``evaluation/lfav_metrics.py``) against the per-video loop transcription of
its official scorer (``evaluation/reference.py: lfav_scores_loop``), and hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from avvp_pipeline.evaluation.lfav_metrics import (
    LFAV_KEYS,
    lfav_predictions,
    lfav_scores,
    snippet_average_precision,
)
from avvp_pipeline.evaluation.reference import lfav_scores_loop, ref_average_precision


def random_inputs(rng, n_max=5, t_cap=300, ties=False):
    n, c = int(rng.integers(1, n_max + 1)), int(rng.integers(1, 41))
    lengths = rng.integers(1, t_cap + 1, size=n)
    t_max = int(lengths.max() + rng.integers(0, 3))
    frame_prob = rng.random((n, t_max, 2, c)).astype(np.float32)
    if ties:  # a few distinct values: the ranking of tied snippets must follow the official one
        frame_prob = np.round(frame_prob * 4) / 4
    gates = [rng.random((n, c)) for _ in range(2)]
    truth = [(rng.random((n, c, t_max)) < rng.choice([0.05, 0.3, 0.7])).astype(np.uint8) for _ in range(2)]
    return frame_prob, *gates, *truth, lengths


def assert_scores(got, want, tol=1e-9):
    assert list(got) == list(LFAV_KEYS)
    for k in LFAV_KEYS:
        if math.isnan(want[k]):
            assert math.isnan(got[k]), k
        else:
            assert got[k] == pytest.approx(want[k], abs=tol), (k, got[k], want[k])


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize("seed", range(6))
def test_equals_the_official_loop(seed, ties):
    rng = np.random.default_rng([seed, ties])
    inputs = random_inputs(rng, ties=ties)
    assert_scores(lfav_scores(*inputs), lfav_scores_loop(*inputs))


def test_equals_the_official_loop_one_second_videos_and_extremes():
    rng = np.random.default_rng(9)
    n, c = 4, 6
    frame_prob = np.stack([np.zeros((n, 3, 2, c)), np.ones((n, 3, 2, c))])[rng.integers(0, 2, n), np.arange(n)]
    gates = np.ones((n, c)), rng.random((n, c))
    truth = np.ones((n, c, 3), dtype=np.uint8), (rng.random((n, c, 3)) < 0.5).astype(np.uint8)
    inputs = (frame_prob.astype(np.float32), *gates, *truth, np.array([1, 3, 1, 2]))
    assert_scores(lfav_scores(*inputs), lfav_scores_loop(*inputs))


def test_average_precision_by_hand():
    # Ranked 0.9 (true), 0.8, 0.7 (true), 0.6: precision 1 at the first positive, 2/3 at the second;
    # recall steps of 1/2 -> AP = 1/2 + 1/2 * 2/3 = 5/6.
    scores = np.array([[[0.9, 0.8, 0.7, 0.6]]])
    truth = np.array([[[1, 0, 1, 0]]])
    assert snippet_average_precision(scores, truth)[0] == pytest.approx(5 / 6, abs=1e-12)
    # Ranked 0.9 (false), 0.8 (true), 0.7 (true): precision 1/2 then 2/3; interpolated, the first
    # positive takes the later 2/3 -> AP = 2/3 (1/2 * 1/2 + 1/2 * 2/3 = 0.583 without interpolation).
    scores = np.array([[[0.9, 0.8, 0.7]]])
    truth = np.array([[[0, 1, 1]]])
    assert snippet_average_precision(scores, truth)[0] == pytest.approx(2 / 3, abs=1e-12)
    assert ref_average_precision(scores[0, 0], [0, 1, 1]) == pytest.approx(2 / 3, abs=1e-12)


def test_snippets_are_pooled_over_videos_within_their_lengths():
    # Two videos of one class: video 0 (2 s) scores 0.9 (true), 0.2; video 1 (1 s of 3) scores 0.5
    # (false) and, past its length, 0.95 (true) which must not count. Ranked 0.9 T, 0.5 F, 0.2 F:
    # one positive found first -> AP 1. Counting the padding, 0.95 T would come first: also 1, but
    # its second positive would lower it -> make the padding's label false and score high instead.
    scores = np.array([[[0.9, 0.2, 0.0]], [[0.5, 0.99, 0.99]]])
    truth = np.array([[[1, 0, 0]], [[0, 0, 0]]])
    assert snippet_average_precision(scores, truth, np.array([2, 1]))[0] == 1.0
    assert snippet_average_precision(scores, truth)[0] == pytest.approx(1 / 3)


def test_class_without_true_snippets_is_nan_as_in_the_official_code():
    rng = np.random.default_rng(0)
    frame_prob, ap, vp, ga, gv, lengths = random_inputs(rng)
    ga[:, 0, :] = 0
    ap_classes = snippet_average_precision(frame_prob[:, :, 0, :].transpose(0, 2, 1), ga, lengths)
    assert np.isnan(ap_classes[0]) and not np.isnan(ap_classes[1:]).any()
    r = lfav_scores(frame_prob, ap, vp, ga, gv, lengths)
    assert math.isnan(r["map_audio"]) and math.isnan(r["map_av"]) and math.isnan(r["selection"])
    assert not math.isnan(r["map_visual"]) and not math.isnan(r["ev_audio"])
    # No true snippet at all: every AP is NaN (and the F-scores are still defined).
    assert np.isnan(snippet_average_precision(ga * 0, ga * 0, lengths)).all()
    assert_scores(
        lfav_scores(frame_prob, ap, vp, ga * 0, gv * 0, lengths),
        lfav_scores_loop(frame_prob, ap, vp, ga * 0, gv * 0, lengths),
    )


def test_gates_are_per_modality_and_map_uses_raw_probabilities():
    # One video, one class, 4 seconds, every snippet 0.8 in both modalities and true in both.
    # Audio gate 0.5 (open, inclusive), visual gate 0.49 (closed): audio predicted everywhere, visual nowhere.
    frame_prob = np.full((1, 4, 2, 1), 0.8, dtype=np.float32)
    truth = np.ones((1, 1, 4), dtype=np.uint8)
    pa, pv = lfav_predictions(frame_prob, np.array([[0.5]]), np.array([[0.49]]), np.array([3]))
    assert pa.tolist() == [[[1, 1, 1, 0]]] and pv.tolist() == [[[0, 0, 0, 0]]]
    r = lfav_scores(frame_prob, np.array([[0.5]]), np.array([[0.49]]), truth, truth, np.array([4]))
    assert r["seg_audio"] == 100.0 and r["seg_visual"] == 0.0 and r["ev_av"] == 0.0
    # The mAPs rank the raw probabilities, gate or not: every snippet is true -> AP 1.
    assert r["map_audio"] == r["map_visual"] == r["map_av"] == r["map_avg"] == 100.0
    # Selection = (map_avg + event-level Type@AV) / 2; Type@AV = (100 + 0 + 0) / 3.
    assert r["ev_type"] == pytest.approx(100 / 3)
    assert r["selection"] == pytest.approx((100 + 100 / 3) / 2)


def test_frame_prob_layout():
    # frame_prob is (video, second, modality, class); predictions are (video, class, second).
    frame_prob = np.zeros((1, 3, 2, 2), dtype=np.float32)
    frame_prob[0, 2, 0, 1] = 0.7  # audio, class 1, second 2
    frame_prob[0, 0, 1, 0] = 0.6  # visual, class 0, second 0
    pa, pv = lfav_predictions(frame_prob, np.ones((1, 2)), np.ones((1, 2)), np.array([3]))
    assert pa.tolist() == [[[0, 0, 0], [0, 0, 1]]] and pv.tolist() == [[[1, 0, 0], [0, 0, 0]]]


def test_input_validation():
    frame_prob = np.zeros((2, 5, 2, 3), dtype=np.float32)
    gate = np.zeros((2, 3))
    truth = np.zeros((2, 3, 5), dtype=np.uint8)
    lengths = np.array([5, 2])
    with pytest.raises(ValueError, match=r"frame_prob must have shape \(N, Tmax, 2, C\)"):
        lfav_scores(frame_prob[:, :, :1], gate, gate, truth, truth, lengths)
    with pytest.raises(ValueError, match=r"visual_prob must have shape \(2, 3\)"):
        lfav_scores(frame_prob, gate, gate[:, :2], truth, truth, lengths)
    with pytest.raises(ValueError, match="same shape"):
        lfav_scores(frame_prob, gate, gate, truth[:, :2], truth, lengths)
    with pytest.raises(ValueError, match=r"lengths must lie in 1 .. 5"):
        lfav_scores(frame_prob, gate, gate, truth, truth, np.array([6, 2]))
    bad = frame_prob.copy()
    bad[1, 4, 0, 0] = np.nan  # past video 1's length: ignored
    lfav_scores(bad, gate, gate, truth, truth, lengths)
    bad[1, 1, 0, 0] = np.nan
    with pytest.raises(ValueError, match="frame_prob contains NaN"):
        lfav_scores(bad, gate, gate, truth, truth, lengths)
