"""Packaging and configuration: one place pins torch, envs agree, the demo config validates, CLI helps."""

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib
import yaml

from avvp_pipeline.evaluation.metrics import METRIC_KEYS

REPO = Path(__file__).resolve().parents[1]


def _pins() -> dict[str, str]:
    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    return {m.group(1): m.group(2) for d in deps if (m := re.fullmatch(r"([\w.-]+)==([\w.+-]+)", d))}


def test_torch_triple_pinned_once_and_envs_agree():
    pins = _pins()
    assert {"torch", "torchvision", "torchaudio"} <= set(pins)
    for env in sorted((REPO / "envs").glob("*.yaml")):
        pip = [x for d in yaml.safe_load(env.read_text())["dependencies"] if isinstance(d, dict) for x in d["pip"]]
        for name, version in pins.items():
            listed = [x for x in pip if re.match(rf"{re.escape(name)}\b", x)]
            assert listed == [f"{name}=={version}"], f"{env.name}: {name} should be =={version}, has {listed}"


def test_installed_versions_match_pins():
    import torch
    import torchaudio
    import torchvision

    pins = _pins()
    for module, name in ((torch, "torch"), (torchvision, "torchvision"), (torchaudio, "torchaudio")):
        assert module.__version__.split("+")[0] == pins[name]


def test_demo_config_validates_against_schema():
    from snakemake.utils import validate

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    validate(cfg, str(REPO / "workflow/schemas/config.schema.yaml"))
    bad = yaml.safe_load((REPO / "config.yaml").read_text())
    bad["train"]["epoch"] = 3  # typo: must be refused, not silently ignored
    with pytest.raises(Exception, match="epoch"):
        validate(bad, str(REPO / "workflow/schemas/config.schema.yaml"))


def test_every_config_key_is_commented():
    lines = (REPO / "config.yaml").read_text().splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^\s*[a-z_]+:", line) and "#" not in line:
            above = lines[i - 1].strip() if i else ""
            assert above.startswith("#") or line.rstrip().endswith(":"), f"config.yaml:{i + 1} has no comment: {line}"


