"""The Slurm profile on a real single-node Slurm (Debian's slurm-wlm + munge) on this machine.

Installs the packages when missing (root only), starts the cluster with scripts/slurm-local, runs
the tiny synthetic workflow through snakemake's Slurm executor with workflow/profiles/slurm, and
stops the cluster. The node has no GPU: the GPU rules' requests are set to 0 and their partition
to the node's, as one would for a CPU-only test partition; everything else comes from the profile.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from snakerun import REPO, TINY, snakemake

pytestmark = pytest.mark.slow
GPU_RULES = ("extract_visual", "extract_audio", "train", "refine_labels", "evaluate", "parse")


def _run(*cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def slurm_cluster():
    if os.geteuid() != 0:
        pytest.skip("starting a local Slurm cluster needs root (apt-get, munged, slurmctld, slurmd)")
    if shutil.which("sinfo") is None and shutil.which("apt-get") is None:
        pytest.skip("no Slurm installed and no apt-get to install Debian's slurm-wlm")
    if _run("pgrep", "-x", "slurmctld", check=False).returncode == 0 and not Path("/run/avvp-slurm-local").exists():
        pytest.skip("a Slurm controller that this test did not start is already running here")
    _run(str(REPO / "scripts/slurm-local"), "stop", check=False)
    proc = _run(str(REPO / "scripts/slurm-local"), "start", check=False)
    if proc.returncode != 0:
        _run(str(REPO / "scripts/slurm-local"), "stop", check=False)
        raise AssertionError(f"local Slurm did not start:\n{proc.stdout}\n{proc.stderr}")
    try:
        yield
    finally:
        _run(str(REPO / "scripts/slurm-local"), "stop", check=False)


def local_profile(folder: Path) -> Path:
    """The repository's Slurm profile with this node's partition, no GPUs and small memory requests."""
    prof = yaml.safe_load((REPO / "workflow/profiles/slurm/config.yaml").read_text())
    prof["default-resources"].update(slurm_partition="main", mem_mb=1500)
    for rule, res in prof["set-resources"].items():
        res.update(mem_mb=min(res.get("mem_mb", 1500), 2500), cpus_per_task=1)
        if rule in GPU_RULES:
            res.update(slurm_partition="main", gpu=0)
    prof["set-threads"] = {k: 1 for k in prof["set-threads"]}
    # no accounting database on a one-node test cluster: job states come from squeue
    prof.update(
        {
            "slurm-status-command": "squeue",
            "slurm-no-account": True,
            "slurm-init-seconds-before-status-checks": 2,
            "latency-wait": 10,
            "slurm-keep-successful-logs": True,
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(prof))
    return folder


def test_profile_requests_gpus_only_for_gpu_rules():
    prof = yaml.safe_load((REPO / "workflow/profiles/slurm/config.yaml").read_text())
    assert prof["executor"] == "slurm"
    for rule, res in prof["set-resources"].items():
        assert (res.get("gpu", 0) == 1) == (rule in GPU_RULES), rule
        assert res.get("runtime", 1) > 0 and res.get("mem_mb", 1) > 0
    assert set(prof["groups"]) == {"figures", "report", "baseline_broadcast"}


def test_demo_workflow_runs_through_the_slurm_executor(slurm_cluster, tmp_path):
    cfg = json.loads(json.dumps(TINY))
    cfg["train"]["models"] = ["han", "ma*+ours"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    profile = local_profile(tmp_path / "profile")
    proc = snakemake(tmp_path, "--profile", str(profile), check=False, cores=None, timeout=1500)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    for model in ("han", "ma*+ours"):
        assert (tmp_path / "results/runs" / model / "metrics.json").is_file()
    assert (tmp_path / "results/reports/results.md").is_file()
    # every job went through sbatch: Slurm wrote a log per job, in a folder per rule
    root = tmp_path / ".snakemake" / "slurm_logs"
    logged = {p.relative_to(root).parts[0] for p in root.rglob("*.log")}
    assert {"rule_extract_visual", "rule_train", "rule_refine_labels", "rule_evaluate"} <= logged, logged
    assert any(name.startswith("group_") for name in logged), logged  # the small rules ran as one group job
