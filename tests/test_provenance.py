"""`avvp provenance`: what made a shard, a model, a metrics file."""

import json
import subprocess
import sys

import numpy as np
import pytest
from factories import random_feature_set

from avvp_pipeline.features import store
from avvp_pipeline.provenance import provenance
from avvp_pipeline.training.config import TrainConfig
from avvp_pipeline.training.trainer import train


@pytest.mark.slow
def test_shard_model_and_metrics(tmp_path):
    shard = tmp_path / "shard-0000.h5"
    store.write_shard(
        shard,
        ["vidA", "vidB"],
        np.zeros((2, 10, 128), np.float32),
        {
            "extractor": "vggish",
            "weights_id": "random(seed=2)",
            "weights_sha256": "random",
            "config_json": json.dumps({"sample_rate": 16000}),
            "config_hash": "abc",
        },
    )
    p = provenance(shard)
    assert p["kind"] == "feature shard" and p["attributes"]["weights_id"] == "random(seed=2)"
    assert p["attributes"]["config_json"] == {"sample_rate": 16000}
    assert (
        p["videos"] == {"count": 2, "first": ["vidA", "vidB"]} and p["datasets"]["features"] == "(2, 10, 128) float32"
    )

    fs = random_feature_set(4, label_rate=0.3, ids=["a", "b", "c", "d"])
    feats = {"vggish": {"weights_id": "random(seed=2)"}}
    train(
        "han",
        fs,
        fs,
        TrainConfig(epochs=1, batch_size=2),
        tmp_path / "run",
        feats,
        progress=False,
        feature_configs={"vggish": {"sample_rate": 16000}},
    )
    m = provenance(tmp_path / "run" / "model.pt")
    assert m["kind"] == "trained model" and m["model"] == "han" and m["train_config"]["epochs"] == 1
    assert m["features (inputs)"] == feats and m["feature extraction configs"] == {"vggish": {"sample_rate": 16000}}
    assert m["feature kind and shape per input slot"]["visual_2d"] == {"kind": "resnet152", "shape": [80, 2048]}
    assert provenance(tmp_path / "run" / "history.json")["kind"] == "training history"

    metrics = tmp_path / "metrics.json"
    metrics.write_text(
        json.dumps(
            {"model": "han", "split": "test", "f_scores": {}, "features": feats, "avvp_pipeline_version": "0.1.0"}
        )
    )
    assert provenance(metrics) == {
        "file": str(metrics),
        "kind": "metrics",
        "model": "han",
        "split": "test",
        "features": feats,
        "avvp_pipeline_version": "0.1.0",
    }
    out = subprocess.run(
        [sys.executable, "-m", "avvp_pipeline.cli", "provenance", str(shard)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json.loads(out)["attributes"]["extractor"] == "vggish"
    with pytest.raises(FileNotFoundError):
        provenance(tmp_path / "nope.h5")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(ValueError, match="unknown kind"):
        provenance(tmp_path / "x.txt")
