"""The ``custom`` reader: the example of docs/datasets.md read strictly, every problem refused with its file
and line, and the same problems handled with warnings when reading leniently."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from avvp_pipeline.data.datasets.custom import read_custom
from avvp_pipeline.data.datasets.description import DatasetError

# the example of docs/datasets.md
EXAMPLE = {
    "classes.txt": "speech\ndog\ndoorbell\n",
    "train.tsv": "filename\tlabels\nwalk_01\tdog,speech\nwalk_02\tdog\ndoor_01\tdoorbell\nquiet_01\t\n",
    "val.tsv": "filename\tlabels\nwalk_03\tdog,speech\ndoor_02\tdoorbell,speech\n",
    "test.tsv": "filename\tlabels\nwalk_04\tdog\ndoor_03\tdoorbell\n",
    "dense_audio.tsv": "filename\tonset\toffset\tlabel\n"
    "walk_03\t0\t4\tdog\nwalk_03\t2.5\t6\tspeech\ndoor_02\t1\t3\tdoorbell\ndoor_02\t3\t9\tspeech\n"
    "walk_04\t0\t10\tdog\ndoor_03\t5\t6\tdoorbell\n",
    "dense_visual.tsv": "filename\tonset\toffset\tlabel\n"
    "walk_03\t0\t10\tdog\ndoor_02\t0\t2\tdoorbell\nwalk_04\t4\t8\tdog\n",
}


def folder(root: Path, **changes: str | None) -> Path:
    """The example in ``root``, with ``changes`` (file name without its dot -> text, None: no such file)."""
    root.mkdir()
    files = dict(EXAMPLE, **{k.replace("_txt", ".txt").replace("_tsv", ".tsv"): v for k, v in changes.items()})
    for name, text in files.items():
        if text is not None:
            (root / name).write_text(text, encoding="utf-8")
    return root


def test_the_example_reads_strictly(tmp_path):
    dataset = read_custom(folder(tmp_path / "mine"), lengths={"walk_03": 10, "door_02": 10})
    assert dataset.kind == "custom" and dataset.classes == ("speech", "dog", "doorbell") and dataset.warnings == []
    assert dataset.dense_offsets == "exclusive" and dataset.segment_seconds == 1.0
    train, val, test = (dataset.splits[s] for s in ("train", "val", "test"))
    assert train.filenames == train.video_ids == ["walk_01", "walk_02", "door_01", "quiet_01"]
    assert train.weak.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]] and train.dense is None
    assert val.lengths == [10, 10] and test.lengths == [None, None]
    assert val.truth("audio", 0).tolist() == [  # speech 2.5..6 s covers segments 2..5
        [0, 0, 1, 1, 1, 1, 0, 0, 0, 0],
        [1, 1, 1, 1, 0, 0, 0, 0, 0, 0],
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    ]
    assert [(e.cls, e.onset, e.offset) for e in test.dense["visual"][0]] == [(1, 4, 8)]
    assert test.dense["visual"][1] == [] and test.dense["audio"][1][0].line == 7


def test_without_a_class_file_the_classes_are_the_sorted_labels(tmp_path):
    dataset = read_custom(folder(tmp_path / "mine", classes_txt=None))
    assert dataset.classes == ("dog", "doorbell", "speech")
    assert dataset.splits["val"].weak.tolist() == [[1, 0, 1], [0, 1, 1]]


def test_dense_labels_are_optional(tmp_path):
    dataset = read_custom(folder(tmp_path / "mine", dense_audio_tsv=None, dense_visual_tsv=None))
    assert all(split.dense is None for split in dataset.splits.values())


HEADER = "filename\tonset\toffset\tlabel\n"
NO_LABELS = dict(
    {f"{s}_tsv": f"filename\tlabels\n{s}_01\t\n" for s in ("train", "val", "test")},
    classes_txt=None,
    dense_audio_tsv=None,
    dense_visual_tsv=None,
)
PROBLEMS = [  # (changes, lengths, file:line, the problem)
    ({"dense_audio_tsv": HEADER + "walk_03\t0\t4\tcat\n"}, None, "dense_audio.tsv:2", "label 'cat' is not a class"),
    ({"dense_audio_tsv": HEADER + "walk_03\t6\t4\tdog\n"}, None, "dense_audio.tsv:2", "onset 6 is not before offset 4"),
    ({}, {"walk_04": 8}, "dense_audio.tsv:6", "dog event of walk_04 (segments 0 to 9) runs past the video's end"),
    ({"test_tsv": EXAMPLE["test.tsv"] + "walk_03\tdog\n"}, None, "test.tsv:4", "'walk_03' is in splits val and test"),
    ({"train_tsv": "filename\tlabels\nwalk_01\tdog\nwalk_01\tdog\n"}, None, "train.tsv:3", "twice in split train"),
    ({"classes_txt": "\n"}, None, "classes.txt", "empty class list"),
    ({"classes_txt": "speech\ndog\ndog\ndoorbell\n"}, None, "classes.txt:3", "duplicate class 'dog' (first on line 2)"),
    ({"classes_txt": "speech\ndog \ndoorbell\n"}, None, "classes.txt:2", "class 'dog ': a class name has no comma"),
    (NO_LABELS, None, "", "no classes: the split files hold no labels and there is no classes.txt"),
    (
        {"train_tsv": "filename\tlabels\nwalk_01\tdog\tspeech\nwalk_02\tdog\n"},
        None,
        "train.tsv:2",
        "expected 2 tab-separated fields",
    ),
    ({"train_tsv": "filename,labels\nwalk_01\tdog\n"}, None, "train.tsv:1", "expected the header 'filename\\tlabels'"),
    ({"dense_visual_tsv": HEADER + "walk_03\tfrom 0\t4\tdog\n"}, None, "dense_visual.tsv:2", "must be seconds"),
    ({"val_tsv": None}, None, "val.tsv", "file not found"),
    ({"dense_visual_tsv": None}, None, "dense_audio.tsv", "found without dense_visual.tsv"),
    ({"train_tsv": "filename\tlabels\n"}, None, "train.tsv", "no videos"),
    (
        {"train_tsv": "filename\tlabels\nwalk_01\tdog,cat\n"},
        None,
        "train.tsv:2",
        "label 'cat' of walk_01 is not a class",
    ),
    ({"train_tsv": "filename\tlabels\nwalk_01\tdog, speech\n"}, None, "train.tsv:2", "label ' speech' has spaces"),
    ({"train_tsv": "filename\tlabels\nwalk_01\tdog,dog\n"}, None, "train.tsv:2", "label 'dog' repeated for walk_01"),
    (
        {"dense_audio_tsv": HEADER + "walk_01\t0\t4\tdog\n"},
        None,
        "dense_audio.tsv:2",
        "walk_01' is in train, not in val",
    ),
    ({"dense_audio_tsv": HEADER + "walk_99\t0\t4\tdog\n"}, None, "dense_audio.tsv:2", "unknown video 'walk_99'"),
]


@pytest.mark.parametrize(("changes", "lengths", "where", "problem"), PROBLEMS)
def test_strict_reading_refuses_each_problem_naming_file_and_line(tmp_path, changes, lengths, where, problem):
    root = folder(tmp_path / "mine", **changes)
    with pytest.raises(DatasetError) as exc:
        read_custom(root, lengths=lengths)
    first = exc.value.problems[0]
    assert first.startswith(f"{root / where if where else root}: ") and problem in first
    assert len(exc.value.problems) == 1 and str(exc.value) == exc.value.problems[0]


def test_every_problem_is_listed_and_the_message_stays_one_line(tmp_path):
    train = "filename\tlabels\nwalk_01\tdog,cat\nwalk_02\tdog\tx\ndoor_01\tdoorbell, speech\n"
    root = folder(tmp_path / "mine", train_tsv=train, dense_visual_tsv=HEADER + "walk_03\t4\t2\tdog\n")
    with pytest.raises(DatasetError) as exc:
        read_custom(root)
    assert [p.split(": ")[0] for p in exc.value.problems] == [
        f"{root}/train.tsv:3",  # the malformed row, found first
        f"{root}/train.tsv:2",
        f"{root}/train.tsv:4",
        f"{root}/dense_visual.tsv:2",
    ]
    assert str(exc.value).endswith("(and 3 more problems)") and "\n" not in str(exc.value)


def test_lenient_reading_handles_the_problems_lfav_has_with_a_warning_each(tmp_path):
    train = "filename\tlabels\nwalk_01\tdog,cat\nwalk_02\tdog,dog\ndoor_01\tdoorbell, speech\n"
    audio = EXAMPLE["dense_audio.tsv"] + "walk_03\t6\t4\tdog\nwalk_01\t0\t4\tdog\nwalk_99\t0\t4\tdog\n"
    root = folder(tmp_path / "mine", train_tsv=train, dense_audio_tsv=audio)
    dataset = read_custom(root, lenient=True, lengths={"walk_04": 8, "door_03": 5})
    assert [(Path(w.file).name, w.line, w.action) for w in dataset.warnings] == [
        ("train.tsv", 2, "ignored"),
        ("train.tsv", 3, "counted once"),
        ("train.tsv", 4, "read as 'speech'"),
        ("dense_audio.tsv", 8, "dropped: it sets nothing"),
        ("dense_audio.tsv", 9, "ignored"),
        ("dense_audio.tsv", 10, "ignored"),
        ("dense_audio.tsv", 6, "cut at segment 7"),
        ("dense_audio.tsv", 7, "dropped: it sets nothing"),
    ]
    assert dataset.splits["train"].weak.tolist() == [[0, 1, 0], [0, 1, 0], [1, 0, 1]]
    test = dataset.splits["test"]
    assert test.truth("audio", 0)[1].tolist() == [1] * 8 and not test.truth("audio", 1).any()
    assert [(e.onset, e.offset) for e in dataset.splits["val"].dense["audio"][0]] == [(0, 4), (2, 6)]


def test_lenient_reading_still_refuses_an_unknown_dense_class(tmp_path):
    root = folder(tmp_path / "mine", dense_audio_tsv=HEADER + "walk_03\t0\t4\tcat\n")
    with pytest.raises(DatasetError, match=r"dense_audio.tsv:2: label 'cat' is not a class"):
        read_custom(root, lenient=True)


def test_the_docs_show_this_example():
    text = (Path(__file__).resolve().parents[1] / "docs" / "datasets.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^`([a-z_]+\.(?:tsv|txt))`\n```\n(.*?)```", text, flags=re.S | re.M)
    assert {name: body.replace("<TAB>", "\t") for name, body in blocks} == EXAMPLE
