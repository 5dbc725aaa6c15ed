"""The ``lfav`` reader on a folder in the release's layout (its file and column names, generated rows) that
holds each kind of error the real files have, read the way the official code reads them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from avvp_pipeline.data.datasets.description import DatasetError
from avvp_pipeline.data.datasets.lfav import CLASS_INDEX, CLASSES, read_lfav

WEAK = "filename\tevent_labels\n"
DENSE = "filename\tonset\toffset\tevent_labels\n"

TRAIN = ["aaaaaaaaaaa", "bbbbbbbbbbb", "ccccccccccc"]
VAL = ["ddddddddddd", "eeeeeeeeeee"]
TEST = ["fffffffffff", "ggggggggggg"]

# file -> rows; the comments name the error each line carries (line numbers count the header as 1)
FILES = {
    "train/train_weakly.csv": (WEAK, ["aaaaaaaaaaa\tspeech,dog", "bbbbbbbbbbb\tcar", "ccccccccccc\tguitar"]),
    "train/train_audio_weakly.csv": (
        WEAK,
        [
            "aaaaaaaaaaa\tspeech, dog",  # line 2: a label with a leading space
            "bbbbbbbbbbb\tsilent",  # line 3: the silent token
            "ccccccccccc\tguitar",
        ],
    ),
    "train/train_visual_weakly.csv": (
        WEAK,
        ["aaaaaaaaaaa\tdog", "bbbbbbbbbbb\tcar,dog,car", "ccccccccccc\tguitar"],  # line 3: a repeated label
    ),
    "val/val_weak_av.csv": (WEAK, ["ddddddddddd\tspeech,car", "eeeeeeeeeee\tcello"]),
    "val/val_audio_weakly.csv": (WEAK, ["ddddddddddd\tspeech", "eeeeeeeeeee\tcello"]),
    "val/val_visual_weakly.csv": (WEAK, ["ddddddddddd\tcar,train", "eeeeeeeeeee\tcello"]),  # line 2: not a class
    "val/val_audio.csv": (
        DENSE,
        [
            "ddddddddddd\t0\t3\tspeech",
            "ddddddddddd\t8\t2\tspeech",  # line 3: onset after offset
            "eeeeeeeeeee\t5\t26220\tcello",  # line 4: an offset far past the video
            "eeeeeeeeeee\t30\t40\tcello",  # line 5: starts after the video's end
        ],
    ),
    "val/val_visual.csv": (DENSE, ["ddddddddddd\t4\t4\tcar", "eeeeeeeeeee\t0\t19\tcello"]),
    "test/test_weak_av.csv": (WEAK, ["fffffffffff\tdog,cat", "ggggggggggg\tpiano"]),
    "test/test_audio_weakly.csv": (WEAK, ["fffffffffff\tdog", "ggggggggggg\tpiano"]),
    "test/test_visual_weakly.csv": (WEAK, ["fffffffffff\tcat,toilet_flush", "ggggggggggg\tpiano"]),  # line 2
    "test/test_audio.csv": (DENSE, ["fffffffffff\t1\t2\tdog", "zzzzzzzzzzz\t0\t1\tdog"]),  # line 3: another video
    "test/test_visual.csv": (DENSE, ["fffffffffff\t0\t9\tcat", "ggggggggggg\t3\t6\tpiano"]),
}
LENGTHS = {"ddddddddddd": 10, "eeeeeeeeeee": 20, "fffffffffff": 10, "ggggggggggg": 12}


def lfav_folder(root: Path, changes: dict[str, list[str]] | None = None) -> Path:
    """The folder, with ``changes`` (file -> rows) replacing some files' rows."""
    for name, (header, rows) in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + "".join(r + "\n" for r in (changes or {}).get(name, rows)), encoding="utf-8")
    return root


def multi_hot(*labels: str) -> np.ndarray:
    out = np.zeros(len(CLASSES), dtype=np.uint8)
    out[[CLASS_INDEX[c] for c in labels]] = 1
    return out


def official_truth(root: Path, split: str, modality: str, video: str, length: int) -> np.ndarray:
    """The official evaluation's rule: every row of the video sets ``GT[class, onset:offset + 1]``."""
    gt = np.zeros((len(CLASSES), length), dtype=np.uint8)
    for row in (root / f"{split}/{split}_{modality}.csv").read_text().splitlines()[1:]:
        name, onset, offset, label = row.split("\t")
        if name == video:
            gt[CLASS_INDEX[label], int(onset) : int(offset) + 1] = 1
    return gt


