"""Faults and reproducibility of the whole workflow, run by Snakemake on a tiny synthetic set.

- Two runs from scratch give bitwise-identical feature shards and identical models and metrics,
  even when scheduled differently.
- Under the default profile (``resources: gpu: 1``) no two GPU jobs overlap in time; with two
  cards declared they do (so the check can see an overlap).
- kill -9 of the whole run during extraction and again during training, then ``--unlock`` and a
  rerun: training resumes from its checkpoint and every output equals the uninterrupted run's.
- A shard damaged after it was written stops the stage that reads it with an error naming it; the
  shard is moved aside and the next run rebuilds exactly that shard. A deleted shard is rebuilt.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from snakerun import REPO, TINY, planned_rules, snakemake, start_snakemake, write_config

pytestmark = pytest.mark.slow

GPU_RULES = ("extract_visual", "extract_audio", "train", "refine_labels", "evaluate", "parse")
# One thread per job and four cores, so that only the GPU resource can keep GPU jobs apart.
ONE_THREAD = ["--set-threads", *(f"{r}=1" for r in ("synth", *GPU_RULES)), "--cores", "4"]
DEFAULT_PROFILE = ["--profile", str(REPO / "workflow/profiles/default"), *ONE_THREAD]
FAULT_CFG = copy.deepcopy(TINY)
FAULT_CFG["train"]["models"] = ["han"]
FAULT_CFG["train"]["options"]["epochs"] = 60  # long enough (about 10 s here) to be killed in the middle
STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO avvp: avvp .* (started|finished after)", re.M)


def gpu_intervals(workdir: Path) -> dict[str, tuple[datetime, datetime]]:
    """(start, end) of every GPU job, from the first and last lines `avvp` writes to the rule's log."""
    spans = {}
    for rule in GPU_RULES:
        for log in sorted((workdir / "results/logs" / rule).glob("*.log")):
            stamps = [datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f") for m in STAMP.finditer(log.read_text())]
            assert len(stamps) == 2, f"{log}: no start and finish lines"
            spans[f"{rule}/{log.stem}"] = (stamps[0], stamps[1])
    return spans


def overlaps(spans: dict[str, tuple[datetime, datetime]]) -> list[tuple[str, str]]:
    """Pairs of jobs whose intervals intersect."""
    items = sorted(spans.items(), key=lambda kv: kv[1][0])
    return [(a, b) for i, (a, (_, end_a)) in enumerate(items) for b, (start_b, _) in items[i + 1 :] if start_b < end_a]


def test_overlap_check_finds_intersections():
    t = lambda s: datetime(2026, 1, 1, 0, 0, s)  # noqa: E731
    assert overlaps({"a": (t(0), t(5)), "b": (t(5), t(9)), "c": (t(10), t(12))}) == []
    assert overlaps({"a": (t(0), t(5)), "b": (t(4), t(9)), "c": (t(1), t(2))}) == [("a", "c"), ("a", "b")]


def run_until_killed(workdir: Path, ready, args: list[str], timeout: float = 600) -> None:
    """Start snakemake, and kill -9 its whole process group (it and every job) once ``ready()``."""
    with open(workdir / "killed-run.log", "a") as out:
        proc = start_snakemake(workdir, *args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while not ready():
            assert proc.poll() is None, f"the run ended before it could be killed:\n{read_tail(workdir)}"
            assert time.monotonic() < deadline, "timed out waiting for the moment to kill"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def read_tail(workdir: Path) -> str:
    return (workdir / "killed-run.log").read_text()[-3000:]


def assert_same_outputs(a: Path, b: Path) -> None:
    """Shards byte for byte; trained weights, metrics and predictions exactly."""
    shards = sorted(p.relative_to(a) for p in (a / "results/features").rglob("shard-*.h5"))
    assert len(shards) == 6, shards  # 2 shards x 3 extractors
    for rel in shards:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), f"{rel} differs"
    for rel in sorted(p.relative_to(a) for p in (a / "results/features/failures").glob("*.tsv")):
        assert (a / rel).read_text() == (b / rel).read_text(), rel
    ma, mb = (torch.load(w / "results/runs/han/model.pt", weights_only=False) for w in (a, b))
    assert ma["summary"] == mb["summary"]
    assert ma["state_dict"].keys() == mb["state_dict"].keys()
    for k in ma["state_dict"]:
        assert torch.equal(ma["state_dict"][k], mb["state_dict"][k]), f"weight {k} differs"
    assert json.loads((a / "results/runs/han/metrics.json").read_text()) == json.loads(
        (b / "results/runs/han/metrics.json").read_text()
    )
    with h5py.File(a / "results/runs/han/predictions.h5") as fa, h5py.File(b / "results/runs/han/predictions.h5") as fb:
        assert fa["frame_prob"].shape[0] == 3
        for name in ("frame_prob", "pred_audio", "pred_visual"):
            np.testing.assert_array_equal(fa[name][:], fb[name][:], err_msg=name)
    assert (a / "results/reports/results.csv").read_text() == (b / "results/reports/results.csv").read_text()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """One uninterrupted run under the default profile."""
    workdir = write_config(tmp_path_factory.mktemp("reference"), FAULT_CFG)
    snakemake(workdir, *DEFAULT_PROFILE)
    return workdir


def test_default_profile_never_runs_two_gpu_jobs_at_once(reference):
    spans = gpu_intervals(reference)
    assert len(spans) == 6, spans  # 2 visual + 2 audio shards, train, evaluate: up to 4 were ready at once
    assert overlaps(spans) == []


def test_two_runs_from_scratch_are_identical(reference, tmp_path):
    """The second run declares two cards, so its GPU jobs do overlap: a different schedule, same bytes."""
    again = write_config(tmp_path / "again", FAULT_CFG)
    snakemake(again, *ONE_THREAD, "--resources", "gpu=2")
    assert overlaps(gpu_intervals(again)), "with two GPUs declared, no GPU jobs overlapped"
    assert_same_outputs(reference, again)


def test_kill_9_during_extraction_and_training_then_rerun(reference, tmp_path):
    wd = write_config(tmp_path / "killed", FAULT_CFG)

    def extracting():
        return any("visual features of" in p.read_text() for p in (wd / "results/logs/extract_visual").glob("*.log"))

    run_until_killed(wd, extracting, DEFAULT_PROFILE)
    assert not (wd / "results/features/resnet152/shard-0000.h5").exists(), "the extraction finished before the kill"
    locked = snakemake(wd, *DEFAULT_PROFILE, check=False)
    assert locked.returncode != 0 and "--unlock" in locked.stdout + locked.stderr
    snakemake(wd, "--unlock")

    def training_midway() -> bool:  # a checkpoint exists, so the rerun has something to resume from
        ckpt = wd / "results/runs/han/checkpoint.pt"
        return ckpt.exists() and not (wd / "results/runs/han/model.pt").exists()

    run_until_killed(wd, training_midway, DEFAULT_PROFILE)
    assert (wd / "results/runs/han/checkpoint.pt").exists() and not (wd / "results/runs/han/model.pt").exists()
    snakemake(wd, "--unlock")
    snakemake(wd, *DEFAULT_PROFILE)
    assert re.search(r"resuming han from epoch (\d+)", (wd / "results/logs/train/han.log").read_text())
    assert not (wd / "results/runs/han/checkpoint.pt").exists()
    assert_same_outputs(reference, wd)


def test_damaged_or_deleted_shard_is_rebuilt(reference, tmp_path):
    wd = tmp_path / "damaged"
    shutil.copytree(reference, wd, symlinks=True)
    shard = wd / "results/features/resnet152/shard-0001.h5"
    with h5py.File(shard, "r+") as f:  # one value changes; the checksum attribute does not
        f["features"][0, 0, 0] += 1.0
    failed = snakemake(wd, *DEFAULT_PROFILE, check=False)
    assert failed.returncode != 0
    train_log = (wd / "results/logs/train/han.log").read_text()
    assert f"{shard.relative_to(wd)}: content does not match its checksum" in train_log
    assert "rerun snakemake to rebuild it" in train_log and "Traceback" not in train_log
    assert not shard.exists() and shard.with_name("shard-0001.h5.corrupt").exists()
    planned = snakemake(wd, *DEFAULT_PROFILE, "-n")
    assert "extract_visual" in planned_rules(planned) and "extract_audio" not in planned_rules(planned)
    # that shard only (the job shows its one-line message)
    assert len(re.findall(r"^\s*Job \d+: extract_visual: shard ", planned.stdout, re.M)) == 1
    snakemake(wd, *DEFAULT_PROFILE)
    assert_same_outputs(reference, wd)

    (wd / "results/features/vggish/shard-0000.h5").unlink()
    planned = planned_rules(snakemake(wd, *DEFAULT_PROFILE, "-n"))
    assert "extract_audio" in planned and "extract_visual" not in planned
    snakemake(wd, *DEFAULT_PROFILE)
    assert_same_outputs(reference, wd)
