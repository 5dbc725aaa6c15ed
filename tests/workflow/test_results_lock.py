"""Two working folders with one results folder: a real run holds it, a second real run is refused while
dry runs still plan."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import yaml
from snakerun import REPO, environment, start_snakemake

from avvp_pipeline.results_lock import LOCK_NAME


def _snakemake(workdir, *args: str, **popen) -> subprocess.Popen:
    return start_snakemake(workdir, "--cores", "1", *args, env=environment(PYTHONPATH=str(REPO)), text=True, **popen)


@pytest.mark.slow
def test_two_working_folders_cannot_share_a_results_folder(tmp_path):
    """A real run holds the results folder; a second real run from another working folder is refused,
    while dry runs still plan."""
    shared = tmp_path / "shared-results"
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    config["results_dir"] = str(shared)
    config["dataset"]["synth"].update(n_train=3, n_val=2, n_test=2)
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "config.yaml").write_text(yaml.safe_dump(config))
    first = _snakemake(a, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(600):
            if (shared / LOCK_NAME).is_file() and (shared / LOCK_NAME).read_text().strip():
                break
            assert first.poll() is None, "the first run ended before taking the lock"
            time.sleep(0.1)
        os.killpg(first.pid, signal.SIGSTOP)  # keeps the lock while the second run starts
        dry = _snakemake(b, "-n", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert dry.wait() == 0, dry.stderr.read()[-2000:]
        second = _snakemake(b, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _, err = second.communicate()
        assert second.returncode != 0
        assert f"results_dir {shared} is in use by another run (host " in err
        assert f"pid {first.pid}, working folder {a}," in err
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