def test_lfav_reads_the_official_way_and_warns_for_each_error(tmp_path):
    root = lfav_folder(tmp_path)
    dataset = read_lfav(root, LENGTHS)
    assert dataset.classes == CLASSES and len(CLASSES) == 35 and dataset.weak_per_modality
    assert dataset.dense_offsets == "inclusive"
    assert {s: split.filenames for s, split in dataset.splits.items()} == {"train": TRAIN, "val": VAL, "test": TEST}
    train = dataset.splits["train"]
    assert (train.weak_audio[0] == multi_hot("speech", "dog")).all()  # " dog" read stripped
    assert not train.weak_audio[1].any()  # silent: no label
    assert (train.weak_visual[1] == multi_hot("car", "dog")).all()
    assert (dataset.splits["val"].weak_visual[0] == multi_hot("car")).all()  # "train" ignored
    assert (dataset.splits["test"].weak_visual[0] == multi_hot("cat")).all()  # "toilet_flush" ignored
    assert train.dense is None
    for split in ("val", "test"):
        s = dataset.splits[split]
        for modality in ("audio", "visual"):
            for i, video in enumerate(s.video_ids):
                expected = official_truth(root, split, modality, video, LENGTHS[video])
                assert (s.truth(modality, i) == expected).all(), (split, modality, video)
    assert [(Path(w.file).name, w.line, w.action) for w in dataset.warnings] == [
        ("train_audio_weakly.csv", 2, "read as 'dog'"),
        ("train_audio_weakly.csv", 3, "ignored, as the official code does"),
        ("train_visual_weakly.csv", 3, "counted once"),
        ("val_visual_weakly.csv", 2, "ignored, as the official code does"),
        ("val_audio.csv", 3, "dropped: it sets nothing, as the official code does"),
        ("test_visual_weakly.csv", 2, "ignored, as the official code does"),
        ("test_audio.csv", 3, "ignored: the official code never reads it"),
        ("val_audio.csv", 4, "cut at segment 19"),
        ("val_audio.csv", 5, "dropped: it sets nothing"),
    ]
    assert "'silent'" in dataset.warnings[1].problem and "'train'" in dataset.warnings[3].problem
    assert "'toilet_flush'" in dataset.warnings[5].problem and "onset 8 after offset 2" in dataset.warnings[4].problem
    assert all(str(w).startswith(f"{root}/") and "\n" not in str(w) for w in dataset.warnings)


def test_inclusive_offsets_become_half_open_segments(tmp_path):
    split = read_lfav(lfav_folder(tmp_path)).splits["val"]
    assert [(e.onset, e.offset) for e in split.dense["audio"][0]] == [(0, 4)]  # "0 3": segments 0..3
    assert [(e.onset, e.offset) for e in split.dense["visual"][0]] == [(4, 5)]  # "4 4": segment 4
    assert split.lengths == [None, None]  # unknown until the features give them
    with pytest.raises(ValueError, match="length of ddddddddddd is not known"):
        split.truth("audio", 0)


TWO_SPLITS = {
    name: ["fffffffffff\tdog", "ddddddddddd\tpiano"] for name in FILES if name.startswith("test/") and "weak" in name
}


@pytest.mark.parametrize(
    ("file", "changes", "line", "problem"),
    [
        ("val/val_audio.csv", {"val/val_audio.csv": ["ddddddddddd\t0\t3\ttrain"]}, 2, "'train' is not an LFAV class"),
        ("val/val_audio.csv", {"val/val_audio.csv": ["ddddddddddd\t0\t3"]}, 2, "expected 4 tab-separated fields"),
        ("val/val_audio.csv", {"val/val_audio.csv": ["ddddddddddd\t0.5\t3\tspeech"]}, 2, "must be whole seconds"),
        (
            "val/val_audio_weakly.csv",
            {"val/val_audio_weakly.csv": ["eeeeeeeeeee\tcello", "ddddddddddd\tspeech"]},
            2,
            "the same videos in the same order",
        ),
        ("test/test_weak_av.csv", TWO_SPLITS, 3, "video 'ddddddddddd' is in splits val and test"),
        (
            "train/train_weakly.csv",
            {"train/train_weakly.csv": ["aaaaaaaaaaa\t", "bbbbbbbbbbb\tcar", "ccccccccccc\tguitar"]},
            2,
            "empty filename or event_labels",
        ),
    ],
)
def test_lfav_refuses_what_the_official_code_cannot_run_with(tmp_path, file, changes, line, problem):
    root = lfav_folder(tmp_path, changes)
    with pytest.raises(DatasetError) as exc:
        read_lfav(root)
    assert str(exc.value).startswith(f"{root / file}:{line}: ") and problem in str(exc.value)
    assert "\n" not in str(exc.value)


def test_lfav_names_each_missing_file(tmp_path):
    root = lfav_folder(tmp_path)
    (root / "test/test_visual.csv").unlink()
    (root / "train/train_weakly.csv").unlink()
    with pytest.raises(DatasetError) as exc:
        read_lfav(root)
    assert exc.value.problems == [
        f"{root}/train/train_weakly.csv: file not found",
        f"{root}/test/test_visual.csv: file not found",
    ]
    assert str(exc.value) == f"{root}/train/train_weakly.csv: file not found (and 1 more problem)"
