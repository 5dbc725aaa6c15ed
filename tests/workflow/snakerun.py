"""Running the repository's workflow from the tests: the one `python -m snakemake` command, the tiny
synthetic config, and readers of a run's console."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from avvp_pipeline.models.rows import PAPER_ROWS

REPO = Path(__file__).resolve().parents[2]

TINY = {
    "dataset": {
        "annotations_dir": None,  # the demo set, rendered into resources/demo/
        "videos_dir": None,
        "legacy_eval_audio": False,
        "synth": {
            "enabled": True,
            "seed": 5,
            "n_train": 6,
            "n_val": 3,
            "n_test": 3,
            "width": 64,
            "height": 48,
            "fps": 12.0,
        },
    },
    "features": {
        "shard_size": 7,
        "weights": "random",
        "weights_dir": None,
        "seed": 0,
        "precision": "bf16",
        "batch_videos": 4,
        "visual": {"fps": 8, "num_frames": 80, "resnet_resize": 32, "resnet_crop": 32, "r2plus1d_size": 16},
        "audio": {"sample_rate": 16000, "example_hop": 1.0},
    },
    "train": {
        "models": list(PAPER_ROWS),  # all 21 rows of the CM-Co paper's tables
        "options": {"epochs": 2, "batch_size": 4, "feature_norm": "standardize", "init_epoch": 1},
    },
    "evaluate": {"split": "test", "gate": "auto"},
}


def command(workdir: Path | None, *args: str) -> list[str]:
    """`python -m snakemake ARGS`, on the repository's Snakefile in ``workdir`` (None: the current folder's)."""
    where = [] if workdir is None else ["--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir)]
    return [sys.executable, "-m", "snakemake", *where, *args]


def environment(**extra: str) -> dict[str, str]:
    """The environment with this interpreter's bin folder first, so the rules find its `avvp`."""
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **extra)


def snakemake(
    workdir: Path | None,
    *args: str,
    check: bool = True,
    cores: str | None = os.environ.get("AVVP_TEST_CORES", "2"),
    cwd: Path | None = None,
    timeout: float | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run snakemake to the end (``--cores 2``, or this pytest-xdist worker's share of the cores, unless
    ``cores`` says otherwise; None: no flag); with ``check``, a failed run fails the test showing the end
    of its console."""
    cmd = command(workdir, *(["--cores", cores] if cores else []), *args)
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env or environment())
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}")
    return proc


def start_snakemake(workdir: Path, *args: str, **popen) -> subprocess.Popen:
    """Start snakemake in the background (``popen``: subprocess.Popen's keywords)."""
    popen.setdefault("env", environment())
    return subprocess.Popen(command(workdir, *args), **popen)


def write_config(workdir: Path, config: dict | None = None) -> Path:
    """``workdir`` (made if missing) with ``config`` (default :data:`TINY`) as its config.yaml."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(TINY if config is None else config))
    return workdir


def planned_rules(proc: subprocess.CompletedProcess) -> set[str]:
    """Rule names in the 'Job stats' table of a dry run."""
    text = proc.stdout + proc.stderr
    if "Nothing to be done" in text:
        return set()
    table = text.split("Job stats:")[1].split("total")[0]
    return {m.group(1) for m in re.finditer(r"^(\w+)\s+\d+\s*$", table, re.M)}


def planned_outputs(proc: subprocess.CompletedProcess, rule: str) -> list[str]:
    """The 'output:' line of each job of ``rule`` in a dry run."""
    outputs, inside = [], False
    for line in proc.stdout.splitlines():
        if line.startswith(("rule ", "localrule ", "[")):
            inside = line == f"rule {rule}:"
        elif inside and line.strip().startswith("output: "):
            outputs.append(line.strip()[len("output: ") :])
    return outputs


def total_jobs(console: str) -> int:
    """The 'total' of the first 'Job stats' table in a run's console."""
    table = console.split("Job stats:", 1)[1]
    return int(re.search(r"^total\s+(\d+)\s*$", table, re.M).group(1))
