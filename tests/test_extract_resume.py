"""A killed extraction leaves no shard behind, and the rerun yields the same shard as a clean run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

CFG = {
    "weights": "random",
    "precision": "fp32",
    "resnet_resize": 32,
    "resnet_crop": 32,
    "r2plus1d_size": 16,
    "batch_videos": 2,
}


def _extract(videos, out: Path, wait: bool = True):
    cmd = [
        sys.executable,
        "-m",
        "avvp_pipeline.cli",
        "-q",
        "extract",
        "visual",
        "--videos",
        *map(str, videos),
        "--config",
        json.dumps(CFG),
        "--threads",
        "1",
        "--out-resnet152",
        str(out / "r.h5"),
        "--out-r2plus1d-18",
        str(out / "s.h5"),
        "--failures",
        str(out / "f.tsv"),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if wait:
        assert proc.wait() == 0, proc.stderr.read().decode()[-2000:]
    return proc


def _content(path: Path):
    with h5py.File(path) as f:
        return [x.decode() for x in f["video_ids"][:]], f["features"][:], dict(f.attrs)


@pytest.mark.slow
def test_kill_9_then_rerun_gives_the_clean_shard(tiny_set, tmp_path):
    videos = sorted(tiny_set[0].glob("*.mp4"))
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    _extract(videos, clean)
    proc = _extract(videos * 20, killed, wait=False)  # a long run (160 decodes), killed in the middle
    time.sleep(4)
    assert proc.poll() is None, "the extraction finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "r.h5").exists() and not (killed / "s.h5").exists()
    leftovers = [p.name for p in killed.glob(".*.tmp-*")] if killed.exists() else []
    assert leftovers == []
    _extract(videos, killed)
    for name in ("r.h5", "s.h5"):
        ids_a, x_a, attrs_a = _content(clean / name)
        ids_b, x_b, attrs_b = _content(killed / name)
        assert ids_a == ids_b and np.array_equal(x_a, x_b) and attrs_a == attrs_b
        assert (clean / name).read_bytes() == (killed / name).read_bytes()
