"""What the workflow plans and refuses in a dry run: speed options as flags, numbers inside `--config`,
the workstation profile, refined labels imported from a file instead of trained through ma_base, all of
LLP with some videos missing; and `snakemake --lint`."""

from __future__ import annotations

import copy
import json
import re
import shutil

import pytest
import yaml
from factories import embeddings_file
from snakerun import REPO, TINY, planned_outputs, planned_rules, snakemake, write_config

from avvp_pipeline.data.pseudo_labels import RELEASE_FOLDERS


def test_the_train_rule_passes_speed_options_as_flags(tmp_path):
    """train.runtime reaches `avvp train` as flags beside --threads, outside the recorded --config."""
    cfg = copy.deepcopy(TINY)
    cfg["train"].update(models=["han"], runtime={"cuda_graphs": True, "eval_batch_size": 8})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    text = snakemake(tmp_path, "-n", "-p").stdout
    command = next(line for line in text.splitlines() if "avvp train " in line)
    assert "--eval-batch-size 8 --cuda-graphs 1" in command and "cuda_graphs" not in command


def test_leap_plans_valors_pseudo_labels_and_its_embedding_file_and_is_refused_without(tmp_path):
    """A LEAP row's train job reads the pseudo labels a VALOR row reads and the class-embedding file
    (an input: a new file retrains it), passed as --label-embeddings; without the file, planning stops."""
    for folder in RELEASE_FOLDERS.values():
        (tmp_path / "valor" / folder).mkdir(parents=True)
    (tmp_path / "glove dir").mkdir()
    embeddings = embeddings_file(tmp_path / "glove dir" / "emb.pt")
    cfg = copy.deepcopy(TINY)
    cfg["train"].update(models=["leap"], leap={"label_embeddings": str(embeddings)})
    cfg["pseudo_labels"] = {"source": "released", "dir": str(tmp_path / "valor")}
    wd = write_config(tmp_path / "wd", cfg)
    proc = snakemake(wd, "-n", "-p")
    assert {"import_pseudo_labels", "train"} <= planned_rules(proc)
    train_job = proc.stdout.split("rule train:", 1)[1].split("\n\n", 1)[0]
    [inputs] = [line.strip() for line in train_job.splitlines() if line.strip().startswith("input: ")]
    assert inputs.endswith(f"results/pseudo_labels/labels.h5, {embeddings}")
    assert "--pseudo-labels results/pseudo_labels/labels.h5 " in train_job
    assert f"--label-embeddings '{embeddings}'" in train_job
    del cfg["train"]["leap"]
    refused = snakemake(write_config(wd, cfg), "-n", check=False)
    assert refused.returncode != 0
    assert "train.models has leap, which read LEAP's class embeddings, but train.leap.label_embeddings is not set" in (
        refused.stdout + refused.stderr
    )


