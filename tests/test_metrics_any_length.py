"""The LLP protocol at any clip length and class count (``llp_f_scores_padded``, ``per_video_scores_padded``).

Compared with the per-video loop transcription of HAN's scorer (``evaluation/reference.py``, which scores
each video alone at its own length) on random padded inputs, with the 1024-code tables (every pair of
10-second rows) and with ``llp_f_scores`` on LLP's shape; hand-worked cases pin the length handling.
"""

from __future__ import annotations

import numpy as np
import pytest

from avvp_pipeline.evaluation import metrics
from avvp_pipeline.evaluation.metrics import (
    METRIC_KEYS,
    llp_f_scores,
    llp_f_scores_padded,
    per_video_scores,
    per_video_scores_padded,
)
from avvp_pipeline.evaluation.reference import llp_f_scores_loop


def assert_close(got: dict, want: dict, tol: float = 1e-9) -> None:
    assert list(got) == list(METRIC_KEYS)
    for k in METRIC_KEYS:
        assert got[k] == pytest.approx(want[k], abs=tol), (k, got[k], want[k])


def random_intervals(rng, n, c, t_max, lengths, max_runs=6):
    """(n, c, t_max) uint8 made of a few random intervals per active class, some touching the video's end."""
    x = np.zeros((n, c, t_max), dtype=np.uint8)
    for i in range(n):
        for k in np.nonzero(rng.random(c) < 0.4)[0]:
            for _ in range(rng.integers(1, max_runs + 1)):
                s = int(rng.integers(0, lengths[i]))
                e = int(lengths[i]) if rng.random() < 0.3 else int(rng.integers(s + 1, lengths[i] + 1))
                x[i, k, s:e] = 1
    return x


def random_case(rng, kind):
    """Four padded 0/1 arrays and the lengths; the padding holds random values (it must be ignored)."""
    n, c = int(rng.integers(1, 6)), int(rng.integers(1, 41))
    lengths = rng.integers(1, 301, size=n)
    if kind == "length_one":
        lengths[:] = 1
    t_max = int(lengths.max() + rng.integers(0, 4))
    if kind == "bernoulli":
        p = rng.choice([0.02, 0.2, 0.5, 0.9])
        arrays = [(rng.random((n, c, t_max)) < p).astype(np.uint8) for _ in range(4)]
    elif kind == "extremes":  # whole videos all zeros or all ones, per array
        arrays = [np.repeat(rng.integers(0, 2, size=(n, 1, 1)), t_max, axis=2).repeat(c, 1) for _ in range(4)]
    else:  # intervals (predictions near the truth, so overlaps near one half are common), length one
        ga, gv = (random_intervals(rng, n, c, t_max, lengths) for _ in range(2))
        pa, pv = ((g ^ (rng.random(g.shape) < 0.05)).astype(np.uint8) for g in (ga, gv))
        arrays = [pa, pv, ga, gv]
    garbage = rng.random((n, c, t_max)) < 0.5
    pad = np.arange(t_max) >= lengths[:, None, None]
    arrays = [np.where(pad & garbage, 1, a).astype(np.uint8) for a in arrays]
    return arrays, lengths


KINDS = ["bernoulli", "intervals", "extremes", "length_one"]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("kind", KINDS)
def test_padded_equals_the_per_video_loop(kind, seed):
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    arrays, lengths = random_case(rng, kind)
    assert_close(llp_f_scores_padded(*arrays, lengths), llp_f_scores_loop(*arrays, lengths))


def test_tables_equal_runs_for_every_pair_of_ten_second_rows():
    """The general counting and the 1024-code tables give the same TP, FP, FN for all 1024 x 1024 pairs."""
    codes = np.arange(1024)
    bits = ((codes[:, None] >> np.arange(10)) & 1).astype(bool)
    pred = np.repeat(bits, 1024, axis=0).reshape(1024, 1024, 10)
    truth = np.tile(bits, (1024, 1)).reshape(1024, 1024, 10)
    cp, cg = np.repeat(codes, 1024).reshape(1024, 1024), np.tile(codes, 1024).reshape(1024, 1024)
    for dense, table in (
        (metrics._dense_event_counts, metrics._event_counts),
        (metrics._dense_segment_counts, metrics._segment_counts),
    ):
        for got, want in zip(dense(pred, truth), table(cp, cg)):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", range(4))
