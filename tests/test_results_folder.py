"""The results folder: never a folder the run reads, the workflow's source or a system folder; one run
at a time writes it, whichever working folder it starts from."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from avvp_pipeline.plan import PlanError, check_results_dir
from avvp_pipeline.results_lock import LOCK_NAME, ResultsLocked, lock_results

REPO = Path(__file__).resolve().parents[1]


def _config(tmp_path: Path, results: str, **dataset) -> dict:
    return {"results_dir": results, "dataset": dataset, "refine": {"file": str(tmp_path / "labels/cmco.pkl")}}


@pytest.mark.parametrize("results", ["/", "/etc", "/etc/avvp", "/proc/self", "/usr/local/results", "/var", "/tmp"])
def test_system_folders_are_refused(tmp_path, results):
    with pytest.raises(PlanError, match=r"^results_dir /\S* .*system") as err:
        check_results_dir({"results_dir": results}, str(REPO))
    assert "\n" not in str(err.value)


def test_home_itself_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(PlanError, match="system or shared folder"):
        check_results_dir({"results_dir": str(tmp_path)}, str(REPO))
    check_results_dir({"results_dir": str(tmp_path / "results")}, str(REPO))


@pytest.mark.parametrize(
    ("results", "words"),
    [
        ("ann", "is dataset.annotations_dir"),
        ("ann/results", "lies inside dataset.annotations_dir"),
        (".", "contains dataset.annotations_dir"),
        ("videos/x", "lies inside dataset.videos_dir"),
        ("labels", "contains refine.file"),
    ],
)
def test_input_folders_are_refused(tmp_path, monkeypatch, results, words):
    monkeypatch.chdir(tmp_path)
    config = _config(tmp_path, results, annotations_dir="ann", videos_dir=str(tmp_path / "videos"))
    with pytest.raises(PlanError, match=words):
        check_results_dir(config, str(REPO))


def test_results_beside_a_read_file_are_fine(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    check_results_dir({"results_dir": "results", "refine": {"file": "need_to_change_cmco.pkl"}}, str(REPO))


def test_teacher_and_release_folders_are_refused(tmp_path):
    config = {
        "results_dir": str(tmp_path / "w/clip/out"),
        "features": {"released_dir": str(tmp_path / "feats")},
        "pseudo_labels": {"source": "teachers", "clip": {"weights": str(tmp_path / "w/clip")}},
    }
    with pytest.raises(PlanError, match="lies inside pseudo_labels.clip.weights"):
        check_results_dir(config, str(REPO))
    config["results_dir"] = str(tmp_path)
    with pytest.raises(PlanError, match="contains features.released_dir"):
        check_results_dir(config, str(REPO))


@pytest.mark.parametrize("results", [".", "..", "avvp_pipeline", "workflow/out", "docs"])
def test_the_source_tree_is_refused_but_its_results_folder_is_not(monkeypatch, results):
    monkeypatch.chdir(REPO)
    with pytest.raises(PlanError, match="workflow's source"):
        check_results_dir({"results_dir": results}, str(REPO))
    check_results_dir({"results_dir": "results"}, str(REPO))
    check_results_dir({"results_dir": "results-llp/run1"}, str(REPO))


def _hold(folder: Path) -> subprocess.Popen:
    """Another process holding ``folder``'s lock until it is killed."""
    code = f"from avvp_pipeline.results_lock import lock_results; lock_results({str(folder)!r}); input()"
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, cwd=REPO, env=_env())
    for _ in range(200):
        if (folder / LOCK_NAME).is_file() and (folder / LOCK_NAME).read_text().strip():
            return proc
        time.sleep(0.05)
    raise AssertionError("the holder did not take the lock")


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(REPO), PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")


def test_a_held_results_folder_is_refused_naming_the_holder(tmp_path):
    holder = _hold(tmp_path / "shared")
    try:
        with pytest.raises(ResultsLocked) as err:
            lock_results(str(tmp_path / "shared"))
        message = str(err.value)
        assert message.startswith(f"results_dir {tmp_path / 'shared'} is in use by another run")
        assert f"pid {holder.pid}, working folder {REPO}" in message
        assert "\n" not in message
    finally:
        holder.kill()
        holder.wait()
    lock_results(str(tmp_path / "shared"))  # released with the holder: a leftover file blocks nothing
    assert json.loads((tmp_path / "shared" / LOCK_NAME).read_text())["pid"] == os.getpid()


def _snakemake(workdir: Path, *args: str, **kw) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir)]
    return subprocess.Popen([*cmd, "--cores", "1", *args], env=_env(), text=True, **kw)


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