def test_a_nested_numeric_config_plans(tmp_path):
    """`snakemake -n` with numbers inside a `--config` value, as docs/seeds.md writes them."""
    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    config = "train={models: [han], seeds: [1, 2], options: {epochs: 3}}"
    proc = snakemake(tmp_path, "-n", "--config", config, cores="1", check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "results/runs/han/seed-2/model.pt" in proc.stdout


def test_demo_dag_plans_with_the_workstation_profile(tmp_path):
    shutil.copy(REPO / "config.yaml", tmp_path / "config.yaml")
    out = snakemake(tmp_path, "--profile", str(REPO / "workflow/profiles/default"), "-n", cores=None, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    stats = out.stdout.split("Job stats:")[1]
    for rule in (
        "synth",
        "index",
        "extract_visual",
        "extract_audio",
        "train",
        "evaluate",
        "baseline_broadcast",
        "report",
    ):
        assert re.search(rf"^{rule}\s+\d+", stats, re.M), rule


@pytest.mark.slow
def test_workflow_file_source_imports_without_training_ma_base(tmp_path):

    cfg = json.loads(json.dumps(TINY))
    cfg["train"]["models"] = ["han", "ma*", "ma*+ours"]
    (tmp_path / "released dir").mkdir()
    (tmp_path / "released dir/need_to_change_cmco.pkl").write_bytes(b"not read by a dry run")
    cfg["refine"] = {"source": "file", "file": "released dir/need_to_change_cmco.pkl"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "-n", "-p")
    assert "refine_labels" in planned_rules(proc)
    assert sorted(planned_outputs(proc, "train")) == sorted(
        f"results/runs/{m}/model.pt, results/runs/{m}/history.json" for m in ("han", "ma*", "ma*+ours")
    )
    assert (
        "avvp import refined 'released dir/need_to_change_cmco.pkl' --index results/dataset/index.h5 "
        "--annotations-dir resources/demo/annotations --out results/refined/labels.h5"
    ) in proc.stdout

    cfg["refine"] = {"source": "file", "file": "absent.pkl"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0 and "refine.file absent.pkl: no such file" in proc.stdout + proc.stderr

    del cfg["refine"]  # the default: computed through ma_base
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert "results/runs/ma_base/model.pt, results/runs/ma_base/history.json" in planned_outputs(
        snakemake(tmp_path, "-n"), "train"
    )


@pytest.mark.slow
def test_jomold_plans_its_estimator_and_noise_ratios_or_imports_them(tmp_path):
    """`jomold` alone in train.models plans, per seed, jomold-estimator, the noise ratios from its model.pt
    and jomold trained with them; a release file replaces the estimator; a missing one stops planning."""
    cfg = copy.deepcopy(TINY)
    cfg["train"].update(models=["jomold"], seeds=[1, 2])
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "-n", "-p")
    assert sorted(planned_outputs(proc, "train")) == sorted(
        f"results/runs/{m}/seed-{s}/model.pt, results/runs/{m}/seed-{s}/history.json"
        for m in ("jomold", "jomold-estimator")
        for s in (1, 2)
    )
    assert sorted(planned_outputs(proc, "noise_ratios")) == [f"results/jomold/seed-{s}/noise_ratios.h5" for s in (1, 2)]
    assert "avvp noise-ratios --model results/runs/jomold-estimator/seed-2/model.pt --index" in proc.stdout
    command = next(
        line for line in proc.stdout.splitlines() if "avvp train --model jomold " in line and "seed-2" in line
    )
    assert "--noise-ratios results/jomold/seed-2/noise_ratios.h5" in command

    (tmp_path / "release").mkdir()
    (tmp_path / "release/noise_ratios.npz").write_bytes(b"not read by a dry run")
    cfg["noise_ratios"] = {"source": "file", "file": "release/noise_ratios.npz"}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "-n", "-p")
    assert "noise_ratios" not in planned_rules(proc) and "import_noise_ratios" in planned_rules(proc)
    assert {o.split("/")[2] for o in planned_outputs(proc, "train")} == {"jomold"}
    assert "avvp import noise-ratios release/noise_ratios.npz --out results/jomold/noise_ratios.h5" in proc.stdout

    cfg["noise_ratios"] = {"source": "file", "file": None}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0 and "noise_ratios.file is not set" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_lint_is_clean():
    proc = snakemake(REPO, "--lint", cores=None, check=False)
    assert proc.returncode == 0 and "Congratulations" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


@pytest.mark.slow
def test_full_llp_plans_with_missing_videos_skipped(tmp_path):
    """All of LLP planned from the official CSVs (workflow/configs/llp.yaml); absent videos are reported
    and skipped. Timing is in docs/benchmarks.md (`snakemake -n` of this command)."""
    from conftest import llp_dir

    from avvp_pipeline.data import llp

    ann = llp_dir()
    if not (ann / "AVVP_train.csv").is_file():
        pytest.skip(f"LLP annotation CSVs not found in {ann} (set AVVP_LLP_DIR to the shared LLP folder)")
    ids = sorted({llp.video_id(f) for split in llp.SPLIT_FILES.values() for f in llp.read_weak_labels(ann / split)[0]})
    assert len(ids) == 11_849
    videos = tmp_path / "videos"
    videos.mkdir()
    for vid in ids[:-7]:
        (videos / f"{vid}.mp4").touch()
    proc = snakemake(
        tmp_path,
        "-n",
        "--configfile",
        str(REPO / "workflow/configs/llp.yaml"),
        "--config",
        f"annotations_dir={ann}",
        f"videos_dir={videos}",
        cores="8",
    )
    text = proc.stdout + proc.stderr
    assert "7 of 11849 videos are missing" in text
    table = text.split("Job stats:")[1]
    assert re.search(r"^extract_visual\s+12\s*$", table, re.M)  # 11,842 videos in shards of 1024
