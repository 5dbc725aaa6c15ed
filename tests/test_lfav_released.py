"""LFAV's released features (one .npy of (seconds, width) per video and kind) imported as feature shards
of videos of different lengths, with the checks of LLP's import."""

from __future__ import annotations

import json

import numpy as np
import pytest
from factories import write_lfav_release

from avvp_pipeline.cli import main
from avvp_pipeline.features import store
from avvp_pipeline.features.kinds import KINDS, LFAV_KINDS, release_folder
from avvp_pipeline.features.released import import_shard, release_path

LENGTHS = {"lfavvideo01": 7, "lfavvideo02": 3, "-lfavvideo3": 12}


def _outputs(out):
    return {name: str(out / f"{name}.h5") for name in LFAV_KINDS}


def test_variable_length_release_is_imported_with_each_videos_length(tmp_path):
    arrays = write_lfav_release(tmp_path / "rel", LENGTHS)
    failures = import_shard(
        list(LENGTHS),
        str(tmp_path / "rel"),
        _outputs(tmp_path),
        str(tmp_path / "f.tsv"),
        {},
        progress=False,
        release="lfav",
    )
    assert failures == []
    for name in LFAV_KINDS:
        shard = store.read_full_shard(tmp_path / f"{name}.h5")
        assert shard.video_ids == list(LENGTHS)
        assert list(shard.extra["lengths"]) == list(LENGTHS.values())
        for i, (vid, seconds) in enumerate(LENGTHS.items()):
            np.testing.assert_array_equal(shard.features[i, :seconds], arrays[name][vid])
            assert not shard.features[i, seconds:].any()
        assert shard.attrs["source"] == "released"
        assert shard.attrs["released_folder"].endswith(KINDS[name].lfav_folder)


@pytest.mark.parametrize(
    "array, reason",
    [
        (np.zeros((5, 127), np.float32), "shape (5, 127), expected (seconds, 128)"),
        (np.zeros((0, 128), np.float32), "shape (0, 128), expected (seconds, 128)"),
        (np.zeros(128, np.float32), "shape (128,), expected (seconds, 128)"),
        (np.array([None, 1], dtype=object), "object array (needs unpickling, refused)"),
        (np.full((4, 128), np.nan, np.float32), "512 NaN/Inf values"),
    ],
)
def test_a_bad_lfav_file_is_a_failures_line_and_costs_only_its_video(tmp_path, array, reason):
    write_lfav_release(tmp_path / "rel", LENGTHS)
    bad = release_path(str(tmp_path / "rel"), "vggish", "lfavvideo02", "lfav")
    np.save(bad, array)
    failures = import_shard(
        list(LENGTHS),
        str(tmp_path / "rel"),
        _outputs(tmp_path),
        str(tmp_path / "f.tsv"),
        {},
        progress=False,
        release="lfav",
    )
    assert [(vid, path) for vid, path, _ in failures] == [("lfavvideo02", bad)]
    assert reason in failures[0][2]
    assert len((tmp_path / "f.tsv").read_text().splitlines()) == 2  # header + one line
    for name in LFAV_KINDS:
        shard = store.read_full_shard(tmp_path / f"{name}.h5")
        assert shard.video_ids == ["lfavvideo01", "-lfavvideo3"]
        assert list(shard.extra["lengths"]) == [7, 12]


def test_a_kind_not_in_the_release_is_refused_in_one_line(tmp_path):
    write_lfav_release(tmp_path / "rel", LENGTHS)
    with pytest.raises(ValueError, match="LFAV's release has no resnet152 features"):
        import_shard(
            list(LENGTHS),
            str(tmp_path / "rel"),
            {"resnet152": str(tmp_path / "r.h5")},
            str(tmp_path / "f.tsv"),
            {},
            progress=False,
            release="lfav",
        )
    with pytest.raises(ValueError, match="LLP's release has no resnet18 features"):
        release_folder("resnet18", "llp")


def test_cli_imports_the_lfav_layout_and_records_the_release(tmp_path):
    write_lfav_release(tmp_path / "rel", LENGTHS)
    out = tmp_path / "audio.h5"
    rc = main(
        [
            "--quiet",
            "import",
            "features",
            "--released-dir",
            str(tmp_path / "rel"),
            "--release",
            "lfav",
            "--out-vggish",
            str(out),
            "--failures",
            str(tmp_path / "f.tsv"),
            "--",
            *LENGTHS,
        ]
    )
    assert rc == 0
    shard = store.read_full_shard(out)
    assert list(shard.extra["lengths"]) == list(LENGTHS.values())
    assert json.loads(shard.attrs["config_json"])["release"] == "lfav"
