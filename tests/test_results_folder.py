"""The results folder: never a folder the run reads, the workflow's source or a system folder; one run
at a time writes it, whichever working folder it starts from."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from avvp_pipeline.plan import PlanError
from avvp_pipeline.plan_results_dir import check_results_dir
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
    # the repository's parent may itself be a system folder (a clone in /tmp): refused either way
    words = "workflow's source|system or shared folder" if results == ".." else "workflow's source"
    with pytest.raises(PlanError, match=words):
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
