"""LFAV through the workflow's stages: planning its released features and rows, LFAV's protocol scoring a
split, and the epoch kept as LFAV's code keeps it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avvp_pipeline.data.datasets.lfav import CLASSES
from avvp_pipeline.data.feature_sets import FeatureSet
from avvp_pipeline.dataset_plan import dataset_kind
from avvp_pipeline.evaluation.evaluate import evaluate_probs
from avvp_pipeline.evaluation.lfav_metrics import LFAV_KEYS, lfav_scores
from avvp_pipeline.models.rows import full_options, spec
from avvp_pipeline.plan import PlanError
from avvp_pipeline.stage_plan import stage_configs
from avvp_pipeline.training.trainer import Selection

LFAV_RELEASED = {
    "dataset": {"name": "lfav", "annotations_dir": "a"},
    "features": {"source": "released", "released_dir": "r"},
    "train": {"models": ["han_lfav"]},
}


def _cfg(models):
    return {**LFAV_RELEASED, "train": {"models": models}}


def test_lfav_plans_its_released_features_and_refuses_rows_reading_other_kinds_in_one_line():
    assert dataset_kind(_cfg(["han_lfav"])) == "lfav"
    with pytest.raises(PlanError, match="train.models has han, which reads resnet152 features; LFAV's release has"):
        dataset_kind(_cfg(["han_lfav", "han"]))
    with pytest.raises(PlanError, match="valor\\+\\+, which reads clap_htsat, clip_vitl14 features"):
        dataset_kind(_cfg(["valor++"]))


def test_han_lfav_reads_lfavs_kinds_with_its_recipe():
    assert spec("han_lfav").features == ("vggish", "resnet18", "r2plus1d_18")
    opts = full_options("han_lfav")
    assert (opts["epochs"], opts["batch_size"], opts["lr"], opts["step_size"]) == (30, 16, 1e-4, 10)
    assert (opts["select_metric"], opts["gate"], opts["visual_smoothing"]) == ("selection", "modality", 1.0)


def test_stage_configs_import_lfavs_layout_and_score_with_its_protocol():
    from avvp_pipeline.plan import DataSource

    cfg = {
        **LFAV_RELEASED,
        "features": {
            "source": "released",
            "released_dir": "r",
            "weights": "random",
            "weights_dir": None,
            "seed": 0,
            "precision": "fp32",
            "batch_videos": 8,
            "visual": {},
            "audio": {},
        },
        "evaluate": {"split": "test", "gate": "auto"},
    }
    stages = stage_configs(cfg, DataSource("a", None, released_dir="r", release="lfav"))
    assert stages["features_import"]["release"] == "lfav"
    assert stages["evaluate"]["scorer"] == "lfav"
    llp = {**cfg, "dataset": {"annotations_dir": "a"}}
    assert "scorer" not in stage_configs(llp, DataSource("a", None, released_dir="r"))["evaluate"]


def _split(seed: int = 0) -> tuple[FeatureSet, dict]:
    rng = np.random.default_rng(seed)
    n, t, c = 4, 9, len(CLASSES)
    lengths = np.array([9, 5, 7, 3])
    gt_a = (rng.random((n, c, t)) < 0.3).astype(np.uint8)
    gt_a[0, :, 0] = 1  # every class has a true second in each modality and both: no NaN AP
    gt_v = (rng.random((n, c, t)) < 0.3).astype(np.uint8)
    gt_v[0, :, 0] = 1
    empty = torch.zeros(n, t, 1)
    fs = FeatureSet(
        "val",
        [],
        [f"v{i}" for i in range(n)],
        empty,
        empty,
        empty,
        torch.zeros(n, c),
        gt_a,
        gt_v,
        lengths=lengths,
        classes=CLASSES,
    )
    probs = {
        "frame_prob": rng.random((n, t, 2, c)),
        "global_prob": rng.random((n, c)),
        "audio_prob": rng.random((n, c)),
        "visual_prob": rng.random((n, c)),
    }
    return fs, probs


def test_the_lfav_scorer_is_lfavs_protocol_on_each_videos_length():
    fs, probs = _split()
    got = evaluate_probs(probs, fs, "global", scorer="lfav")
    want = lfav_scores(
        probs["frame_prob"], probs["audio_prob"], probs["visual_prob"], fs.gt_audio, fs.gt_visual, fs.lengths
    )
    assert tuple(got) == LFAV_KEYS
    assert got == want and not np.isnan(got["selection"])
    assert evaluate_probs(probs, fs, "global")["seg_type"] != got["seg_type"]  # the global gate is not LFAV's


def test_lfav_selection_keeps_only_a_strictly_better_score_never_nan():
    model = torch.nn.Linear(1, 1)
    sel = Selection(keep_last=False, strict=True)
    sel.offer(model, 1, float("nan"))
    assert sel.best_state is None
    sel.offer(model, 2, 30.0)
    sel.offer(model, 3, 30.0)  # a tie does not replace (LLP's rule, >=, would)
    sel.offer(model, 4, float("nan"))
    assert (sel.best_epoch, sel.best) == (2, 30.0)
    loose = Selection(keep_last=False)
    loose.offer(model, 2, 30.0)
    loose.offer(model, 3, 30.0)
    assert loose.best_epoch == 3
