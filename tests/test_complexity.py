"""Parameter and cost counts, including the CM-Co paper's Table 4 convention (docs/models-and-evaluation.md,
section 11)."""

import pytest

from avvp_pipeline.models.cmco import HANCoOccurrence
from avvp_pipeline.models.complexity import gflops_per_video, table4_gmacs, table4_parameters, trainable_parameters
from avvp_pipeline.models.han import HAN


def test_han_table4_counts():
    model = HAN(25)
    assert table4_parameters(model) == 2_466_379  # "2.4 M"
    assert table4_gmacs(model) == pytest.approx(64 * 103_659_520 / 1e9)  # 6.634 "GFLOPs"
    assert trainable_parameters(model) == 4_569_675


def test_extra_han_layers_add_10_49_m_macs_per_video():
    # official stacking: every layer runs on the inputs, so each is counted (Table 4: 3 layers 7.976 G)
    three = HAN(25, num_layers=3)
    assert table4_gmacs(three) == pytest.approx(64 * (103_659_520 + 2 * 10_485_760) / 1e9)
    assert table4_gmacs(three) == pytest.approx(7.976, abs=5e-4)


def test_true_flops_exceed_linear_only_count():
    han = HAN(25)
    linear_only = 2 * table4_gmacs(han, batch=1, published=False)
    assert gflops_per_video(han) > linear_only  # attention matmuls come on top
    # averaging the 8 frames before fc_v saves 70 of its 80 row projections per video
    saved = table4_gmacs(han, batch=1) - table4_gmacs(han, batch=1, published=False)
    assert saved == pytest.approx(70 * 2048 * 512 / 1e9)
    assert gflops_per_video(HANCoOccurrence(25)) > gflops_per_video(han)


def test_ave_counts_its_80_frame_projections_once():
    from avvp_pipeline.models.ave_avsdn import AVE

    ave = AVE(25)
    # AVE's fc_v projects every frame (its attention needs them), so the published convention and the
    # true count agree on it: no 8x factor on top of 80 rows
    assert table4_gmacs(ave, batch=1) == pytest.approx(table4_gmacs(ave, batch=1, published=False))
    assert table4_gmacs(ave, batch=1) < table4_gmacs(HAN(25), batch=1) * 1.5


def test_jomold_rows_cost_hans_and_the_estimator_skips_cross_attention():
    """`avvp models`: JoMoLD's network is HAN's (Table 4: 2.4 M, 6.63 G); its estimator runs no cross-modal
    attention, so its true FLOPs are fewer."""
    from avvp_pipeline.models.registry import build_model

    han, estimator, jomold = (build_model(name, {}) for name in ("han", "jomold-estimator", "jomold"))
    assert table4_parameters(jomold) == table4_parameters(estimator) == 2_466_379
    assert table4_gmacs(jomold) == table4_gmacs(estimator) == pytest.approx(6.634, abs=5e-4)
    assert gflops_per_video(jomold) == pytest.approx(gflops_per_video(han))
    assert gflops_per_video(estimator) < gflops_per_video(han)
