"""VALOR and VALOR++ through the whole workflow on released-layout folders: features and pseudo labels
imported (bad files listed), trained, evaluated and reported beside the published figures."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from snakerun import TINY, planned_rules, snakemake, write_config
from test_released_import import write_release
from test_valor import write_pseudo_release

from avvp_pipeline.data.pseudo_labels import RELEASE_FOLDERS


@pytest.mark.slow
def test_workflow_imports_pseudo_labels_trains_and_evaluates_valor(tiny_set, tmp_path):

    _, annotations, _ = tiny_set

    def split_ids(name: str) -> list[str]:
        return sorted(line.split("\t")[0][:11] for line in (annotations / name).read_text().splitlines()[1:])

    train_ids = split_ids("AVVP_train.csv")
    every = train_ids + split_ids("AVVP_val_pd.csv") + split_ids("AVVP_test_pd.csv")
    write_release(tmp_path / "release", every)
    write_pseudo_release(tmp_path / "valor", every)
    (tmp_path / "valor" / RELEASE_FOLDERS["audio"] / f"{train_ids[0]}.npy").write_text("damaged")
    cfg = json.loads(json.dumps(TINY))
    cfg["dataset"]["synth"]["enabled"] = False
    cfg["features"].update(shard_size=3, source="released")
    cfg["train"] = {
        "models": ["valor"],
        "options": {"epochs": 2, "batch_size": 4, "warmup_epochs": 1, "feature_norm": "standardize"},
    }
    cfg["pseudo_labels"] = {"source": "released", "dir": str(tmp_path / "valor")}
    cfg["evaluate"] = {"split": "test", "gate": "auto", "protocols": ["llp", "tuned"]}
    wd = write_config(tmp_path / "wd", cfg)
    config = ["--config", f"annotations_dir={annotations}", f"released_dir={tmp_path / 'release'}"]
    plan = snakemake(wd, "-n", *config)
    assert {"import_features", "import_pseudo_labels", "train", "evaluate", "report"} <= planned_rules(plan)
    snakemake(wd, *config)
    assert planned_rules(snakemake(wd, "-n", *config)) == set()
    failures = (wd / "results/pseudo_labels/failures.tsv").read_text()
    assert train_ids[0] in failures and "not a .npy file" in failures
    metrics = json.loads((wd / "results/runs/valor/metrics.json").read_text())
    assert metrics["model"] == "valor" and metrics["gate"] == "global"
    assert metrics["protocols"]["llp"]["f_scores"] == metrics["f_scores"]  # VALOR's own gate is llp's
    assert metrics["protocols"]["tuned"]["tuned_on"] == "val"
    model_summary = json.loads((wd / "results/runs/valor/history.json").read_text())["summary"]
    assert model_summary["pseudo_labels"]["source"] == "released"
    report = (wd / "results/reports/results.md").read_text()
    assert "| valor | ours |" in report and "| valor | ours, protocol tuned |" in report
    assert "| *valor* | *published (LLP, VALOR paper)* | - / - | - / - | - / - | 62.0 / 56.7 | 61.5 / 54.2 |" in report
    refused = snakemake(wd, "-n", *config, "pseudo_labels={'source': 'none', 'dir': None}", check=False)
    assert refused.returncode != 0 and "pseudo_labels.source is none" in refused.stdout + refused.stderr


@pytest.mark.slow
def test_workflow_imports_clap_and_clip_features_trains_and_evaluates_valor_plus_plus(tiny_set, tmp_path):
    """`train.models: [valor++]` on a released-layout folder imports only the kinds it reads (CLAP, CLIP,
    R(2+1)D-18; a bad CLAP file is listed and its video skipped) and the pseudo labels, trains, evaluates
    and reports the row beside VALOR's published figures; extraction from videos is refused at planning."""

    _, annotations, _ = tiny_set

    def split_ids(name: str) -> list[str]:
        return sorted(line.split("\t")[0][:11] for line in (annotations / name).read_text().splitlines()[1:])

    train_ids = split_ids("AVVP_train.csv")
    every = train_ids + split_ids("AVVP_val_pd.csv") + split_ids("AVVP_test_pd.csv")
    write_release(tmp_path / "release", every, kinds=("clap_htsat", "clip_vitl14", "r2plus1d_18"))
    np.save(tmp_path / "release/CLAP/features" / f"{train_ids[1]}.npy", np.zeros((10, 128), np.float32))
    write_pseudo_release(tmp_path / "release", every)  # VALOR's CLIP/ and CLAP/ folders hold both
    cfg = json.loads(json.dumps(TINY))
    cfg["dataset"]["synth"]["enabled"] = False
    cfg["features"].update(shard_size=4, source="released")
    cfg["train"] = {
        "models": ["valor++"],
        "options": {"epochs": 2, "batch_size": 4, "warmup_epochs": 1, "hidden": 32, "ffn": 64, "num_layers": 1},
    }
    cfg["pseudo_labels"] = {"source": "released", "dir": str(tmp_path / "release")}
    wd = write_config(tmp_path / "wd", cfg)
    config = ["--config", f"annotations_dir={annotations}", f"released_dir={tmp_path / 'release'}"]
    plan = snakemake(wd, "-n", *config)
    assert {"import_features", "import_pseudo_labels", "train", "evaluate", "report"} <= planned_rules(plan)
    snakemake(wd, *config)
    assert planned_rules(snakemake(wd, "-n", *config)) == set()
    features = wd / "results/features"
    assert sorted(p.name for p in features.iterdir()) == [
        "clap_htsat",
        "clip_vitl14",
        "failures",
        "manifests",
        "r2plus1d_18",
    ]
    failures = "".join(p.read_text() for p in sorted((features / "failures").glob("import-clap_htsat-shard-*.tsv")))
    assert train_ids[1] in failures and "shape (10, 128), expected (64, 768) for CLAP/features" in failures
    trained = torch.load(wd / "results/runs/valor++/model.pt", weights_only=True)
    assert {s: e["kind"] for s, e in trained["inputs"].items()} == {
        "audio": "clap_htsat",
        "visual_2d": "clip_vitl14",
        "visual_3d": "r2plus1d_18",
    }
    assert trained["summary"]["skipped_train"] == [train_ids[1]]
    metrics = json.loads((wd / "results/runs/valor++/metrics.json").read_text())
    assert metrics["model"] == "valor++" and set(metrics["features"]) == {"clap_htsat", "clip_vitl14", "r2plus1d_18"}
    assert metrics["features"]["clap_htsat"]["weights_id"] == "released:CLAP/features"
    report = (wd / "results/reports/results.md").read_text()
    assert "| valor++ | ours |" in report
    published = "| *valor++* | *published (LLP, VALOR paper (CLIP/CLAP features))* | - / - | - / - | - / - |"
    assert published + " 66.2 / 60.4 | 66.8 / 59.0 |" in report
    extract = ["--config", f"annotations_dir={annotations}", "features={'source': 'extract'}"]
    refused = snakemake(wd, "-n", *extract, check=False)
    assert refused.returncode != 0
    assert "which reads the feature kinds clap_htsat, clip_vitl14" in refused.stderr + refused.stdout
