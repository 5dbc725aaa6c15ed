"""`train.seeds` through the workflow: the runs, refinements and figures a dry run plans for unset seeds
and for seed lists, and a run that trains two seeds and aggregates them in the report."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest
import yaml
from snakerun import TINY, planned_outputs, snakemake


def _configure(tmp_path: Path, **train) -> None:
    """The tiny set's config.yaml in ``tmp_path``, ``train`` merged into its train section."""
    cfg = copy.deepcopy(TINY)
    cfg["train"].update(train)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))


def _plan(tmp_path: Path, *args: str, check: bool = True, **train):
    """Dry run (with ``args``) of the tiny set."""
    _configure(tmp_path, **train)
    return snakemake(tmp_path, "-n", *args, check=check)


def _jobs(proc) -> dict[str, list[str]]:
    rules = ("train", "refine_labels", "evaluate", "figures", "report")
    return {rule: sorted(planned_outputs(proc, rule)) for rule in rules}


def test_default_seeds_plan_todays_paths(tmp_path):
    jobs = _jobs(_plan(tmp_path, models=["han", "ma*"]))
    assert jobs["train"] == [
        f"results/runs/{m}/model.pt, results/runs/{m}/history.json" for m in ("han", "ma*", "ma_base")
    ]
    assert jobs["refine_labels"] == ["results/refined/labels.h5"]
    assert jobs["evaluate"] == [
        f"results/runs/{m}/metrics.json, results/runs/{m}/predictions.h5" for m in ("han", "ma*")
    ]
    assert jobs["figures"] == [
        ", ".join(f"results/reports/figures/{m}/{f}.png" for f in ("timelines", "curves", "cooccurrence", "tsne"))
        for m in ("han", "ma*")
    ]
    assert jobs["report"] == ["results/reports/results.md, results/reports/results.csv, results/reports/per_class.csv"]


def test_a_one_seed_list_plans_that_seeds_runs(tmp_path):
    proc = _plan(tmp_path, "-p", models=["han+ours"], seeds=[1])
    assert _jobs(proc)["train"] == ["results/runs/han+ours/seed-1/model.pt, results/runs/han+ours/seed-1/history.json"]
    assert re.search(r"--model han\+ours .*\"seed\":1[,}]", proc.stdout)  # not the CM-Co recipe's 0


def test_two_seeds_plan_every_run_and_mas_chain_per_seed(tmp_path):
    proc = _plan(tmp_path, "-p", models=["han", "ma*"], seeds=[1, 2])
    jobs = _jobs(proc)
    runs = [f"results/runs/{m}/seed-{s}" for m in ("han", "ma*", "ma_base") for s in (1, 2)]
    assert jobs["train"] == [f"{r}/model.pt, {r}/history.json" for r in runs]
    assert jobs["refine_labels"] == ["results/refined/seed-1/labels.h5", "results/refined/seed-2/labels.h5"]
    assert jobs["evaluate"] == [f"{r}/metrics.json, {r}/predictions.h5" for r in runs[:4]]
    assert [j.split(",")[0] for j in jobs["figures"]] == [
        "results/reports/figures/han/timelines.png",
        "results/reports/figures/ma*/timelines.png",
    ]
    assert jobs["report"] == ["results/reports/results.md, results/reports/results.csv, results/reports/per_class.csv"]
    text = proc.stdout
    # each seed's config, MA* on its own seed's refinement, figures from the first seed
    assert re.search(r"--model 'ma\*' .*\"seed\":2.*--refined results/refined/seed-2/labels.h5", text)
    assert re.search(r"--model ma_base .*\"seed\":1.*--out-dir results/runs/ma_base/seed-1", text)
    assert "--predictions 'results/runs/ma*/seed-1/predictions.h5'" in text and "seed-2/predictions.h5 --" not in text


def test_imported_refined_labels_serve_every_seed(tmp_path):
    (tmp_path / "need_to_change_cmco.pkl").write_bytes(b"stand-in")
    _configure(tmp_path, models=["ma*"], seeds=[1, 2])
    cfg = yaml.safe_load((tmp_path / "config.yaml").read_text())
    cfg["refine"] = {"source": "file", "file": str(tmp_path / "need_to_change_cmco.pkl")}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "-n", "-p")
    assert planned_outputs(proc, "refine_labels") == ["results/refined/labels.h5"]
    assert proc.stdout.count("--refined results/refined/labels.h5") == 2 and "ma_base" not in proc.stdout


def test_the_workflow_stops_on_a_seed_set_twice(tmp_path):
    proc = _plan(tmp_path, check=False, models=["han"], seeds=[1, 2], options={"epochs": 1, "seed": 4})
    assert proc.returncode != 0
    assert "train.options.seed and train.seeds [1, 2] both set the training seed" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_two_seeds_train_two_models_and_the_table_aggregates_them(tmp_path):
    import torch

    from avvp_pipeline.torch_files import read_torch_file

    _configure(tmp_path, models=["han"], seeds=[1, 2], options={**TINY["train"]["options"], "epochs": 1})
    snakemake(tmp_path)
    states = [read_torch_file(tmp_path / f"results/runs/han/seed-{s}/model.pt")["state_dict"] for s in (1, 2)]
    assert any(not torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert [json.loads((tmp_path / f"results/runs/han/seed-{s}/metrics.json").read_text())["seed"] for s in (1, 2)] == [
        1,
        2,
    ]
    table = (tmp_path / "results/reports/results.md").read_text()
    assert re.search(r"^\| han \| ours \(n=2\) \| \d+\.\d ± \d+\.\d / ", table, re.M) and "ddof=1" in table
    rows = (tmp_path / "results/reports/results.csv").read_text().splitlines()
    assert [r.split(",")[-2] for r in rows if r.startswith("han,ours,")] == ["1", "2"]
    assert (tmp_path / "results/reports/figures/han/curves.png").is_file() and not (
        tmp_path / "results/runs/han/model.pt"
    ).exists()
