"""The papers' protocol: MA's rows keep their last epoch, `select` overrides it, and the paper config
selects on test exactly for the CM-Co-recipe rows it trains."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from snakemake.utils import update_config, validate

from avvp_pipeline.data.feature_sets import FeatureSet
from avvp_pipeline.models.checkpoint import TrainedModel
from avvp_pipeline.models.rows import keeps_last_epoch, spec, train_options
from avvp_pipeline.training.config import TrainConfig
from avvp_pipeline.training.trainer import train

REPO = Path(__file__).resolve().parents[1]
RELEASED_CONFIG = REPO / "workflow/configs/llp-released.yaml"
PAPER_CONFIG = REPO / "workflow/configs/llp-released-paper.yaml"  # an overlay of RELEASED_CONFIG
SCHEMA = REPO / "workflow/schemas/config.schema.yaml"


def _tiny_set(split, n, seed):
    """Random features, one class per video, refined labels equal to the weak ones."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.zeros(n, 25)
    labels[torch.arange(n), torch.arange(n) % 3] = 1
    gt = np.zeros((n, 25, 10), np.uint8)
    gt[np.arange(n), np.arange(n) % 3] = 1
    fs = FeatureSet(
        split,
        [f"v{i:010d}_0_10" for i in range(n)],
        [f"v{i:010d}" for i in range(n)],
        torch.randn(n, 10, 128, generator=g),
        torch.randn(n, 80, 2048, generator=g),
        torch.randn(n, 10, 512, generator=g),
        labels,
        gt,
        gt.copy(),
    )
    fs.labels_audio, fs.labels_visual = labels.clone(), labels.clone()
    return fs


def _train(tmp_path, monkeypatch, name, **options):
    """Train ``name`` 3 epochs with its recipe on tiny features; the selection score falls every epoch."""
    import avvp_pipeline.training.trainer as T

    scores = iter([60.0, 50.0, 40.0])
    monkeypatch.setattr(T, "evaluate_probs", lambda *a, **k: {"seg_type": next(scores)})
    opts = train_options(name, {"epochs": 3, "batch_size": 8, "early_stop": 1, "select_metric": "seg_type", **options})
    cfg = TrainConfig.from_dict({**opts, "device": "cpu"})
    return train(name, _tiny_set("train", 8, 0), _tiny_set("val", 3, 1), cfg, tmp_path, provenance={}, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ma", "ma+cmco"])
def test_ma_rows_keep_their_last_epoch_by_default(tmp_path, monkeypatch, name):
    assert spec(name).select == "last" and keeps_last_epoch(name)
    summary = _train(tmp_path, monkeypatch, name)
    # a falling score would select epoch 1 and stop after epoch 2: the last epoch is kept, no early stop
    assert summary["selected_epoch"] == 3


def test_ma_recipe_is_mas_twelve_epochs():
    assert train_options("ma")["epochs"] == train_options("ma_base")["epochs"] == 12


@pytest.mark.slow
def test_select_option_overrides_the_rows_default(tmp_path, monkeypatch):
    assert _train(tmp_path / "ma", monkeypatch, "ma", select="best")["selected_epoch"] == 1
    assert _train(tmp_path / "han", monkeypatch, "han")["selected_epoch"] == 1
    assert _train(tmp_path / "han_last", monkeypatch, "han", select="last")["selected_epoch"] == 3


def test_select_option_is_checked():
    with pytest.raises(ValueError, match="train option select must be one of auto, best, last, got 'first'"):
        TrainConfig.from_dict({"select": "first"})


def test_metrics_record_the_selection_split():
    def ckpt(model, **train_config):
        return TrainedModel(
            Path("model.pt"), None, model, train_config, {}, None, {"select_on": train_config.get("select_on", "val")}
        )

    assert (ckpt("han+ours", select="auto", select_on="test")).select_on == "test"
    assert (ckpt("han", select="auto", select_on="val")).select_on == "val"
    assert (ckpt("ma", select="auto", select_on="test")).select_on is None  # last epoch: no selection
    assert (ckpt("ma", select="best", select_on="val")).select_on == "val"
    assert (ckpt("han")).select_on == "val"  # a model.pt from before the select option


def _leaves(d: dict, prefix: str = "") -> dict:
    """``{"a.b": value}`` for every non-dict value of a nested dict."""
    out = {}
    for k, v in d.items():
        out.update(_leaves(v, f"{prefix}{k}.") if isinstance(v, dict) and v else {f"{prefix}{k}": v})
    return out


def test_paper_config_holds_only_the_keys_it_changes():
    base, overlay = (_leaves(yaml.safe_load(f.read_text())) for f in (RELEASED_CONFIG, PAPER_CONFIG))
    assert overlay and all(base.get(key) != value for key, value in overlay.items())


def test_paper_config_validates_and_selects_on_test_exactly_for_cmco_recipe_rows():
    config = yaml.safe_load(RELEASED_CONFIG.read_text())
    update_config(config, yaml.safe_load(PAPER_CONFIG.read_text()))  # as `--configfile BASE PAPER` merges them
    validate(config, str(SCHEMA))
    train_cfg = config["train"]
    assert config["features"]["source"] == "released"
    on_test = {
        m
        for m in train_cfg["models"]
        if TrainConfig.from_dict(train_options(m, train_cfg["options"], train_cfg["per_model"])).select_on == "test"
    }
    cmco_rows = {m for m in train_cfg["models"] if spec(m).recipe == "cmco"}
    assert on_test == cmco_rows and len(cmco_rows) == 13
    assert set(train_cfg["per_model"]) == cmco_rows  # nothing else is changed per row
    assert {"han", "ma", "ma+cmco"} <= set(train_cfg["models"]) - on_test
