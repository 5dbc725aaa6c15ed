"""The LLP-shaped synthetic feature set and the model benchmark that runs on it."""

import json
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from avvp_pipeline.bench.planted import benchmark_markdown, broadcast_scores, run_benchmark
from avvp_pipeline.bench.planted_features import (
    PlantedFeatureConfig,
    class_profiles,
    companion_of,
    draw_events,
    make_feature_sets,
    signatures,
)
from avvp_pipeline.models.rows import PAPER_ROWS

SMALL = PlantedFeatureConfig(n_train=60, n_val=20, n_test=20)


def test_defaults_are_llp_sized_and_shapes_are_llp_shapes():
    d = PlantedFeatureConfig()
    assert (d.n_train, d.n_val, d.n_test) == (10_000, 649, 1_200)
    sets = make_feature_sets(SMALL)
    tr, te = sets["train"], sets["test"]
    assert tr.audio.shape == (60, 10, 128) and tr.video_s.shape == (60, 80, 2048) and tr.video_st.shape == (60, 10, 512)
    assert tr.audio.dtype == torch.float32 and tr.labels.shape == (60, 25)
    assert tr.gt_audio is None and te.gt_audio.shape == (20, 25, 10)
    # weak labels are the union of the per-second truth, and every video has an event
    gt_a, gt_v = tr.truth
    assert torch.equal(tr.labels, torch.from_numpy((gt_a | gt_v).max(2).astype(np.float32)))
    assert tr.labels.sum(1).min() >= 1
    assert len(PAPER_ROWS) == 21


def test_same_seed_same_data_other_seed_other_data():
    a, b = make_feature_sets(SMALL)["val"], make_feature_sets(SMALL)["val"]
    assert torch.equal(a.video_s, b.video_s) and np.array_equal(a.gt_audio, b.gt_audio)
    c = make_feature_sets(replace(SMALL, seed=1))["val"]
    assert not np.array_equal(a.gt_audio, c.gt_audio)


def test_planted_modality_profiles_and_co_occurrence():
    cfg = PlantedFeatureConfig()
    gt_a, gt_v = draw_events(4000, cfg, np.random.default_rng(0))
    heard, seen = gt_a.max(2).astype(bool), gt_v.max(2).astype(bool)
    present = heard | seen
    prof = class_profiles(cfg)
    audio_leaning = np.flatnonzero(prof[:, 0] > 0.5)
    visual_leaning = np.flatnonzero(prof[:, 1] > 0.5)
    assert len(audio_leaning) == cfg.audio_leaning and len(visual_leaning) == cfg.visual_leaning
    only_heard = (heard & ~seen)[:, audio_leaning].sum() / present[:, audio_leaning].sum()
    only_seen = (seen & ~heard)[:, visual_leaning].sum() / present[:, visual_leaning].sum()
    assert 0.6 < only_heard < 0.8 and 0.6 < only_seen < 0.8
    for lead, companion in companion_of(cfg).items():
        with_lead = present[:, lead]
        assert present[with_lead, companion].mean() > 0.6 > present[~with_lead, companion].mean()
    # the most frequent class is audio-leaning, like Speech in LLP
    assert np.argmax(present.mean(0)) in audio_leaning


def test_features_carry_the_planted_events():
    sets = make_feature_sets(SMALL)
    te = sets["test"]
    sig = signatures(SMALL, "cpu")
    proj = torch.einsum("ntd,cd->nct", te.audio, sig["audio"]).numpy()  # (n, 25, 10)
    on, off = proj[te.gt_audio == 1], proj[te.gt_audio == 0]
    assert on.mean() > off.mean() + 5  # signature norm sqrt(128) * gain in 0.5..1.5 vs noise ~1.6
    proj_v = torch.einsum("ntd,cd->nct", te.video_st, sig["video_st"]).numpy()
    assert proj_v[te.gt_visual == 1].mean() > proj_v[te.gt_visual == 0].mean() + 5


