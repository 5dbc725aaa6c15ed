"""The released LLP features through the whole workflow: imported, trained on, evaluated and reported;
`avvp parse` and the parse rule refuse a model trained on them."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
from snakerun import TINY, environment, planned_rules, snakemake, write_config
from test_released_import import _path, write_release

from avvp_pipeline.cli import main


@pytest.mark.slow
def test_workflow_imports_trains_evaluates_and_reports(tiny_set, tmp_path):

    _, annotations, _ = tiny_set

    def split_ids(name: str) -> list[str]:
        return sorted(line.split("\t")[0][:11] for line in (annotations / name).read_text().splitlines()[1:])

    train = split_ids("AVVP_train.csv")
    root = tmp_path / "release"
    write_release(root, train + split_ids("AVVP_val_pd.csv") + split_ids("AVVP_test_pd.csv"))
    _path(root, "resnet152", train[0]).unlink()  # planned without it
    np.save(_path(root, "vggish", train[1]), np.zeros((10, 128), np.int8))  # imported without it
    cfg = json.loads(json.dumps(TINY))
    cfg["dataset"]["synth"]["enabled"] = False
    cfg["features"].update(shard_size=3, source="released")
    cfg["train"] = {"models": ["han"], "options": {"epochs": 2, "batch_size": 4, "feature_norm": "standardize"}}
    wd = write_config(tmp_path / "wd", cfg)
    config = ["--config", f"annotations_dir={annotations}", f"released_dir={root}"]
    plan = snakemake(wd, "-n", *config)
    assert {"import_features", "train", "evaluate", "report"} <= planned_rules(plan)
    assert not {"extract_visual", "extract_audio", "synth"} & planned_rules(plan)
    snakemake(wd, *config)
    assert planned_rules(snakemake(wd, "-n", *config)) == set()
    metrics = json.loads((wd / "results/runs/han/metrics.json").read_text())
    assert metrics["features"]["resnet152"]["weights_id"] == "released:res152"
    assert "| han |" in (wd / "results/reports/results.md").read_text()
    failures = "".join(p.read_text() for p in sorted((wd / "results/features/failures").glob("import-*-shard-*.tsv")))
    assert "looks PCA-quantised" in failures and train[1] in failures
    assert main(["verify", str(wd / "results/features")]) == 0
    env = environment()
    proc = subprocess.run(
        [
            "avvp",
            "parse",
            str(tiny_set[0]),
            "--model",
            str(wd / "results/runs/han/model.pt"),
            "--out",
            str(tmp_path / "results/parsed"),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 2 and "trained on the released LLP features" in proc.stderr
    refused = snakemake(wd, "-n", *config, f"parse={{'videos_dir': '{tiny_set[0]}'}}", check=False)
    assert refused.returncode != 0 and "features.source is released" in refused.stdout + refused.stderr