def test_llp_shape_scores_equal_on_both_paths(seed):
    """On LLP's shape the padded API (tables) and the same videos padded past 10 seconds (runs) give
    exactly ``llp_f_scores`` and ``per_video_scores``."""
    rng = np.random.default_rng(seed)
    n = 300
    arrays = [(rng.random((n, 25, 10)) < p).astype(np.uint8) for p in (0.1, 0.3, 0.1, 0.3)]
    want, want_per = llp_f_scores(*arrays), per_video_scores(*arrays)
    assert llp_f_scores_padded(*arrays) == want
    extra = int(rng.integers(1, 5))
    padded = [np.concatenate([a, rng.integers(0, 2, (n, 25, extra), dtype=np.uint8)], axis=2) for a in arrays]
    lengths = np.full(n, 10)
    assert llp_f_scores_padded(*padded, lengths) == want
    per = per_video_scores_padded(*padded, lengths)
    for level in ("segment", "event"):
        for m in ("audio", "visual", "av", "event"):
            np.testing.assert_array_equal(per[level][m], want_per[level][m])


def test_each_video_scores_as_if_alone():
    rng = np.random.default_rng(3)
    arrays, lengths = random_case(rng, "intervals")
    per = per_video_scores_padded(*arrays, lengths)
    for i, t_i in enumerate(lengths):
        alone = per_video_scores_padded(*[a[i : i + 1, :, :t_i] for a in arrays])
        for level in ("segment", "event"):
            for m in ("audio", "visual", "av", "event"):
                assert per[level][m][i] == alone[level][m][0]


def one_class(t_max):
    return [np.zeros((1, 1, t_max), dtype=np.uint8) for _ in range(4)]


def test_run_touching_the_end_of_a_short_video():
    # Video of 4 seconds padded to 8. Truth audio [2, 4) (touches the end); prediction [2, 8): inside
    # the video it is [2, 4) -> IoU 1 -> event TP, segment TP=2 -> 100. Ones past the length are ignored:
    # scored over 8 seconds it would be IoU 2/6 -> 0 and segment 4/8 -> 50.
    pa, pv, ga, gv = one_class(8)
    ga[0, 0, 2:4] = 1
    pa[0, 0, 2:8] = 1
    r = llp_f_scores_padded(pa, pv, ga, gv, [4])
    assert r["ev_audio"] == r["seg_audio"] == 100.0
    r8 = llp_f_scores_padded(pa, pv, ga, gv)
    assert r8["ev_audio"] == 0.0 and r8["seg_audio"] == pytest.approx(50.0)


def test_long_video_overlap_of_one_half():
    # 300 seconds; visual truth [0, 60), prediction [30, 90): intersection 30, union 90 -> 1/3 -> FP and FN.
    # Prediction [30, 60) instead: intersection 30, union 60 -> exactly 0.5 -> TP -> 100.
    pa, pv, ga, gv = one_class(300)
    gv[0, 0, 0:60] = 1
    pv[0, 0, 30:90] = 1
    assert llp_f_scores_padded(pa, pv, ga, gv)["ev_visual"] == 0.0
    pv[0, 0, 60:90] = 0
    assert llp_f_scores_padded(pa, pv, ga, gv)["ev_visual"] == 100.0


def test_one_second_videos():
    # Two videos of 1 second in an array of 3: video 0 predicted and true -> 100; video 1 predicts a
    # class that is not true -> 0; the mean is 50 at both levels.
    pa, pv, ga, gv = (np.zeros((2, 2, 3), dtype=np.uint8) for _ in range(4))
    pa[0, 0, 0] = ga[0, 0, 0] = 1
    pa[1, 1, 0] = 1
    ga[1, :, 1:] = 1  # past the length: ignored
    r = llp_f_scores_padded(pa, pv, ga, gv, np.array([1, 1]))
    assert r["seg_audio"] == r["ev_audio"] == 50.0


def test_input_validation():
    pa, pv, ga, gv = one_class(5)
    with pytest.raises(ValueError, match=r"lengths must have shape \(1,\)"):
        llp_f_scores_padded(pa, pv, ga, gv, [3, 4])
    with pytest.raises(ValueError, match=r"lengths must lie in 1 .. 5.*found 6"):
        llp_f_scores_padded(pa, pv, ga, gv, [6])
    with pytest.raises(ValueError, match=r"lengths must lie in 1 .. 5.*found 0"):
        llp_f_scores_padded(pa, pv, ga, gv, [0])
    with pytest.raises(ValueError, match="whole numbers"):
        llp_f_scores_padded(pa, pv, ga, gv, [2.5])
    assert llp_f_scores_padded(pa, pv, ga, gv, [3.0]) == llp_f_scores_padded(pa, pv, ga, gv, [3])
    with pytest.raises(ValueError, match=r"gt_visual must have shape \(N, C, Tmax\)"):
        llp_f_scores_padded(pa, pv, ga, gv[0])
    with pytest.raises(ValueError, match="same shape"):
        llp_f_scores_padded(pa, pv, ga, np.zeros((1, 2, 5)))
    with pytest.raises(ValueError, match="only 0 and 1"):
        llp_f_scores_padded(pa + 2, pv, ga, gv)
    with pytest.raises(ValueError, match="at least one video"):
        llp_f_scores_padded(*[x[:0] for x in (pa, pv, ga, gv)], np.zeros(0, dtype=int))
