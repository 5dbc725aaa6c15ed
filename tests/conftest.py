"""Shared fixtures (tiny synthetic clips made by the package's own generator) and the markers of the
heavy tests: `workflow` (everything under tests/workflow/ runs Snakemake), `media` (tests that render
or decode videos with ffmpeg), `browser` (tests that drive Chromium)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_TESTS = REPO / "tests" / "workflow"
# a test using one of these fixtures needs ffmpeg (it renders or decodes videos)
MEDIA_FIXTURES = {"real_clip", "tiny_set"}


def pytest_configure(config):
    """Under pytest-xdist, each worker's share of the cores: its torch threads, and (``AVVP_TEST_CORES``) the
    ``--cores`` of the snakemake runs it starts. Workers using every core each would oversubscribe the CPU,
    which costs torch's thread pool about a third of its speed on two cores."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if not workers:
        return
    share = str(max(1, len(os.sched_getaffinity(0)) // workers))
    for var in ("AVVP_TEST_CORES", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, share)
    import torch

    torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))


def pytest_collection_modifyitems(items):
    # the longest files first (Snakemake runs, then other slow tests), so that under pytest-xdist they do
    # not finish last on one worker while the other waits
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: (WORKFLOW_TESTS not in Path(item.path).parents, item.path not in slow_files))
    for item in items:
        if WORKFLOW_TESTS in Path(item.path).parents:
            item.add_marker(pytest.mark.workflow)
        if MEDIA_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.media)
        if "browser" in item.fixturenames:
            item.add_marker(pytest.mark.browser)


def llp_dir() -> Path:
    """The shared LLP folder (CSV annotations and one real clip), overridable by AVVP_LLP_DIR."""
    return Path(os.environ.get("AVVP_LLP_DIR", REPO.parent / "shared" / "llp"))


@pytest.fixture(scope="session")
def real_clip() -> Path:
    clip = llp_dir() / "BjCEufrlXm4.mp4"
    if not clip.is_file():
        pytest.skip(f"real LLP clip not found at {clip} (set AVVP_LLP_DIR to the shared LLP folder)")
    return clip


TINY_SYNTH = dict(seed=3, n_train=4, n_val=2, n_test=2, width=64, height=48, fps=12.0)


@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory):
    """A tiny rendered synthetic set: ``(videos_dir, annotations_dir, spec)``."""
    from avvp_pipeline.data.synth.generator import generate
    from avvp_pipeline.data.synth.spec import SynthSpec

    root = tmp_path_factory.mktemp("tiny_set")
    spec = SynthSpec.from_dict(TINY_SYNTH)
    generate(spec, root / "videos", root / "annotations", jobs=1, progress=False)
    return root / "videos", root / "annotations", spec


@pytest.fixture
def fifo():
    """``make(path)``: a FIFO at ``path``; a writer opens it after a few seconds and closes it at once, so
    code that opens it blocks for a while and then reads it empty, instead of hanging the test run."""
    import threading

    made = []

    def unblock(path: Path) -> None:
        fd = os.open(path, os.O_WRONLY)  # blocks until a reader opens it (or the fixture's teardown does)
        os.close(fd)

    def make(path: Path) -> Path:
        os.mkfifo(path)
        made.append(path)
        threading.Timer(3.0, unblock, (path,)).start()
        return path

    yield make
    for path in made:  # release a writer still waiting for a reader
        try:
            os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
        except OSError:
            pass


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """Tests never reach the internet: offline mode is on unless a test turns it off (the download tests,
    which serve their files from 127.0.0.1)."""
    monkeypatch.setenv("AVVP_OFFLINE", "1")


@pytest.fixture
def file_server(monkeypatch):
    """A :class:`file_server.FileServer` on 127.0.0.1, with offline mode off."""
    from file_server import FileServer

    monkeypatch.setenv("AVVP_OFFLINE", "0")
    server = FileServer()
    yield server
    server.close()
