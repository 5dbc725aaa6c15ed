"""The teachers through the whole workflow: pseudo labels taught per shard, merged, trained on and
evaluated; a teacher setting replans the teaching and the training."""

from __future__ import annotations

import json

import pytest
import yaml
from snakerun import TINY, planned_rules, snakemake, write_config

from avvp_pipeline.data.llp import CLASSES
from avvp_pipeline.data.pseudo_labels import pseudo_label_provenance, read_all_pseudo_labels


@pytest.mark.slow
def test_workflow_teaches_pseudo_labels_trains_and_evaluates_valor(tiny_set, tmp_path):

    videos, annotations, _ = tiny_set
    cfg = json.loads(json.dumps(TINY))
    cfg["dataset"]["synth"]["enabled"] = False
    cfg["features"].update(shard_size=3)
    cfg["train"] = {
        "models": ["valor"],
        "options": {"epochs": 2, "batch_size": 4, "warmup_epochs": 1, "feature_norm": "standardize"},
    }
    cfg["pseudo_labels"] = {"source": "teachers", "clap": {"thresholds": {"Dog": 1.0}}}
    wd = write_config(tmp_path / "wd", cfg)
    config = ["--config", f"annotations_dir={annotations}", f"videos_dir={videos}"]
    plan = snakemake(wd, "-n", *config)
    assert {"teach_pseudo_labels", "merge_pseudo_labels", "train", "evaluate", "report"} <= planned_rules(plan)
    snakemake(wd, *config)
    assert planned_rules(snakemake(wd, "-n", *config)) == set()
    labels = wd / "results/pseudo_labels/labels.h5"
    prov = pseudo_label_provenance(labels)
    assert prov["random"] is True and prov["clap"]["thresholds"][CLASSES.index("Dog")] == 1.0
    ids, _, _, _ = read_all_pseudo_labels(labels)
    n_train = len((annotations / "AVVP_train.csv").read_text().splitlines()) - 1
    assert len(ids) == n_train
    log = (wd / "results/logs/teach_pseudo_labels/shard-0000.log").read_text()
    assert "RANDOM" in log
    metrics = json.loads((wd / "results/runs/valor/metrics.json").read_text())
    assert metrics["model"] == "valor"
    summary = json.loads((wd / "results/runs/valor/history.json").read_text())["summary"]
    assert summary["pseudo_labels"]["source"] == "teachers"
    (wd / "other.yaml").write_text(yaml.safe_dump({"pseudo_labels": {"clip": {"thresholds": {"Dog": 3.0}}}}))
    changed = snakemake(wd, "-n", "--configfile", str(wd / "config.yaml"), str(wd / "other.yaml"), *config)
    assert {"teach_pseudo_labels", "merge_pseudo_labels", "train"} <= planned_rules(changed)