@pytest.mark.parametrize(
    "sub", ["synth", "index", "extract", "train", "evaluate", "baseline", "report", "models", "bench"]
)
def test_cli_help(sub):
    out = subprocess.run([sys.executable, "-m", "avvp_pipeline.cli", sub, "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "usage: avvp" in out.stdout


def test_cli_error_is_one_clear_line(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "avvp_pipeline.cli",
            "index",
            "--annotations-dir",
            str(tmp_path),
            "--out",
            str(tmp_path / "i.h5"),
        ],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 1 and "AVVP_train.csv" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_bench_train_reports_epoch_times():
    from avvp_pipeline.bench.train import bench_train

    r = bench_train("han+ours", videos=24, batch_sizes=[8], precisions=("fp32", "bf16"), device="cpu")
    assert r["videos"] == 24
    # the recipe's batch size in fp32 is always measured first, as the reference
    keys = [k for k in r if k.startswith("batch ")]
    assert keys == [
        "batch 64 fp32: s/epoch (10,000 videos)",
        "batch 8 fp32: s/epoch (10,000 videos)",
        "batch 8 bf16: s/epoch (10,000 videos)",
    ]
    assert all(r[k] > 0 for k in keys)
    assert r["reference"].startswith("batch 64 fp32") and "x the reference" in r["fastest"]
    with pytest.raises(ValueError, match="--cuda-graphs needs a CUDA device"):
        bench_train("han", videos=8, batch_sizes=[4], device="cpu", cuda_graphs=True)
    # a VALOR row on its own kinds' shapes (CLAP 64 x 768, CLIP 10 x 768), with pseudo labels
    pp = bench_train("valor++", videos=8, batch_sizes=[4], precisions=("fp32",), device="cpu")
    assert pp["features held in memory (MB)"] == pytest.approx(8 * 4 * (64 * 768 + 10 * 768 + 10 * 512 + 25) / 1e6)


def test_unwritable_output_location_gives_a_clear_error(tmp_path):
    import json
    import subprocess
    import sys

    metrics = tmp_path / "m.json"
    metrics.write_text(
        json.dumps(
            {
                "model": "han",
                "split": "test",
                "n_videos": 1,
                "f_scores": dict.fromkeys(METRIC_KEYS, 50.0),
            }
        )
    )
    blocker = tmp_path / "reports"
    blocker.write_text("a file where the output folder should be")
    proc = subprocess.run(
        [sys.executable, "-m", "avvp_pipeline.cli", "report", str(metrics), "--out", str(blocker / "results.md")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "cannot write" in proc.stderr and str(blocker) in proc.stderr and "Traceback" not in proc.stderr


@pytest.fixture
def full_disk(tmp_path):
    """A 64-KiB tmpfs filled to the last byte (needs root to mount)."""
    import subprocess

    mount = tmp_path / "full"
    mount.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("mounting a small tmpfs needs root (simulates a full disk)")
    try:
        with open(mount / "filler", "wb", buffering=0) as fh:
            try:
                while fh.write(b"\0" * 4096):
                    pass
            except OSError:
                pass
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_full_disk_gives_a_clear_error_and_leaves_no_partial_file(full_disk, tmp_path):
    import json
    import subprocess
    import sys

    from avvp_pipeline.features.store import write_shard

    metrics = tmp_path / "m.json"
    metrics.write_text(
        json.dumps(
            {
                "model": "han",
                "split": "test",
                "n_videos": 1,
                "f_scores": dict.fromkeys(METRIC_KEYS, 50.0),
            }
        )
    )
    out = full_disk / "reports" / "results.md"
    proc = subprocess.run(
        [sys.executable, "-m", "avvp_pipeline.cli", "report", str(metrics), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"cannot write {out}: the disk is full" in proc.stderr
    shard = full_disk / "features" / "shard-0000.h5"
    with pytest.raises(OSError) as exc:
        write_shard(shard, ["a"], np.zeros((1, 80, 2048), np.float32), {"extractor": "resnet152"})
    assert exc.value.errno == errno.ENOSPC and exc.value.filename == str(shard)
    left = sorted(p.name for p in full_disk.rglob("*") if p.is_file())
    assert left == ["filler"], left  # no temporary or half-written output


def test_full_disk_while_saving_a_torch_file_names_it_and_leaves_nothing(full_disk):
    import torch

    from avvp_pipeline.torch_files import save_torch_file

    out = full_disk / "runs" / "han" / "checkpoint.pt"
    with pytest.raises(OSError) as exc:  # torch itself raises a RuntimeError that never says the disk is full
        save_torch_file({"w": torch.zeros(100_000)}, out)
    assert exc.value.errno == errno.ENOSPC and exc.value.filename == str(out)
    assert sorted(p.name for p in full_disk.rglob("*") if p.is_file()) == ["filler"]


def test_cli_shows_the_traceback_of_bad_input_only_with_verbose(tmp_path, caplog):
    from avvp_pipeline.cli import main

    args = ["index", "--annotations-dir", str(tmp_path / "absent"), "--out", str(tmp_path / "index.h5")]
    assert main(args) == 1
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors and "absent" in errors[-1].getMessage() and errors[-1].exc_info is None
    caplog.clear()
    assert main(["-v", *args]) == 1
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert errors and errors[-1].exc_info is not None  # -v: the traceback too


def test_cli_does_not_swallow_a_programming_error(tmp_path):
    import avvp_pipeline.cli as cli

    def broken(args):
        return {}["no such key"]

    parser = cli.build_arg_parser()
    args = parser.parse_args(["models"])
    args.func = broken
    with pytest.raises(KeyError):
        cli.run(args)
