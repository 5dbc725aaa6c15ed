"""Tests of the LLP evaluation protocol (avvp_pipeline.evaluation.metrics).

A plain loop-based reference implementation, written from the protocol description in
docs/models-and-evaluation.md, section 10, is compared with the vectorised ``llp_f_scores`` on many random cases;
hand-worked cases pin each edge case with numbers computed by hand in the comments.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from avvp_pipeline.evaluation.metrics import (
    METRIC_KEYS,
    binarize_predictions,
    llp_f_scores,
    per_video_scores,
)
from avvp_pipeline.evaluation.reference import llp_f_scores_loop as ref_scores
from avvp_pipeline.evaluation.reference import ref_runs

C, T = 25, 10
KEYS = [
    "seg_audio",
    "seg_visual",
    "seg_av",
    "seg_type",
    "seg_event",
    "ev_audio",
    "ev_visual",
    "ev_av",
    "ev_type",
    "ev_event",
]


def assert_scores(got, want, tol=1e-6):
    assert list(got) == KEYS
    for k in KEYS:
        assert got[k] == pytest.approx(want[k], abs=tol), (k, got[k], want[k])


# --------------------------------------------------------------------------------------------
# Random comparisons with the reference
# --------------------------------------------------------------------------------------------
def random_runs(rng, n, max_runs=5, p_active=0.3):
    """(n, 25, 10) arrays made of a few random intervals per active class."""
    x = np.zeros((n, C, T), dtype=np.uint8)
    active = rng.random((n, C)) < p_active
    for i, c in zip(*np.nonzero(active)):
        for _ in range(rng.integers(1, max_runs + 1)):
            s = int(rng.integers(0, T))
            e = int(rng.integers(s + 1, T + 1))
            x[i, c, s:e] = 1
    return x


def perturb(rng, x, p):
    flip = rng.random(x.shape) < p
    return (x ^ flip).astype(np.uint8)


def _random_case(rng, kind, n):
    if kind == "bernoulli":
        p = rng.choice([0.02, 0.1, 0.3, 0.5, 0.7, 0.95])
        return [(rng.random((n, C, T)) < p).astype(np.uint8) for _ in range(4)]
    if kind == "sparse_classes":
        # few active classes per video, dense inside them; class-counting rule matters
        arrs = []
        for _ in range(4):
            mask = rng.random((n, C, 1)) < 0.08
            arrs.append(((rng.random((n, C, T)) < 0.6) & mask).astype(np.uint8))
        return arrs
    if kind == "runs":
        ga, gv = random_runs(rng, n), random_runs(rng, n)
        # predictions close to the truth so that IoU decisions near 0.5 occur often
        pa = perturb(rng, ga, 0.1) * (rng.random((n, C, 1)) < 0.9)
        pv = perturb(rng, gv, 0.1) * (rng.random((n, C, 1)) < 0.9)
        return [pa.astype(np.uint8), pv.astype(np.uint8), ga, gv]
    if kind == "shifted_runs":
        ga, gv = random_runs(rng, n, max_runs=2), random_runs(rng, n, max_runs=2)
        shift = int(rng.integers(-3, 4))
        pa, pv = np.roll(ga, shift, axis=-1), np.roll(gv, -shift, axis=-1)
        return [pa, pv, ga, gv]
    if kind == "extremes":
        # all-zero and all-one videos mixed per video and per array
        arrs = []
        for _ in range(4):
            choice = rng.integers(0, 3, size=(n, 1, 1))
            rnd = (rng.random((n, C, T)) < 0.5).astype(np.uint8)
            arrs.append(np.where(choice == 0, 0, np.where(choice == 1, 1, rnd)).astype(np.uint8))
        return arrs
    raise AssertionError(kind)


RANDOM_KINDS = ["bernoulli", "sparse_classes", "runs", "shifted_runs", "extremes"]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("kind", RANDOM_KINDS)
def test_matches_reference_random(kind, seed):
    rng = np.random.default_rng([seed, RANDOM_KINDS.index(kind)])
    n = int(rng.integers(1, 9))
    pa, pv, ga, gv = _random_case(rng, kind, n)
    assert_scores(llp_f_scores(pa, pv, ga, gv), ref_scores(pa, pv, ga, gv))


def test_matches_reference_all_code_pairs_class_by_class():
    """Every 10-bit code appears as prediction and as truth, against many partners."""
    rng = np.random.default_rng(7)
    codes = np.arange(1024)
    bits = ((codes[:, None] >> np.arange(T)) & 1).astype(np.uint8)  # (1024, 10)
    n = 1024 // C + 1
    pa = np.zeros((n * C, T), dtype=np.uint8)
    ga = np.zeros((n * C, T), dtype=np.uint8)
    pa[:1024] = bits
    ga[:1024] = bits[rng.permutation(1024)]
    pa, ga = pa.reshape(n, C, T), ga.reshape(n, C, T)
    pv, gv = ga.copy(), pa.copy()  # swap roles for the visual stream
    assert_scores(llp_f_scores(pa, pv, ga, gv), ref_scores(pa, pv, ga, gv))


def test_run_table_exhaustive():
    from avvp_pipeline.evaluation.metrics import _run_table

    start, end, valid = _run_table()
    for code in range(1024):
        seq = [(code >> t) & 1 for t in range(T)]
        want = ref_runs(seq)
        got = [(int(s), int(e)) for s, e, v in zip(start[code], end[code], valid[code]) if v]
        assert got == want, code


def test_per_video_scores_consistent():
    rng = np.random.default_rng(3)
    pa, pv, ga, gv = _random_case(rng, "runs", 6)
    per = per_video_scores(pa, pv, ga, gv)
    res = llp_f_scores(pa, pv, ga, gv)
    assert set(per) == {"segment", "event"}
    for level, prefix in (("segment", "seg"), ("event", "ev")):
        for m in ("audio", "visual", "av", "event"):
            assert per[level][m].shape == (6,)
            assert 100 * per[level][m].mean() == pytest.approx(res[f"{prefix}_{m}"], abs=1e-12)


# --------------------------------------------------------------------------------------------
# Hand-worked cases (one video unless stated; class index, segments as half-open [s, e))
# --------------------------------------------------------------------------------------------
def zeros(n=1):
    return [np.zeros((n, C, T), dtype=np.uint8) for _ in range(4)]


def test_empty_prediction_empty_truth_is_100():
    # No class is counted in any modality -> every per-video score is 1.0 -> 100 everywhere.
    pa, pv, ga, gv = zeros()
    assert llp_f_scores(pa, pv, ga, gv) == {k: 100.0 for k in KEYS}


def test_prediction_on_all_zero_truth_is_0():
    # Truth all zero; audio predicts class 0 on [0, 3).
    # audio: class 0 TP=0 FP=3 FN=0 -> counted, F=0 -> 0 (event: one FP event -> F=0 -> 0).
    # visual and av: nothing predicted, nothing true -> 100.
    # type = (0 + 100 + 100) / 3 = 66.67; Event@AV: class 0 TP=0, FP=3 (events: 1) -> 0.
    pa, pv, ga, gv = zeros()
    pa[0, 0, 0:3] = 1
    want = dict(
        seg_audio=0,
        seg_visual=100,
        seg_av=100,
        seg_type=200 / 3,
        seg_event=0,
        ev_audio=0,
        ev_visual=100,
        ev_av=100,
        ev_type=200 / 3,
        ev_event=0,
    )
    assert_scores(llp_f_scores(pa, pv, ga, gv), want)


def test_class_counted_only_through_false_positives():
    # Truth audio: class 0 on [0, 10). Prediction audio: class 0 on [0, 10), class 1 on [0, 5).
    # class 0: F=1. class 1: TP=0, FP=5 (1 event), FN=0 -> counted only through FP, F=0.
    # audio = mean(1, 0) = 0.5 -> 50 (segment and event). visual, av empty -> 100.
    # Event@AV (summed, visual adds nothing): same two classes -> 50. type = (50+100+100)/3.
    pa, pv, ga, gv = zeros()
    ga[0, 0, :] = 1
    pa[0, 0, :] = 1
    pa[0, 1, 0:5] = 1
    want = dict(
        seg_audio=50,
        seg_visual=100,
        seg_av=100,
        seg_type=250 / 3,
        seg_event=50,
        ev_audio=50,
        ev_visual=100,
        ev_av=100,
        ev_type=250 / 3,
        ev_event=50,
    )
    assert_scores(llp_f_scores(pa, pv, ga, gv), want)


def test_event_iou_exactly_half_is_tp():
    # Audio class 3: pred [0, 2), truth [0, 4): intersection 2, union 4, IoU = 0.5 -> TP.
    # Event: TP=1, FP=0, FN=0 (the truth event is reached) -> F=1 -> 100.
    # Segment: TP=2, FP=0, FN=2 -> F = 4 / 6 -> 66.67.
    pa, pv, ga, gv = zeros()
    pa[0, 3, 0:2] = 1
    ga[0, 3, 0:4] = 1
    r = llp_f_scores(pa, pv, ga, gv)
    assert r["ev_audio"] == pytest.approx(100.0, abs=1e-9)
    assert r["seg_audio"] == pytest.approx(200 / 3, abs=1e-9)
    # Event@AV sums audio + visual (visual empty): same as audio.
    assert r["ev_event"] == pytest.approx(100.0, abs=1e-9)
    assert r["seg_event"] == pytest.approx(200 / 3, abs=1e-9)


def test_event_iou_exactly_half_partial_overlap_is_tp():
    # Visual class 7: pred [0, 3), truth [1, 4): intersection {1, 2} = 2, union {0..3} = 4 -> 0.5 -> TP.
    pa, pv, ga, gv = zeros()
    pv[0, 7, 0:3] = 1
    gv[0, 7, 1:4] = 1
    assert llp_f_scores(pa, pv, ga, gv)["ev_visual"] == pytest.approx(100.0, abs=1e-9)


def test_event_iou_just_below_half_is_not_tp():
    # Audio class 3: pred [0, 2), truth [0, 5): intersection 2, union 5, IoU = 0.4 < 0.5.
    # Event: pred is FP, truth is FN -> TP=0, FP=1, FN=1 -> F=0 -> 0.
    # Segment: TP=2, FP=0, FN=3 -> F = 4 / 7 -> 57.14.
    pa, pv, ga, gv = zeros()
    pa[0, 3, 0:2] = 1
    ga[0, 3, 0:5] = 1
    r = llp_f_scores(pa, pv, ga, gv)
    assert r["ev_audio"] == pytest.approx(0.0, abs=1e-9)
    assert r["seg_audio"] == pytest.approx(400 / 7, abs=1e-9)
    # 4/9 < 0.5 as well: pred [0, 4) vs truth [0, 9).
    pa, pv, ga, gv = zeros()
    pa[0, 3, 0:4] = 1
    ga[0, 3, 0:9] = 1
    assert llp_f_scores(pa, pv, ga, gv)["ev_audio"] == pytest.approx(0.0, abs=1e-9)


def test_long_prediction_over_two_truth_events_not_one_to_one():
    # Audio class 2: truth events [0, 4) and [5, 7); one long predicted event [0, 7).
    # pred vs [0, 4): inter 4, union 7, IoU 0.571 >= 0.5 -> the pred event is a TP.
    # truth [0, 4) is reached -> not FN; truth [5, 7): inter 2, union 7 -> 0.286 -> FN.
    # Matching is "any", not an assignment; a long run overlapping a second truth event does
    # not turn that event into a TP. Event: TP=1, FP=0, FN=1 -> F = 2/3 -> 66.67.
    # Segment: pred 0..6 (7 ones), truth {0,1,2,3,5,6}: TP=6, FP=1 (segment 4), FN=0
    # -> F = 12/13 -> 92.31.
    pa, pv, ga, gv = zeros()
    ga[0, 2, 0:4] = 1
    ga[0, 2, 5:7] = 1
    pa[0, 2, 0:7] = 1
    r = llp_f_scores(pa, pv, ga, gv)
    assert r["ev_audio"] == pytest.approx(200 / 3, abs=1e-9)
    assert r["seg_audio"] == pytest.approx(1200 / 13, abs=1e-9)


def test_touching_predicted_runs_merge():
    # Visual class 4: truth [2, 6); predictions written as [2, 4) and [4, 6) touch and form one
    # run [2, 6) -> a single TP (IoU 1): TP=1, FP=0, FN=0 -> 100. (Kept apart, each half would
    # have IoU 2/4 = 0.5 and count as two TPs.) A second, separate pred [7, 9) is an FP:
    # TP=1, FP=1, FN=0 -> F = 2/3 -> 66.67.
    pa, pv, ga, gv = zeros()
    gv[0, 4, 2:6] = 1
    pv[0, 4, 2:4] = 1
    pv[0, 4, 4:6] = 1
    assert llp_f_scores(pa, pv, ga, gv)["ev_visual"] == pytest.approx(100.0, abs=1e-9)
    pv[0, 4, 7:9] = 1
    assert llp_f_scores(pa, pv, ga, gv)["ev_visual"] == pytest.approx(200 / 3, abs=1e-9)


def test_touching_truth_runs_merge():
    # Audio class 9: truth written as [0, 3) and [3, 6) is one run [0, 6) in the array.
    # pred [0, 2) vs the merged run: inter 2, union 6, IoU 1/3 -> FP, and truth FN -> F=0 -> 0.
    # (Had the rows stayed separate, [0, 2) vs [0, 3) would be IoU 2/3 -> TP.)
    # Segment: TP=2, FP=0, FN=4 -> F = 4/8 -> 50.
    pa, pv, ga, gv = zeros()
    ga[0, 9, 0:3] = 1
    ga[0, 9, 3:6] = 1
    pa[0, 9, 0:2] = 1
    r = llp_f_scores(pa, pv, ga, gv)
    assert r["ev_audio"] == pytest.approx(0.0, abs=1e-9)
    assert r["seg_audio"] == pytest.approx(50.0, abs=1e-9)


def test_event_at_av_sums_counts_not_scores():
    # Class 0: audio pred [0, 10) = audio truth [0, 10); visual pred [0, 10), visual truth empty.
    # audio: TP -> 100. visual: FP only -> 0. av: pred [0, 10) (product), truth empty -> 0.
    # Event@AV sums per class: TP = 1 + 0, FP = 0 + 1, FN = 0 -> F = 2/3 -> 66.67
    # (averaging the audio and visual scores would give 50).
    # Segment: audio 100, visual 0, av 0; summed TP=10, FP=10 -> 20/30 -> 66.67.
    # Type@AV = (100 + 0 + 0) / 3 = 33.33.
    pa, pv, ga, gv = zeros()
    pa[0, 0, :] = 1
    ga[0, 0, :] = 1
    pv[0, 0, :] = 1
    want = dict(
        seg_audio=100,
        seg_visual=0,
        seg_av=0,
        seg_type=100 / 3,
        seg_event=200 / 3,
        ev_audio=100,
        ev_visual=0,
        ev_av=0,
        ev_type=100 / 3,
        ev_event=200 / 3,
    )
    assert_scores(llp_f_scores(pa, pv, ga, gv), want)


def test_event_at_av_with_different_classes():
    # Audio class 0 correct ([0, 5) = [0, 5)); visual class 1 predicted [0, 5) but truth is
    # class 1 on [5, 10). Summed per class: class 0 TP=1 -> 1; class 1 TP=0 FP=1 FN=1 -> 0.
    # Event@AV = mean(1, 0) = 50. Segment: class 0 F=1, class 1 TP=0 FP=5 FN=5 -> 0 -> 50.
    pa, pv, ga, gv = zeros()
    pa[0, 0, 0:5] = 1
    ga[0, 0, 0:5] = 1
    pv[0, 1, 0:5] = 1
    gv[0, 1, 5:10] = 1
    r = llp_f_scores(pa, pv, ga, gv)
    assert r["ev_event"] == pytest.approx(50.0, abs=1e-9)
    assert r["seg_event"] == pytest.approx(50.0, abs=1e-9)


def test_av_from_products():
    # Class 5: truth audio [0, 6), truth visual [3, 10) -> truth av = [3, 6).
    # pred audio [0, 6), pred visual [4, 10) -> pred av = [4, 6).
    # seg: audio 100; visual TP=6, FP=0, FN=1 -> 12/13 = 92.31; av TP=2, FN=1 -> 4/5 = 80.
    # ev: audio 100; visual [4,10) vs [3,10): 6/7 -> TP -> 100; av [4,6) vs [3,6): 2/3 -> 100.
    # Event@AV seg: TP=6+6, FP=0, FN=0+1 -> 24/25 = 96; ev: TP=2, FN=0 -> 100.
    pa, pv, ga, gv = zeros()
    ga[0, 5, 0:6] = 1
    gv[0, 5, 3:10] = 1
    pa[0, 5, 0:6] = 1
    pv[0, 5, 4:10] = 1
    want = dict(
        seg_audio=100,
        seg_visual=1200 / 13,
        seg_av=80,
        seg_type=(100 + 1200 / 13 + 80) / 3,
        seg_event=96,
        ev_audio=100,
        ev_visual=100,
        ev_av=100,
        ev_type=100,
        ev_event=100,
    )
    assert_scores(llp_f_scores(pa, pv, ga, gv), want)
    # Audio and visual of the same class at different times: no av event at all.
    pa, pv, ga, gv = zeros()
    pa[0, 5, 0:3] = 1
    pv[0, 5, 5:8] = 1
    ga[0, 5, 0:3] = 1
    gv[0, 5, 5:8] = 1
    r = llp_f_scores(pa, pv, ga, gv)
    assert r["seg_av"] == r["ev_av"] == 100.0  # nothing predicted, nothing true


def test_mean_over_videos_not_pooled():
    # Video 0 perfect (1.0); video 1: truth class 0 on [0, 10), nothing predicted -> 0.
    # Audio = 100 * mean(1, 0) = 50 (pooling TP/FP/FN over videos would give 2*10/(20+10)=66.7).
    pa, pv, ga, gv = zeros(2)
    pa[0, 0, :] = ga[0, 0, :] = 1
    ga[1, 0, :] = 1
    r = llp_f_scores(pa, pv, ga, gv)
    assert r["seg_audio"] == pytest.approx(50.0, abs=1e-9)
    assert r["ev_audio"] == pytest.approx(50.0, abs=1e-9)


def test_accepts_bool_and_float_and_returns_exact_keys():
    rng = np.random.default_rng(0)
    pa, pv, ga, gv = _random_case(rng, "runs", 4)
    base = llp_f_scores(pa, pv, ga, gv)
    assert tuple(base) == METRIC_KEYS == tuple(KEYS)
    assert all(isinstance(v, float) for v in base.values())
    assert llp_f_scores(pa.astype(bool), pv.astype(bool), ga.astype(bool), gv.astype(bool)) == base
    assert llp_f_scores(pa * 1.0, pv * 1.0, ga.astype(np.float32), gv.astype(np.int64)) == base


def test_input_validation():
    pa, pv, ga, gv = zeros(2)
    with pytest.raises(ValueError, match="shape"):
        llp_f_scores(pa[:, :, :9], pv, ga, gv)
    with pytest.raises(ValueError, match="shape"):
        llp_f_scores(pa[0], pv, ga, gv)
    with pytest.raises(ValueError, match="same shape"):
        llp_f_scores(pa[:1], pv, ga, gv)
    bad = pa.copy()
    bad[0, 0, 0] = 2
    with pytest.raises(ValueError, match="only 0 and 1"):
        llp_f_scores(pa, pv, bad, gv)
    with pytest.raises(ValueError, match="only 0 and 1"):
        llp_f_scores(pa * 0.0 + 0.5, pv, ga, gv)
    with pytest.raises(ValueError, match="at least one video"):
        llp_f_scores(*[x[:0] for x in zeros()])


def test_speed_full_val_test_size():
    rng = np.random.default_rng(0)
    n = 1849
    arrs = [(rng.random((n, C, T)) < 0.3).astype(np.uint8) for _ in range(4)]
    llp_f_scores(*arrs)  # warm the run table
    t0 = time.perf_counter()
    llp_f_scores(*arrs)
    elapsed = time.perf_counter() - t0
    assert elapsed < 0.5, f"llp_f_scores took {elapsed:.3f} s for {n} videos"


# --------------------------------------------------------------------------------------------
# binarize_predictions
# --------------------------------------------------------------------------------------------
def test_binarize_threshold_inclusive_and_global_gate():
    # One video. Audio class 0: segment probs 0.5 at t=0 (>= 0.5 -> 1), 0.49999 at t=1 (-> 0).
    # Global prob of class 0 exactly 0.5 -> gate open. Class 1 has segment prob 0.9 everywhere
    # but global 0.4999 -> gated off. Visual class 2: segment 0.7 at t=3, global 0.8 -> 1.
    fp = np.zeros((1, T, 2, C), dtype=np.float32)
    gp = np.zeros((1, C), dtype=np.float32)
    fp[0, 0, 0, 0] = 0.5
    fp[0, 1, 0, 0] = 0.49999
    fp[0, :, 0, 1] = 0.9
    fp[0, :, 1, 1] = 0.9
    fp[0, 3, 1, 2] = 0.7
    gp[0, 0] = 0.5
    gp[0, 1] = 0.4999
    gp[0, 2] = 0.8
    pa, pv = binarize_predictions(fp, gp)
    assert pa.dtype == np.uint8 and pv.dtype == np.uint8
    assert pa.shape == pv.shape == (1, C, T)
    want_a = np.zeros((1, C, T), dtype=np.uint8)
    want_a[0, 0, 0] = 1
    want_v = np.zeros((1, C, T), dtype=np.uint8)
    want_v[0, 2, 3] = 1
    np.testing.assert_array_equal(pa, want_a)
    np.testing.assert_array_equal(pv, want_v)


def test_binarize_global_gate_applies_to_both_modalities():
    # Class 4 high in both modalities; global opens it -> both set; global closes it -> neither.
    fp = np.zeros((2, T, 2, C))
    fp[:, 2:5, :, 4] = 0.95
    gp = np.zeros((2, C))
    gp[0, 4] = 0.6
    gp[1, 4] = 0.3
    pa, pv = binarize_predictions(fp, gp, gate="global")
    assert pa[0, 4].tolist() == pv[0, 4].tolist() == [0, 0, 1, 1, 1, 0, 0, 0, 0, 0]
    assert pa[1].sum() == pv[1].sum() == 0


def test_binarize_modality_gate():
    # Class 6 high in both modalities at t=0..1; audio_prob 0.5 (open), visual_prob 0.2 (closed):
    # audio set, visual not. global_prob is ignored (None allowed) for gate="modality".
    fp = np.zeros((1, T, 2, C))
    fp[0, 0:2, :, 6] = 0.8
    ap = np.zeros((1, C))
    vp = np.zeros((1, C))
    ap[0, 6] = 0.5
    vp[0, 6] = 0.2
    pa, pv = binarize_predictions(fp, None, gate="modality", audio_prob=ap, visual_prob=vp)
    assert pa[0, 6].tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert pv.sum() == 0
    # the opposite gates
    pa, pv = binarize_predictions(fp, np.ones((1, C)), gate="modality", audio_prob=vp, visual_prob=ap)
    assert pa.sum() == 0 and pv[0, 6].tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 0, 0]


def test_binarize_custom_threshold_and_layout():
    # frame_prob is (N, 10, 2, 25): segment axis 1, modality axis 2, class axis 3.
    rng = np.random.default_rng(5)
    fp = rng.random((3, T, 2, C))
    gp = rng.random((3, C))
    pa, pv = binarize_predictions(fp, gp, threshold=0.3)
    for i in range(3):
        for c in range(C):
            for t in range(T):
                o = 1 if gp[i, c] >= 0.3 else 0
                assert pa[i, c, t] == (1 if fp[i, t, 0, c] >= 0.3 else 0) * o
                assert pv[i, c, t] == (1 if fp[i, t, 1, c] >= 0.3 else 0) * o


def test_binarize_validation():
    fp = np.zeros((2, T, 2, C))
    gp = np.zeros((2, C))
    with pytest.raises(ValueError, match="frame_prob"):
        binarize_predictions(fp[:, :, :1], gp)
    with pytest.raises(ValueError, match="global_prob"):
        binarize_predictions(fp, gp[:1])
    with pytest.raises(ValueError, match="global_prob"):
        binarize_predictions(fp, None)
    with pytest.raises(ValueError, match="audio_prob"):
        binarize_predictions(fp, gp, gate="modality")
    with pytest.raises(ValueError, match="gate"):
        binarize_predictions(fp, gp, gate="nope")
    bad = fp.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        binarize_predictions(bad, gp)


def test_binarize_then_score_end_to_end():
    # Perfect probabilities reproduce the truth: scores 100 everywhere.
    rng = np.random.default_rng(11)
    ga, gv = random_runs(rng, 5), random_runs(rng, 5)
    fp = np.stack([ga.transpose(0, 2, 1), gv.transpose(0, 2, 1)], axis=2).astype(np.float32)
    gp = np.maximum(ga.max(-1), gv.max(-1)).astype(np.float32)
    pa, pv = binarize_predictions(fp, gp)
    np.testing.assert_array_equal(pa, ga)
    np.testing.assert_array_equal(pv, gv)
    assert llp_f_scores(pa, pv, ga, gv) == {k: 100.0 for k in KEYS}
