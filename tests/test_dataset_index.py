"""The index of a data set description (``avvp index --dataset``): its classes, splits, weak and dense
labels, and each video's length taken from its feature shards."""

from __future__ import annotations

import logging

import h5py
import numpy as np
from test_datasets_custom import folder

from avvp_pipeline.cli import main
from avvp_pipeline.data.index import index_classes, load_split
from avvp_pipeline.features import store


def _shard(path, lengths: dict[str, int], name="vggish", per_second=1) -> str:
    """A feature shard of ``name`` whose videos last ``lengths`` segments."""
    longest = max(lengths.values())
    feats = np.ones((len(lengths), longest * per_second, 4), dtype=np.float32)
    store.write_shard(path, list(lengths), feats, {"extractor": name}, lengths=np.array(list(lengths.values())))
    return str(path)


def _index(tmp_path, *args: str) -> int:
    return main(["--quiet", "index", "--out", str(tmp_path / "index.h5"), *args])


def test_a_custom_index_holds_the_lengths_of_the_features(tmp_path):
    data = folder(tmp_path / "mine")
    lengths = {"walk_01": 12, "walk_03": 10, "door_02": 8, "walk_04": 10, "door_03": 7}
    audio = _shard(tmp_path / "a.h5", lengths)
    visual = _shard(tmp_path / "v.h5", {**lengths, "walk_01": 11}, "resnet152", 8)
    cfg = f'{{"name": "custom", "annotations_dir": "{data}", "lenient": true}}'
    warnings = tmp_path / "warnings.tsv"
    assert _index(tmp_path, "--dataset", cfg, "--lengths-from", audio, visual, "--warnings", str(warnings)) == 0
    index = tmp_path / "index.h5"
    assert index_classes(index) == (("speech", "dog", "doorbell"), 1.0)
    train, val = load_split(index, "train"), load_split(index, "val")
    # walk_01: the fewest segments of its kinds; the other train videos have no features: one segment
    assert train.filenames == ["walk_01", "walk_02", "door_01", "quiet_01"] and train.lengths.tolist() == [11, 1, 1, 1]
    assert train.labels.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]] and train.gt_audio is None
    assert val.lengths.tolist() == [10, 8] and val.gt_audio.shape == (2, 3, 10)
    assert val.gt_audio[1, 0].tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 0, 0]  # speech [3, 9) cut at door_02's end
    [row] = warnings.read_text().splitlines()[1:]
    assert row.startswith(f"{data / 'dense_audio.tsv'}\t5\tspeech event of door_02") and "cut at segment 7" in row
    with h5py.File(index) as f:
        assert f.attrs["dataset"] == "custom"


def test_an_event_past_the_end_of_a_strict_custom_set_is_one_line_and_no_index(tmp_path, caplog):
    data = folder(tmp_path / "mine")
    shard = _shard(tmp_path / "a.h5", {"walk_03": 10, "door_02": 8})
    cfg = f'{{"name": "custom", "annotations_dir": "{data}"}}'
    with caplog.at_level(logging.ERROR):
        assert _index(tmp_path, "--dataset", cfg, "--lengths-from", shard, "--warnings", str(tmp_path / "w.tsv")) == 1
    [error] = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert error.startswith(f"{data / 'dense_audio.tsv'}:5: speech event of door_02") and "\n" not in error
    assert not (tmp_path / "index.h5").exists() and not (tmp_path / "w.tsv").exists()
