"""scripts/device-check runs every step (tiny, on the CPU) and writes its JSON summary."""

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_device_check_cpu_smoke_writes_every_result(tmp_path):
    env = {**os.environ, "OUT": str(tmp_path / "out")}
    proc = subprocess.run(
        [str(REPO / "scripts/device-check"), "--cpu-smoke"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((tmp_path / "out/summary.json").read_text())
    assert summary["mode"] == "cpu-smoke" and summary["failed steps"] == []
    extract = summary["bench-extract"]
    assert extract["visual: max |difference| of the features, pipeline vs sequential"] == 0.0
    assert extract["visual, pipeline (shared memory, overlapped): ResNet-152, s"] > 0
    assert summary["bench-transport"]["speed-up of shared memory over the pipe"] > 0
    assert summary["bench-decode"]["now, videos/s (1 process)"] > 0
    assert summary["bench-lfav-train"], "no epoch on videos of different lengths"
    for name in ("bench-train-han", "bench-train-ma"):
        assert summary[name]["videos"] == 16
