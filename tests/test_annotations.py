"""Annotation folders the index refuses: a video twice in a split, a video in two splits (leakage),
missing dense evaluation files; the real LLP files pass."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import llp_dir

from avvp_pipeline.data import llp
from avvp_pipeline.data.index import build_index, load_split

WEAK_HEADER = "filename\tevent_labels\n"
DENSE_HEADER = "filename\tonset\toffset\tevent_labels\n"
SPLITS = {
    "train": ["aaaaaaaaaaa_0_10\tSpeech", "bbbbbbbbbbb_0_10\tDog"],
    "val": ["ccccccccccc_0_10\tSpeech"],
    "test": ["ddddddddddd_0_10\tDog", "eeeeeeeeeee_5_15\tCat"],
}


def annotations(folder: Path, splits: dict[str, list[str]] = SPLITS, dense: bool = True) -> Path:
    """An LLP-layout folder with the given weak rows (and one dense row per file)."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        (folder / llp.SPLIT_FILES[split]).write_text(WEAK_HEADER + "".join(r + "\n" for r in rows))
    if dense:
        (folder / llp.EVAL_AUDIO).write_text(DENSE_HEADER + "ccccccccccc_0_10\t0\t3\tSpeech\n")
        (folder / llp.EVAL_VISUAL).write_text(DENSE_HEADER + "ddddddddddd_0_10\t2\t5\tDog\n")
    return folder


def avvp(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "avvp_pipeline.cli", "-q", *args], capture_output=True, text=True)


def test_a_clean_folder_builds_an_index(tmp_path):
    counts = build_index(annotations(tmp_path / "a"), tmp_path / "index.h5")
    assert counts == {"train": 2, "val": 1, "test": 2}
    assert load_split(tmp_path / "index.h5", "val").gt_audio[0, 0].tolist() == [1, 1, 1] + [0] * 7


def test_one_video_twice_in_a_split_names_both_lines(tmp_path):
    rows = dict(SPLITS, train=SPLITS["train"] + ["aaaaaaaaaaa_30_40\tCat"])  # line 4 repeats line 2's video
    folder = annotations(tmp_path / "a", rows)
    with pytest.raises(ValueError) as exc:
        llp.read_weak_labels(folder / "AVVP_train.csv")
    msg = str(exc.value)
    assert msg.startswith(f"{folder / 'AVVP_train.csv'}:4: video 'aaaaaaaaaaa' twice in this file")
    assert "'aaaaaaaaaaa_30_40' here and 'aaaaaaaaaaa_0_10' on line 2" in msg
    with pytest.raises(ValueError, match="AVVP_train.csv:4: video 'aaaaaaaaaaa' twice"):
        build_index(folder, tmp_path / "index.h5")
    assert not (tmp_path / "index.h5").exists()


def test_a_test_video_also_in_train_is_leakage_naming_both_files(tmp_path):
    rows = dict(SPLITS, test=SPLITS["test"] + ["bbbbbbbbbbb_20_30\tDog"])  # train's video, another clip
    folder = annotations(tmp_path / "a", rows)
    with pytest.raises(ValueError) as exc:
        build_index(folder, tmp_path / "index.h5")
    msg = str(exc.value)
    assert msg.startswith(
        f"{folder / 'AVVP_test_pd.csv'}:4: video 'bbbbbbbbbbb' ('bbbbbbbbbbb_20_30') is also in "
        f"{folder / 'AVVP_train.csv'}:3 ('bbbbbbbbbbb_0_10')"
    )
    assert "leaks" in msg and "\n" not in msg
    assert not (tmp_path / "index.h5").exists()
    failed = avvp("index", "--annotations-dir", str(folder), "--out", str(tmp_path / "index.h5"))
    assert failed.returncode == 1 and "is also in" in failed.stderr and "Traceback" not in failed.stderr


def test_the_same_filename_in_two_splits_is_leakage(tmp_path):
    rows = dict(SPLITS, val=SPLITS["val"] + ["aaaaaaaaaaa_0_10\tSpeech"])
    with pytest.raises(ValueError, match=r"AVVP_val_pd.csv:3: video 'aaaaaaaaaaa' .*AVVP_train.csv:2"):
        llp.check_splits_disjoint(annotations(tmp_path / "a", rows) / llp.SPLIT_FILES[s] for s in SPLITS)


@pytest.mark.parametrize("remove", [[llp.EVAL_AUDIO], [llp.EVAL_VISUAL], [llp.EVAL_AUDIO, llp.EVAL_VISUAL]])
def test_index_needs_the_dense_evaluation_files(tmp_path, remove):
    folder = annotations(tmp_path / "a")
    for name in remove:
        (folder / name).unlink()
    with pytest.raises(ValueError) as exc:
        build_index(folder, tmp_path / "index.h5")
    msg = str(exc.value)
    assert msg.startswith(f"{folder}: missing {' and '.join(remove)}") and "val/test ground truth" in msg
    assert not (tmp_path / "index.h5").exists()
    failed = avvp("index", "--annotations-dir", str(folder), "--out", str(tmp_path / "index.h5"))
    assert failed.returncode == 1 and f"{folder}: missing {remove[0]}" in failed.stderr
    assert "Traceback" not in failed.stderr and not (tmp_path / "index.h5").exists()


def test_index_of_a_missing_folder_names_it(tmp_path):
    with pytest.raises(ValueError, match=f"{tmp_path / 'nowhere'}: annotations folder not found"):
        build_index(tmp_path / "nowhere", tmp_path / "index.h5")


@pytest.mark.skipif(
    not all(
        (llp_dir() / f).is_file() for f in [*llp.SPLIT_FILES.values(), llp.EVAL_AUDIO, llp.EVAL_VISUAL, llp.FULL_FILE]
    ),
    reason=f"real LLP annotation CSVs not found in {llp_dir()} (set AVVP_LLP_DIR)",
)
def test_the_real_llp_files_pass(tmp_path):
    d = llp_dir()
    assert len(llp.read_weak_labels(d / llp.FULL_FILE)[0]) == 11_849  # one clip per YouTube id
    llp.check_splits_disjoint(d / llp.SPLIT_FILES[s] for s in ("train", "val", "test"))
    counts = build_index(d, tmp_path / "index.h5")
    assert counts == {"train": 10_000, "val": 649, "test": 1_200}