def test_broadcast_scores_perfect_when_every_event_fills_both_modalities():
    gt = np.zeros((3, 25, 10), dtype=np.uint8)
    gt[:, 4] = 1
    test = SimpleNamespace(labels=torch.from_numpy(gt.max(2).astype(np.float32)), gt_audio=gt, gt_visual=gt)
    assert all(v == pytest.approx(100.0) for v in broadcast_scores(test).values())
    gt_v = gt.copy()
    gt_v[:, 4, 5:] = 0  # visible only in the first half: broadcast over-predicts the visual track
    test.gt_visual = gt_v
    assert broadcast_scores(test)["seg_visual"] < 100.0


@pytest.mark.slow
def test_benchmark_trains_rows_and_writes_table(tmp_path):
    result = run_benchmark(["han", "ma*"], SMALL, tmp_path, epochs=1, progress=False)
    saved = json.loads((tmp_path / "results.json").read_text())
    assert set(saved["rows"]) == {"han", "ma*"} and saved["rows"]["han"]["epochs_run"] == 1
    for row in saved["rows"].values():
        assert set(row["f_scores"]) >= {"seg_audio", "ev_event"}
        assert all(0.0 <= v <= 100.0 for v in row["f_scores"].values())
    assert result["refinement"]["videos"] == 60  # ma* went through ma_base and label refinement
    table = (tmp_path / "table.md").read_text()
    assert table == benchmark_markdown(result)
    assert "| han |" in table and "| ma* |" in table and "broadcast" in table and "*Table 1 rows*" in table
    with pytest.raises(ValueError, match="unknown models"):
        run_benchmark(["nope"], SMALL, tmp_path)


def test_noisy_teacher_flips_at_its_error_rate_within_the_weak_label():
    from avvp_pipeline.bench.planted_features import noisy_teacher

    gt_a, gt_v = draw_events(2000, PlantedFeatureConfig(), np.random.default_rng(0))
    perfect = noisy_teacher(gt_a, gt_v, 0.0, seed=0)
    assert np.array_equal(perfect[0], gt_a.transpose(0, 2, 1)) and np.array_equal(perfect[1], gt_v.transpose(0, 2, 1))
    audio, visual = noisy_teacher(gt_a, gt_v, 0.2, seed=0)
    weak = (gt_a | gt_v).max(2).astype(bool)[:, None, :].repeat(10, axis=1)
    assert not audio[~weak].any() and not visual[~weak].any()  # masked to the weak label's classes
    wrong = (audio != gt_a.transpose(0, 2, 1))[weak].mean()
    assert 0.19 < wrong < 0.21
    with pytest.raises(ValueError, match="error_rate"):
        noisy_teacher(gt_a, gt_v, 1.5, seed=0)


def test_benchmark_trains_valor_on_noisy_teacher_labels(tmp_path):
    result = run_benchmark(
        ["valor"],
        SMALL,
        tmp_path,
        epochs=1,
        progress=False,
        teacher_error=0.1,
        options={"hidden": 32, "heads": 4, "ffn": 64},
    )
    assert result["pseudo_labels"]["error_rate"] == 0.1 and result["pseudo_labels"]["entries"] > 0
    assert result["rows"]["valor"]["epochs_run"] == 1 and result["options"]["hidden"] == 32


def test_benchmark_trains_jomold_through_its_estimator_and_noise_ratios(tmp_path):
    """jomold alone: the estimator trains first and its noise ratios, beside the planted truth's share of
    labels absent from each modality, reach the jomold row, as in the workflow."""
    result = run_benchmark(["jomold"], SMALL, tmp_path, epochs=1, progress=False, options={"hidden": 32, "ffn": 32})
    ratios = result["noise_ratios"]
    assert ratios["videos"] == 60 and (tmp_path / "jomold-estimator" / "model.pt").is_file()
    for m in ("audio", "visual"):
        assert len(ratios[f"estimated_{m}"]) == len(ratios[f"planted_{m}"]) == 25
        assert all(0 <= r <= 1 for r in ratios[f"planted_{m}"]) and 0 <= ratios[f"mean_abs_error_{m}"] <= 1
    assert result["rows"]["jomold"]["epochs_run"] == 1 and set(result["rows"]) == {"jomold"}
