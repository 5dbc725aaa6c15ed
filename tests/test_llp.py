"""Tests of the LLP annotation reader (avvp_pipeline.data.llp).

Small synthetic CSVs (written to tmp_path) pin the edge cases of the official ground-truth
construction; the real LLP files (the folder ``llp_dir()`` names, set by ``$AVVP_LLP_DIR``)
are checked against the counts of the official release (docs/models-and-evaluation.md, section 1).
"""

from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from conftest import llp_dir

from avvp_pipeline.data import llp
from avvp_pipeline.data.llp import (
    CLASS_INDEX,
    CLASSES,
    EVAL_AUDIO,
    EVAL_VISUAL,
    NUM_CLASSES,
    NUM_SEGMENTS,
    SPLIT_FILES,
    dense_labels,
    read_weak_labels,
    video_id,
)
from avvp_pipeline.evaluation.metrics import llp_f_scores

WEAK_HEADER = "filename\tevent_labels\n"
DENSE_HEADER = "filename\tonset\toffset\tevent_labels\n"


def write(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text(header + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def dense(tmp_path: Path, audio_rows: list[str], visual_rows: list[str] | None = None):
    a = write(tmp_path / "AVVP_eval_audio.csv", DENSE_HEADER, audio_rows)
    v = write(tmp_path / "AVVP_eval_visual.csv", DENSE_HEADER, visual_rows or [])
    return a, v


def segs(row: np.ndarray) -> list[int]:
    return [int(t) for t in np.nonzero(row)[0]]


# --------------------------------------------------------------------------------------------
# Constants and helpers
# --------------------------------------------------------------------------------------------
def test_classes_in_llp_order():
    assert len(CLASSES) == NUM_CLASSES == 25
    assert NUM_SEGMENTS == 10
    assert CLASSES[0] == "Speech" and CLASSES[5] == "Frying_(food)"
    assert CLASSES[13] == "Violin_fiddle" and CLASSES[22] == "Baby_cry_infant_cry"
    assert CLASSES[24] == "Clapping"
    assert CLASS_INDEX == {c: i for i, c in enumerate(CLASSES)}
    assert SPLIT_FILES == {"train": "AVVP_train.csv", "val": "AVVP_val_pd.csv", "test": "AVVP_test_pd.csv"}
    assert EVAL_AUDIO == "AVVP_eval_audio.csv" and EVAL_VISUAL == "AVVP_eval_visual.csv"


def test_video_id_never_splits_on_underscore():
    assert video_id("BjCEufrlXm4_20_30") == "BjCEufrlXm4"
    assert video_id("Ar7FCio0__8_3_13") == "Ar7FCio0__8"
    assert video_id("1-VMTJRpjbE_150_160") == "1-VMTJRpjbE"
    assert video_id("_9D8GR2VBKE_101.8_111.8") == "_9D8GR2VBKE"
    with pytest.raises(ValueError):
        video_id("short")


# --------------------------------------------------------------------------------------------
# Weak labels
# --------------------------------------------------------------------------------------------
def test_read_weak_labels(tmp_path):
    p = write(
        tmp_path / "w.csv",
        WEAK_HEADER,
        [
            "BjCEufrlXm4_20_30\tSpeech,Dog",
            "Ar7FCio0__8_3_13\tClapping",
            "LcFWKgFphXI_20_30\tClapping,Clapping",  # a repeated class (as in the real full file)
        ],
    )
    names, labels = read_weak_labels(p)
    assert names == ["BjCEufrlXm4_20_30", "Ar7FCio0__8_3_13", "LcFWKgFphXI_20_30"]
    assert labels.dtype == np.uint8 and labels.shape == (3, 25)
    assert np.nonzero(labels[0])[0].tolist() == [0, 3]
    assert np.nonzero(labels[1])[0].tolist() == [24]
    assert np.nonzero(labels[2])[0].tolist() == [24]


@pytest.mark.parametrize(
    "rows, problem",
    [
        (["abcdefghijk_0_10\tSpeech,Kazoo"], "unknown class 'Kazoo'"),
        (["abcdefghijk_0_10\tspeech"], "unknown class 'speech'"),
        (["abcdefghijk_0_10"], "expected 2"),
        (["abcdefghijk_0_10\tSpeech\textra"], "expected 2"),
        (["abcdefghijk_0_10\t"], "empty event_labels"),
        (["\tSpeech"], "empty filename"),
        (["abcdefghijk_0_10\tSpeech", "abcdefghijk_0_10\tDog"], "duplicate filename"),
        (["abcdefghijk_0_10\tSpeech", "abcdefghijk_30_40\tDog"], "video 'abcdefghijk' twice in this file"),
    ],
)
def test_read_weak_labels_malformed(tmp_path, rows, problem):
    p = write(tmp_path / "bad_weak.csv", WEAK_HEADER, ["BjCEufrlXm4_20_30\tSpeech"] + rows)
    bad_line = 2 + len(rows)  # header is line 1; the offending row is the last one
    with pytest.raises(ValueError) as exc:
        read_weak_labels(p)
    msg = str(exc.value)
    assert "bad_weak.csv" in msg and f":{bad_line}:" in msg and problem in msg


def test_read_weak_labels_bad_header(tmp_path):
    p = write(tmp_path / "hdr.csv", "name\tlabels\n", ["BjCEufrlXm4_20_30\tSpeech"])
    with pytest.raises(ValueError, match=r"hdr\.csv:1: unexpected header"):
        read_weak_labels(p)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ValueError, match=r"empty\.csv:1: empty file"):
        read_weak_labels(empty)


# --------------------------------------------------------------------------------------------
# Dense labels: edge cases of the official construction
# --------------------------------------------------------------------------------------------
def test_dense_basic_slice_semantics(tmp_path):
    a, v = dense(
        tmp_path, ["vid00000001_0_10\t0\t4\tSpeech", "vid00000001_0_10\t7\t10\tDog"], ["vid00000001_0_10\t2\t3\tDog"]
    )
    ga, gv = dense_labels(a, v, ["vid00000001_0_10"])
    assert ga.dtype == gv.dtype == np.uint8
    assert ga.shape == gv.shape == (1, 25, 10)
    assert segs(ga[0, 0]) == [0, 1, 2, 3]  # [0, 4): offset excluded
    assert segs(ga[0, 3]) == [7, 8, 9]
    assert segs(gv[0, 3]) == [2]
    assert ga.sum() == 7 and gv.sum() == 1


def test_dense_onset_not_before_offset_sets_nothing(tmp_path):
    a, v = dense(
        tmp_path,
        [
            "vid00000001_0_10\t9\t9\tSpeech",
            "vid00000001_0_10\t10\t10\tSpeech",
            "vid00000001_0_10\t0\t0\tDog",
            "vid00000001_0_10\t9\t0\tCheering",  # Python slice 9:0 is empty
            "vid00000001_0_10\t5\t3\tCat",
        ],
    )
    ga, gv = dense_labels(a, v, ["vid00000001_0_10"])
    assert ga.sum() == 0 and gv.sum() == 0


def test_dense_overlapping_and_touching_rows_merge(tmp_path):
    a, v = dense(
        tmp_path,
        [
            "vid00000001_0_10\t0\t3\tSpeech",
            "vid00000001_0_10\t3\t5\tSpeech",  # touching -> one run [0, 5)
            "vid00000001_0_10\t6\t9\tDog",
            "vid00000001_0_10\t7\t10\tDog",  # overlapping -> one run [6, 10)
            "vid00000001_0_10\t6\t9\tDog",  # duplicate row changes nothing
        ],
    )
    ga, _ = dense_labels(a, v, ["vid00000001_0_10"])
    assert segs(ga[0, 0]) == [0, 1, 2, 3, 4]
    assert segs(ga[0, 3]) == [6, 7, 8, 9]
    # one event each at the event level: perfect prediction of the merged runs scores 100
    pa = np.zeros_like(ga)
    pa[0, 0, 0:5] = 1
    pa[0, 3, 6:10] = 1
    assert llp_f_scores(pa, np.zeros_like(ga), ga, np.zeros_like(ga))["ev_audio"] == 100.0


def test_dense_exact_filename_match_and_unmatched_rows_ignored(tmp_path):
    a, v = dense(
        tmp_path,
        [
            "1-VMTJRpjbE_150_160\t1\t3\tSpeech",
            "VMTJRpjbE_150_160\t3\t10\tBasketball_bounce",  # 9-char ID: matches no video
            "19jWnmYnlD8_30_400\t0\t10\tDog",  # typo: ignored
            "19jWnmYnlD8_30_40 \t0\t10\tDog",  # trailing space: not an exact match
            "Baby_cry_infant_cry\t0\t4\tSpeech",  # corrupted filename (2021 file): ignored
        ],
        ["19jWnmYnlD8_30_40\t2\t4\tCar"],
    )
    names = ["1-VMTJRpjbE_150_160", "19jWnmYnlD8_30_40", "no_rows_at_all_0_10"]
    ga, gv = dense_labels(a, v, names)
    assert segs(ga[0, 0]) == [1, 2]
    assert ga[0].sum() == 2
    assert ga[1].sum() == 0 and segs(gv[1, 1]) == [2, 3]
    assert ga[2].sum() == 0 and gv[2].sum() == 0  # a video without dense rows: all zero


def test_dense_classes_outside_weak_label_still_count(tmp_path):
    # The weak label says Speech only; the dense file also has Violin_fiddle -> it is set.
    w = write(tmp_path / "AVVP_test_pd.csv", WEAK_HEADER, ["vid00000001_0_10\tSpeech"])
    a, v = dense(tmp_path, ["vid00000001_0_10\t0\t10\tViolin_fiddle"], ["vid00000001_0_10\t0\t2\tViolin_fiddle"])
    names, weak = read_weak_labels(w)
    ga, gv = dense_labels(a, v, names)
    c = CLASS_INDEX["Violin_fiddle"]
    assert weak[0, c] == 0
    assert ga[0, c].sum() == 10 and gv[0, c].sum() == 2


def test_dense_order_follows_filenames_and_repeats(tmp_path):
    a, v = dense(tmp_path, ["bbbbbbbbbbb_0_10\t1\t2\tCar", "aaaaaaaaaaa_0_10\t0\t1\tDog"])
    ga, _ = dense_labels(a, v, ["aaaaaaaaaaa_0_10", "bbbbbbbbbbb_0_10", "aaaaaaaaaaa_0_10"])
    assert segs(ga[0, 3]) == [0] and ga[0].sum() == 1
    assert segs(ga[1, 1]) == [1] and ga[1].sum() == 1
    np.testing.assert_array_equal(ga[2], ga[0])
    ga, gv = dense_labels(a, v, [])
    assert ga.shape == gv.shape == (0, 25, 10)


def test_legacy_eval_audio_drops_exactly_the_three_rows(tmp_path):
    rows = [
        "JfZEqeLZqWk_30_40\t0\t10\tBaby_cry_infant_cry",
        "JfZEqeLZqWk_30_40\t0\t4\tSpeech",  # dropped
        "JfZEqeLZqWk_30_40\t7\t10\tSpeech",  # dropped
        "KvIjsmANkxI_10_20\t0\t1\tCat",  # dropped (the back-tick row of the 2021 file)
        "KvIjsmANkxI_10_20\t3\t7\tCat",  # kept: intact in the 2021 file
        "KvIjsmANkxI_10_20\t8\t10\tCat",  # kept
        "KvIjsmANkxI_10_20\t0\t10\tSpeech",
        "otherVideo1_0_10\t0\t4\tSpeech",
    ]
    visual = ["JfZEqeLZqWk_30_40\t0\t4\tSpeech", "KvIjsmANkxI_10_20\t0\t1\tCat"]
    a, v = dense(tmp_path, rows, visual)
    names = ["JfZEqeLZqWk_30_40", "KvIjsmANkxI_10_20", "otherVideo1_0_10"]
    new_a, new_v = dense_labels(a, v, names)
    old_a, old_v = dense_labels(a, v, names, legacy_eval_audio=True)
    speech, cat, baby = CLASS_INDEX["Speech"], CLASS_INDEX["Cat"], CLASS_INDEX["Baby_cry_infant_cry"]
    assert segs(new_a[0, speech]) == [0, 1, 2, 3, 7, 8, 9]
    assert old_a[0, speech].sum() == 0
    assert segs(old_a[0, baby]) == list(range(10))
    assert segs(new_a[1, cat]) == [0, 3, 4, 5, 6, 8, 9]
    assert segs(old_a[1, cat]) == [3, 4, 5, 6, 8, 9]
    assert segs(old_a[1, speech]) == list(range(10))
    diff = new_a.astype(int) - old_a.astype(int)
    assert diff.min() == 0 and diff.sum() == 4 + 3 + 1
    np.testing.assert_array_equal(old_v, new_v)  # visual untouched
    np.testing.assert_array_equal(old_a[2], new_a[2])


@pytest.mark.parametrize(
    "row, problem",
    [
        ("vid00000001_0_10\t0\t4\tKazoo", "unknown class 'Kazoo'"),
        ("vid00000001_0_10\t0\t4", "expected 4"),
        ("vid00000001_0_10\tx\t4\tSpeech", "integer"),
        ("vid00000001_0_10\t1.5\t4\tSpeech", "integer"),
        ("vid00000001_0_10\t0\t11\tSpeech", "0..10"),
        ("vid00000001_0_10\t-1\t4\tSpeech", "0..10"),
        ("\t0\t4\tSpeech", "empty filename"),
    ],
)
def test_dense_malformed_rows_name_file_and_line(tmp_path, row, problem):
    # the bad row is in the visual file, line 3 (all rows are validated, matched or not)
    a, v = dense(tmp_path, ["vid00000001_0_10\t0\t4\tSpeech"], ["vid00000001_0_10\t0\t4\tSpeech", row])
    with pytest.raises(ValueError) as exc:
        dense_labels(a, v, ["vid00000001_0_10"])
    msg = str(exc.value)
    assert "AVVP_eval_visual.csv" in msg and ":3:" in msg and problem in msg


def test_dense_bad_header_and_missing_file(tmp_path):
    a = write(tmp_path / "a.csv", "filename\tevent_labels\n", [])
    v = write(tmp_path / "v.csv", DENSE_HEADER, [])
    with pytest.raises(ValueError, match=r"a\.csv:1: unexpected header"):
        dense_labels(a, v, [])
    with pytest.raises(ValueError, match="missing.csv"):
        dense_labels(tmp_path / "missing.csv", v, [])


def test_written_files_read_back_as_written(tmp_path):
    weak_path = tmp_path / "AVVP_train.csv"
    llp.write_weak_labels(weak_path, [("aaaaaaaaaaa_0_10", ("Dog", "Speech")), ("b_b-bbbbbbb_5_15", ("Cat",))])
    assert (
        weak_path.read_text(encoding="utf-8") == WEAK_HEADER + "aaaaaaaaaaa_0_10\tDog,Speech\nb_b-bbbbbbb_5_15\tCat\n"
    )
    names, labels = read_weak_labels(weak_path)
    assert names == ["aaaaaaaaaaa_0_10", "b_b-bbbbbbb_5_15"]
    assert [sorted(CLASSES[i] for i in np.nonzero(row)[0]) for row in labels] == [["Dog", "Speech"], ["Cat"]]
    rows = [("aaaaaaaaaaa_0_10", 0, 4, "Dog"), ("aaaaaaaaaaa_0_10", 7, 10, "Speech")]
    dense_path = tmp_path / EVAL_AUDIO
    llp.write_dense_rows(dense_path, rows)
    assert [r[1:] for r in llp.read_dense_rows(dense_path)] == rows


@pytest.mark.parametrize(
    ("write_rows", "problem"),
    [
        (lambda p: llp.write_weak_labels(p, [("aaaaaaaaaaa_0_10", ("Dogs",))]), "unknown class 'Dogs'"),
        (lambda p: llp.write_weak_labels(p, [("a\taaaaaaaaaa_0_10", ("Dog",))]), "holds a tab"),
        (lambda p: llp.write_dense_rows(p, [("aaaaaaaaaaa_0_10", 3, 11, "Dog")]), "must lie in 0..10"),
    ],
)
def test_writers_refuse_what_the_readers_would_refuse(tmp_path, write_rows, problem):
    path = tmp_path / "out.csv"
    with pytest.raises(ValueError, match=rf"out\.csv: .*{problem}"):
        write_rows(path)
    assert not path.exists()


# --------------------------------------------------------------------------------------------
# The real LLP files (counts of the official release; docs/models-and-evaluation.md, section 1)
# --------------------------------------------------------------------------------------------
LLP_FILES = ["AVVP_dataset_full.csv", *SPLIT_FILES.values(), EVAL_AUDIO, EVAL_VISUAL]


@pytest.fixture(scope="module")
def real():
    d = llp_dir()
    missing = [f for f in LLP_FILES if not (d / f).is_file()]
    if missing:
        pytest.skip(
            f"real LLP annotation files not found in {d} (missing {', '.join(missing)}); "
            "set AVVP_LLP_DIR to the folder holding the official AVVP_*.csv files"
        )
    out = {"dir": d}
    out["full"] = read_weak_labels(d / "AVVP_dataset_full.csv")
    for split, name in SPLIT_FILES.items():
        out[split] = read_weak_labels(d / name)
    out["audio_rows"] = llp.read_dense_rows(d / EVAL_AUDIO)
    out["visual_rows"] = llp.read_dense_rows(d / EVAL_VISUAL)
    return out


def test_real_row_counts(real):
    assert len(real["full"][0]) == 11_849
    assert len(real["train"][0]) == 10_000
    assert len(real["val"][0]) == 649
    assert len(real["test"][0]) == 1_200
    assert len(real["audio_rows"]) == 4_131
    assert len(real["visual_rows"]) == 2_495
    assert len({r[1] for r in real["audio_rows"]}) == 1_848
    assert len({r[1] for r in real["visual_rows"]}) == 1_665


def test_real_weak_label_counts(real):
    names, labels = real["full"]
    # The 7,202 "multi-label" videos of the LLP papers count rows listing more than one label; one of
    # them (test video LcFWKgFphXI_20_30) lists "Clapping,Clapping", so 7,201 have >= 2 classes.
    d = real["dir"]
    with open(d / "AVVP_dataset_full.csv", encoding="utf-8") as fh:
        entries = [line.rstrip("\n").split("\t")[1].split(",") for line in fh.readlines()[1:]]
    assert sum(len(e) > 1 for e in entries) == 7_202
    assert int((labels.sum(axis=1) > 1).sum()) == 7_201
    assert [n for n, e in zip(names, entries) if len(e) != len(set(e))] == ["LcFWKgFphXI_20_30"]
    assert labels.sum(axis=1).min() == 1 and labels.sum(axis=1).max() == 7
    train_names, train_labels = real["train"]
    assert int(train_labels[:, CLASS_INDEX["Speech"]].sum()) == 4_988
    assert int(train_labels.sum()) == 16_057  # label instances in train (docs/models-and-evaluation.md, section 1)


def test_real_splits_disjoint_and_cover_full(real):
    tr, va, te = (set(real[s][0]) for s in ("train", "val", "test"))
    assert not (tr & va) and not (tr & te) and not (va & te)
    assert tr | va | te == set(real["full"][0])
    # the split files agree with the full file's labels
    full = dict(zip(real["full"][0], real["full"][1]))
    for s in ("train", "val", "test"):
        names, labels = real[s]
        np.testing.assert_array_equal(np.stack([full[n] for n in names]), labels)


def test_real_video_ids(real):
    names = real["full"][0]
    ids = [video_id(n) for n in names]
    assert len(set(ids)) == 11_849  # one clip per YouTube ID
    assert sum("_" in i for i in ids) == 1_470
    assert sum("-" in i for i in ids) == 1_641
    assert sum("." in n for n in names) == 5  # decimal start/end seconds


def test_real_dense_edge_case_counts(real):
    split_names = set(real["val"][0]) | set(real["test"][0])
    weak = dict(zip(real["val"][0] + real["test"][0], np.concatenate([real["val"][1], real["test"][1]])))
    for key, n_unmatched, n_empty, n_overlap, n_touch, n_absent in (
        ("audio_rows", 8, 6, 21, 11, 76),
        ("visual_rows", 7, 0, 0, 3, 51),
    ):
        rows = real[key]
        names = {r[1] for r in rows}
        unmatched = names - split_names
        assert len(unmatched) == n_unmatched, sorted(unmatched)
        assert {"P7x4FV4lg_570_580", "19jWnmYnlD8_30_400", "VMTJRpjbE_150_160"} <= unmatched
        assert sum(r[2] >= r[3] for r in rows) == n_empty
        # overlapping / touching: consecutive rows of one (filename, class) sorted by onset
        by_key = defaultdict(list)
        for _line, name, on, off, cls in rows:
            if on < off:
                by_key[(name, cls)].append((on, off))
        overlap = touch = 0
        for spans in by_key.values():
            spans.sort()
            for (_, e1), (s2, _) in zip(spans, spans[1:]):
                overlap += e1 > s2
                touch += e1 == s2
        assert (overlap, touch) == (n_overlap, n_touch)
        absent = sum(1 for _l, name, _on, _off, cls in rows if name in weak and weak[name][CLASS_INDEX[cls]] == 0)
        assert absent == n_absent
    empty_rows = [(r[1], r[2], r[3]) for r in real["audio_rows"] if r[2] >= r[3]]
    assert ("8DF2PxdT5tE_390_400", 9, 0) in empty_rows
    assert {(o, f) for _, o, f in empty_rows} >= {(9, 9), (10, 10), (9, 0)}


def test_real_dense_labels_and_smoke_score(real):
    d = real["dir"]
    t0 = time.perf_counter()
    names = real["val"][0] + real["test"][0]
    ga, gv = dense_labels(d / EVAL_AUDIO, d / EVAL_VISUAL, names)
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0, f"dense_labels took {elapsed:.2f} s"
    assert ga.shape == gv.shape == (1_849, 25, 10)
    # Videos with no dense rows in the official files: val 4 audio / 70 visual, test 5 / 121.
    audio_names = {r[1] for r in real["audio_rows"]}
    visual_names = {r[1] for r in real["visual_rows"]}
    for split, want in (("val", (4, 70)), ("test", (5, 121))):
        split_names = real[split][0]
        assert (sum(n not in audio_names for n in split_names), sum(n not in visual_names for n in split_names)) == want
    # Videos whose ground truth is all zero: one more in test audio, H5WcJwyjxIg_2_12, whose only
    # audio row is "0 0 Baby_cry_infant_cry" (onset >= offset sets nothing).
    n_val = len(real["val"][0])
    zero_audio = ga.reshape(len(names), -1).sum(axis=1) == 0
    zero_visual = gv.reshape(len(names), -1).sum(axis=1) == 0
    assert (int(zero_audio[:n_val].sum()), int(zero_visual[:n_val].sum())) == (4, 70)
    assert (int(zero_audio[n_val:].sum()), int(zero_visual[n_val:].sum())) == (6, 121)
    assert "H5WcJwyjxIg_2_12" in audio_names
    assert zero_audio[names.index("H5WcJwyjxIg_2_12")]
    # ground truth against itself: 100 under every key
    scores = llp_f_scores(ga, gv, ga, gv)
    assert scores == pytest.approx({k: 100.0 for k in scores}, abs=1e-9)
    assert len(scores) == 10
    # the 2021 annotation version loses exactly 3 rows = 4 + 3 + 1 = 8 audio segments
    la, lv = dense_labels(d / EVAL_AUDIO, d / EVAL_VISUAL, names, legacy_eval_audio=True)
    np.testing.assert_array_equal(lv, gv)
    diff = ga.astype(int) - la.astype(int)
    assert diff.min() == 0
    assert {names[i] for i in np.nonzero(diff.reshape(len(names), -1).sum(1))[0]} == {
        "JfZEqeLZqWk_30_40",
        "KvIjsmANkxI_10_20",
    }
    i, j = names.index("JfZEqeLZqWk_30_40"), names.index("KvIjsmANkxI_10_20")
    assert segs(diff[i, CLASS_INDEX["Speech"]]) == [0, 1, 2, 3, 7, 8, 9]
    assert segs(diff[j, CLASS_INDEX["Cat"]]) == [0]
    assert int(diff.sum()) == 8
    assert llp_f_scores(la, gv, ga, gv)["seg_audio"] < 100.0
