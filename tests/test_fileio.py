"""Atomic outputs: temporary files left by killed writers are removed by the next write."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from avvp_pipeline.fileio import atomic_output, write_text


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def live_process():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def test_stale_temporaries_of_the_output_are_removed_live_ones_kept(tmp_path, live_process, caplog):
    out = tmp_path / "shard-0003.h5"
    dead = dead_pid()
    stale = [tmp_path / f".shard-0003.h5.tmp-{dead}", tmp_path / f".shard-0003.h5.tmp-{dead}.h5"]
    live = tmp_path / f".shard-0003.h5.tmp-{live_process.pid}"
    others = [
        tmp_path / f".shard-0004.h5.tmp-{dead}",  # another output's temporary
        tmp_path / f".shard-0003.h5.tmp-{dead}.bak",  # not a temporary name
        tmp_path / f"shard-0003.h5.tmp-{dead}",
    ]
    for p in stale + [live] + others:
        p.write_bytes(b"x" * 1234)
    with caplog.at_level(logging.INFO, logger="avvp_pipeline.fileio"):
        write_text(out, "done")
    assert out.read_text() == "done"
    assert not any(p.exists() for p in stale)
    assert live.exists() and all(p.exists() for p in others)
    for p in stale:
        assert f"removed stale temporary file {p} (1234 bytes) of process {dead}" in caplog.text
    assert str(live) not in caplog.text


def test_stale_temporaries_go_even_when_the_write_fails(tmp_path):
    out = tmp_path / "metrics.json"
    stale = tmp_path / f".metrics.json.tmp-{dead_pid()}"
    stale.write_text("half")
    with pytest.raises(RuntimeError), atomic_output(out):
        raise RuntimeError("writer failed")
    assert not stale.exists() and not out.exists() and list(tmp_path.iterdir()) == []


def test_own_temporaries_and_folders_are_left_alone(tmp_path):
    import os

    from avvp_pipeline.fileio import remove_stale_temporaries

    out = tmp_path / "x.h5"
    mine = tmp_path / f".x.h5.tmp-{os.getpid()}.h5"  # this process is alive
    folder = tmp_path / f".x.h5.tmp-{dead_pid()}"
    mine.write_text("mine")
    folder.mkdir()
    assert remove_stale_temporaries(out) == []
    assert mine.exists() and folder.is_dir()
    assert remove_stale_temporaries(tmp_path / "missing" / "x.h5") == []


def test_temporary_names_are_unique_per_writer(tmp_path):
    """Two writers of one output in one process (threads) never share a temporary file."""
    from avvp_pipeline.fileio import temporary_path

    names = {temporary_path(tmp_path / "shard.h5") for _ in range(3)}
    assert len(names) == 3


def test_inputs_that_are_fifos_are_refused_not_waited_on(tmp_path, fifo):
    """Every reader of a user's file checks its type before it blocks on opening it."""
    from avvp_pipeline.data.index import load_split
    from avvp_pipeline.data.llp import read_weak_labels
    from avvp_pipeline.fileio import NotRegularFile, read_json
    from avvp_pipeline.torch_files import read_torch_file

    for name, read in [
        ("a.json", read_json),
        ("index.h5", lambda p: load_split(p, "train")),
        ("AVVP_train.csv", read_weak_labels),
        ("model.pt", read_torch_file),
    ]:
        path = fifo(tmp_path / name)
        with pytest.raises(NotRegularFile, match=f"{name}: a FIFO, not a regular file"):
            read(path)
