"""The data set description: the ``llp`` reader gives exactly today's arrays, offsets in one convention,
and a data set built from the config's ``dataset`` keys (the lfav and custom readers have their own files)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from conftest import llp_dir
from test_datasets_custom import folder as custom_folder
from test_datasets_lfav import lfav_folder

from avvp_pipeline.cli import run
from avvp_pipeline.data import llp
from avvp_pipeline.data.datasets.config import dataset_from_config, read_dataset
from avvp_pipeline.data.datasets.description import INCLUSIVE, DatasetError, Event, Split, to_internal
from avvp_pipeline.data.datasets.llp import read_llp
from avvp_pipeline.data.index import read_split
from avvp_pipeline.fileio import read_tsv

SPLITS = ("train", "val", "test")


def assert_same_as_the_index(dataset, folder: Path, legacy: bool) -> None:
    for name in SPLITS:
        old, new = read_split(folder, name, legacy_eval_audio=legacy), dataset.splits[name]
        assert new.filenames == old.filenames and new.video_ids == old.video_ids
        assert new.weak.dtype == old.labels.dtype and (new.weak == old.labels).all()
        assert new.lengths == [10] * len(old)
        if name == "train":
            assert new.dense is None
            continue
        for modality, truth in (("audio", old.gt_audio), ("visual", old.gt_visual)):
            array = new.truth_array(modality)
            assert array.dtype == truth.dtype and array.shape == truth.shape and (array == truth).all()


def llp_folder(root: Path) -> Path:
    """A small LLP folder written by data/llp.py, with rows that set nothing and a row of no listed video."""
    root.mkdir()
    llp.write_weak_labels(root / llp.SPLIT_FILES["train"], [("aaaaaaaaaaa_0_10", ["Speech", "Dog"])])
    llp.write_weak_labels(root / llp.SPLIT_FILES["val"], [("bbbbbbbbbbb_5_15", ["Car"]), ("ccccccccccc_0_10", ["Cat"])])
    llp.write_weak_labels(root / llp.SPLIT_FILES["test"], [("JfZEqeLZqWk_30_40", ["Speech"])])
    audio = [
        ("bbbbbbbbbbb_5_15", 2, 5, "Car"),
        ("bbbbbbbbbbb_5_15", 7, 7, "Car"),  # sets nothing
        ("ccccccccccc_0_10", 9, 0, "Dog"),  # sets nothing
        ("JfZEqeLZqWk_30_40", 0, 4, "Speech"),  # a row the 2021 copy lost
        ("zzzzzzzzzzz_0_10", 0, 10, "Speech"),  # no such video
    ]
    llp.write_dense_rows(root / llp.EVAL_AUDIO, audio)
    llp.write_dense_rows(
        root / llp.EVAL_VISUAL, [("ccccccccccc_0_10", 0, 10, "Cat"), ("JfZEqeLZqWk_30_40", 3, 4, "Dog")]
    )
    return root


@pytest.mark.parametrize("legacy", [False, True])
def test_llp_gives_the_index_arrays(tmp_path, legacy):
    folder = llp_folder(tmp_path / "llp")
    dataset = read_llp(folder, legacy_eval_audio=legacy)
    assert dataset.classes == llp.CLASSES and dataset.dense_offsets == "exclusive" and not dataset.weak_per_modality
    assert dataset.warnings == []
    assert_same_as_the_index(dataset, folder, legacy)
    assert dataset.splits["test"].truth("audio", 0)[llp.CLASS_INDEX["Speech"]].any() is not legacy


@pytest.mark.skipif(not (llp_dir() / "AVVP_eval_visual.csv").is_file(), reason="real LLP annotation CSVs not found")
@pytest.mark.parametrize("legacy", [False, True])
def test_llp_gives_the_index_arrays_on_the_real_files(legacy):
    dataset = read_llp(llp_dir(), legacy_eval_audio=legacy)
    assert {name: len(split) for name, split in dataset.splits.items()} == {"train": 10_000, "val": 649, "test": 1_200}
    assert_same_as_the_index(dataset, llp_dir(), legacy)


def test_llp_problems_name_the_file(tmp_path):
    folder = llp_folder(tmp_path / "llp")
    (folder / llp.EVAL_VISUAL).unlink()
    with pytest.raises(DatasetError, match=f"^{folder / llp.EVAL_VISUAL}: file not found$"):
        read_llp(folder)
    (folder / llp.EVAL_VISUAL).write_text("filename\tonset\toffset\tevent_labels\nccccccccccc_0_10\t0\t10\tCow\n")
    with pytest.raises(DatasetError, match=f"^{folder / llp.EVAL_VISUAL}:2: unknown class 'Cow'"):
        read_llp(folder)


def test_offsets_become_half_open_segments():
    assert to_internal(3, 5, "exclusive") == (3, 5)  # LLP: segments 3 and 4
    assert to_internal(3, 5, INCLUSIVE) == (3, 6)  # LFAV: segments 3, 4 and 5
    with pytest.raises(ValueError, match="offset convention 'open'"):
        to_internal(3, 5, "open")


def test_videos_of_different_lengths_have_no_single_array():
    split = Split("val", ["a", "b"], ["a", "b"], np.ones((2, 3), np.uint8), dense={"audio": [[Event(1, 0, 2)], []]})
    split.lengths = [4, 6]
    assert split.truth("audio", 0).tolist() == [[0, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]]
    assert split.truth("audio", 1).shape == (3, 6)
    with pytest.raises(ValueError, match="different or unknown lengths"):
        split.truth_array("audio")


def test_the_config_names_the_kind(tmp_path):
    folder = llp_folder(tmp_path / "llp")
    demo_keys = {"videos_dir": None, "legacy_eval_audio": False, "synth": {"enabled": True}}
    assert dataset_from_config({"annotations_dir": str(folder), **demo_keys}).kind == "llp"  # the default
    lfav = dataset_from_config({"name": "lfav", "annotations_dir": str(lfav_folder(tmp_path / "lfav"))})
    assert lfav.kind == "lfav" and len(lfav.classes) == 35
    lengths = {"bbbbbbbbbbb": 8}  # LLP clips are scored over 10 segments whatever the videos say
    assert dataset_from_config({"annotations_dir": str(folder)}, lengths=lengths).splits["val"].lengths == [10, 10]
    custom = dataset_from_config({"name": "custom", "annotations_dir": str(custom_folder(tmp_path / "custom"))})
    assert custom.kind == "custom" and custom.classes == ("speech", "dog", "doorbell")


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"name": "ave", "annotations_dir": "."}, "dataset.name 'ave': expected llp, lfav, custom"),
        ({"name": "llp", "annotations_dir": ".", "classes": "x"}, "dataset.classes: unknown key"),
        ({"name": "llp", "annotations_dir": ".", "lenient": True}, "dataset.lenient is set for dataset.name llp"),
        (
            {"name": "lfav", "annotations_dir": ".", "legacy_eval_audio": True},
            "dataset.legacy_eval_audio is set for dataset.name lfav: it applies to llp only",
        ),
        ({"name": "custom", "annotations_dir": None}, "dataset.annotations_dir is not set"),
        ({"name": "custom", "annotations_dir": "/nowhere"}, "dataset.annotations_dir /nowhere: folder not found"),
    ],
)
def test_bad_dataset_keys_are_one_line(cfg, message):
    with pytest.raises(DatasetError) as exc:
        dataset_from_config(cfg)
    assert str(exc.value).startswith(message) and "\n" not in str(exc.value)


def test_warnings_are_logged_and_written_and_nothing_is_written_when_refused(tmp_path, caplog):
    out = tmp_path / "out" / "warnings.tsv"
    out.parent.mkdir()
    root = lfav_folder(tmp_path / "lfav")
    dataset = read_dataset({"name": "lfav", "annotations_dir": str(root)}, out)
    rows = read_tsv(out)
    assert rows[0] == ["file", "line", "problem", "action"] and len(rows) == 1 + len(dataset.warnings) == 8
    assert rows[1] == [
        f"{root}/train/train_audio_weakly.csv",
        "2",
        "label ' dog' has spaces around it",
        "read as 'dog'",
    ]
    assert [r.getMessage() for r in caplog.records] == [str(w) for w in dataset.warnings]
    out.unlink()
    (root / "val/val_audio.csv").write_text("filename\tonset\toffset\tevent_labels\nddddddddddd\t0\t3\ttrain\n")
    with pytest.raises(DatasetError, match="val_audio.csv:2: label 'train' is not an LFAV class"):
        read_dataset({"name": "lfav", "annotations_dir": str(root)}, out)
    assert list(out.parent.iterdir()) == []


def test_the_cli_reports_a_refused_data_set_in_one_line(tmp_path, caplog):
    root = custom_folder(tmp_path / "custom", val_tsv=None)
    cfg = {"name": "custom", "annotations_dir": str(root)}
    args = argparse.Namespace(command="index", verbose=False, func=lambda _args: dataset_from_config(cfg))
    assert run(args) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [f"{root}/val.tsv: file not found"]
