"""Inputs that cannot be read are named as inputs, with their problem; never as outputs that cannot be written."""

from __future__ import annotations

import logging
import os

import numpy as np
import pytest

from avvp_pipeline.cli import main
from avvp_pipeline.data.index import load_split
from avvp_pipeline.features.store import CorruptShard, load_features, write_shard
from avvp_pipeline.fileio import read_json


@pytest.mark.parametrize(
    "content, problem",
    [(b"", "the file is empty (0 bytes), not an index file"), (b"id,label\n" * 10, "no HDF5 signature")],
    ids=["empty", "not-hdf5"],
)
def test_a_damaged_hdf5_input_is_named_with_its_problem(tmp_path, caplog, content, problem):
    index = tmp_path / "index.h5"
    index.write_bytes(content)
    out = tmp_path / "metrics.json"
    with caplog.at_level(logging.ERROR):
        assert main(["baseline", "--index", str(index), "--split", "test", "--out", str(out)]) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].startswith(f"{index}: ") and problem in errors[0], errors
    assert "cannot write" not in errors[0] and not out.exists()


def _as_another_user(fn) -> str:
    """``fn()``'s error as ``TYPE: message``, run where the files it reads are unreadable: in a child
    process that drops root's right to read any file (uid nobody), or as this non-root user."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        try:
            os.close(read_end)
            if os.geteuid() == 0:
                os.setgid(65534)
                os.setuid(65534)
            try:
                fn()
                said = "no error"
            except Exception as exc:
                said = f"{type(exc).__name__}: {exc}"
            os.write(write_end, said.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as fh:
        said = fh.read().decode()
    os.waitpid(pid, 0)
    return said


def test_an_unreadable_input_says_it_cannot_be_read(tmp_path):
    index, doc, shard = tmp_path / "index.h5", tmp_path / "metrics.json", tmp_path / "shard-0000.h5"
    write_shard(shard, ["a"], np.zeros((1, 3, 4), np.float32), {"extractor": "vggish"})
    index.write_bytes(shard.read_bytes())
    doc.write_text("{}")
    for p in (index, doc, shard):
        p.chmod(0)
    try:
        said = _as_another_user(lambda: load_split(index, "test"))
        assert said == f"ValueError: {index}: no permission to read it", said
        said = _as_another_user(lambda: read_json(doc))
        assert said == f"ValueError: {doc}: no permission to read it", said
        # not taken for a damaged shard, so never moved aside, even inside the workflow's results folder
        said = _as_another_user(lambda: load_features([shard], workflow_results=tmp_path))
        assert said == f"ValueError: {shard}: no permission to read it", said
        assert CorruptShard.__name__ not in said and shard.exists()
    finally:
        for p in (index, doc, shard):
            p.chmod(0o644)
