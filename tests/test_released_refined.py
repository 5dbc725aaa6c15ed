"""The CM-Co release's refined labels (need_to_change_cmco.pkl): safe decoding, the counts of the real
file, row mapping by filename, and the workflow's `refine: {source: file}`."""

from __future__ import annotations

import json
import os
import pickle
import re

import h5py
import numpy as np
import pytest
import torch
from conftest import llp_dir

from avvp_pipeline.cli import main
from avvp_pipeline.data import llp
from avvp_pipeline.data.feature_sets import FeatureSet
from avvp_pipeline.data.index import build_index
from avvp_pipeline.data.released_refined import (
    RefinedLabelsError,
    import_released_refined,
    listed_masks,
    read_released_refined,
)

C = llp.CLASS_INDEX
LEGACY_MAGIC, LEGACY_PROTOCOL = 0x1950A86A20F9469CFC6C, 1001


def torch_pickle(visual, audio, dtype=torch.int64, protocol=4, container=list) -> bytes:
    """What the release did: lists of torch scalars (views of one shared storage) pickled as they are."""
    base = torch.arange(1000, dtype=dtype)
    as_tensors = [[[base[i] for i in rows] for rows in lists] for lists in (visual, audio)]
    return pickle.dumps(container(as_tensors), protocol=protocol)


def per_class(**rows_by_class) -> list[list[int]]:
    lists = [[] for _ in llp.CLASSES]
    for name, rows in rows_by_class.items():
        lists[C[name]] = list(rows)
    return lists


def write_annotations(folder, train: list[tuple[str, str]]) -> None:
    """An LLP-layout folder: the given train rows, one val and one test video with dense truth."""
    folder.mkdir(parents=True, exist_ok=True)
    weak = "filename\tevent_labels\n"
    (folder / "AVVP_train.csv").write_text(weak + "".join(f"{f}\t{labels}\n" for f, labels in train))
    (folder / "AVVP_val_pd.csv").write_text(weak + "valvid00001_0_10\tSpeech\n")
    (folder / "AVVP_test_pd.csv").write_text(weak + "tstvid00001_0_10\tDog\n")
    dense = "filename\tonset\toffset\tevent_labels\n"
    (folder / "AVVP_eval_audio.csv").write_text(dense + "valvid00001_0_10\t0\t5\tSpeech\ntstvid00001_0_10\t0\t5\tDog\n")
    (folder / "AVVP_eval_visual.csv").write_text(dense + "tstvid00001_0_10\t2\t9\tDog\n")


TRAIN = [
    (f"trnvid{i:05d}_{i}_{i + 10}", labels)
    for i, labels in enumerate(
        ["Speech,Dog", "Car", "Speech,Violin_fiddle", "Dog", "Cat,Speech", "Chainsaw", "Dog,Car", "Banjo"]
    )
]


# ---- decoding ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32])
@pytest.mark.parametrize("protocol", [2, 4])
@pytest.mark.parametrize("container", [list, tuple])
def test_torch_pickled_scalars_round_trip(tmp_path, dtype, protocol, container):
    visual, audio = per_class(Dog=[0, 3, 6], Speech=[4]), per_class(Speech=[0, 2], Car=[999])
    data = torch_pickle(visual, audio, dtype, protocol, container)
    # the layout the decoder expects is still what torch writes for a pickled tensor
    assert b"_rebuild_tensor_v2" in data and b"_load_from_bytes" in data
    (tmp_path / "r.pkl").write_bytes(data)
    got_visual, got_audio = read_released_refined(tmp_path / "r.pkl")
    assert got_visual == visual and got_audio == audio
    assert all(type(i) is int for rows in got_visual + got_audio for i in rows)


def test_scalars_share_one_storage_at_their_offsets(tmp_path):
    base = torch.arange(16)
    scalars = [base[k] for k in (15, 0, 7)]
    assert {s.untyped_storage().data_ptr() for s in scalars} == {base.untyped_storage().data_ptr()}
    lists = [[] for _ in llp.CLASSES]
    lists[0] = scalars
    (tmp_path / "r.pkl").write_bytes(pickle.dumps((lists, [[] for _ in llp.CLASSES]), protocol=4))
    assert read_released_refined(tmp_path / "r.pkl")[0][0] == [15, 0, 7]


def test_plain_int_lists_are_read_too(tmp_path):
    visual, audio = per_class(Dog=[1]), per_class()
    (tmp_path / "r.pkl").write_bytes(pickle.dumps((visual, audio)))
    assert read_released_refined(tmp_path / "r.pkl") == (visual, audio)


# ---- refusing code -----------------------------------------------------------------------------------


class RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class LegacyBlob:
    """Pickles as torch.storage._load_from_bytes(blob), like a tensor's storage."""

    def __init__(self, blob):
        self.blob = blob

    def __reduce__(self):
        return torch.storage._load_from_bytes, (self.blob,)


def runs_when_unpickled(payload, tmp_path) -> bool:
    """Control: the payload, built with a marker of its own, does run a command under plain pickle.loads."""
    control = tmp_path / "CONTROL"
    try:
        pickle.loads(payload(control))
    except Exception:
        pass
    return control.exists()


def test_a_pickle_that_would_run_a_command_is_refused(tmp_path):
    def payload(marker):
        return pickle.dumps((per_class(Dog=[RunsCommand(marker)]), per_class()), protocol=4)

    marker, path = tmp_path / "MARKER", tmp_path / "evil.pkl"
    path.write_bytes(payload(marker))
    with pytest.raises(
        RefinedLabelsError,
        match=rf"^{re.escape(str(path))}: refuses to load global "
        r"(os|posix)\.system: not a refined-labels file$",
    ):
        read_released_refined(path)
    assert not marker.exists()
    assert runs_when_unpickled(payload, tmp_path)


def test_a_command_hidden_in_a_tensor_storage_is_refused(tmp_path):
    def payload(marker):
        blob = b"".join(
            pickle.dumps(x, protocol=2)
            for x in (
                LEGACY_MAGIC,
                LEGACY_PROTOCOL,
                {"protocol_version": 1001, "little_endian": True},
                RunsCommand(marker),
            )
        )
        return pickle.dumps((per_class(Dog=[LegacyBlob(blob)]), per_class()), protocol=4)

    marker, path = tmp_path / "MARKER", tmp_path / "evil.pkl"
    path.write_bytes(payload(marker))
    with pytest.raises(RefinedLabelsError, match=r"refuses to load global (os|posix)\.system in a tensor's storage"):
        read_released_refined(path)
    assert not marker.exists()
    assert runs_when_unpickled(payload, tmp_path)  # through torch.load(weights_only=False) of the storage


@pytest.mark.parametrize(
    "module, name", [("torch", "load"), ("builtins", "eval"), ("torch.serialization", "load"), ("builtins", "getattr")]
)
def test_other_globals_are_refused(tmp_path, module, name):
    path = tmp_path / "evil.pkl"
    path.write_bytes(f"c{module}\n{name}\n(S'print(1)'\ntR.".encode())
    with pytest.raises(
        RefinedLabelsError,
        match=rf"^{re.escape(str(path))}: refuses to load global "
        rf"{module}\.{name}: ",
    ):
        read_released_refined(path)


def test_float_tensors_are_refused(tmp_path):
    lists = per_class()
    lists[0] = [torch.tensor(1.5)]
    (tmp_path / "r.pkl").write_bytes(pickle.dumps((lists, per_class()), protocol=4))
    with pytest.raises(RefinedLabelsError, match=r"torch\.FloatStorage in a tensor's storage"):
        read_released_refined(tmp_path / "r.pkl")


@pytest.mark.parametrize(
    "obj, message",
    [
        ({"visual": []}, "expected a \\(visual, audio\\) pair"),
        (([[]] * 24, [[]] * 25), "the visual part is not a list of 25 lists"),
        (([[]] * 25, [[]] * 24 + [["3"]]), "audio class Clapping holds '3', not a row index"),
        (([[]] * 25, [[-1]] + [[]] * 24), "audio class Speech holds -1"),
    ],
)
def test_bad_structures_are_refused(tmp_path, obj, message):
    (tmp_path / "r.pkl").write_bytes(pickle.dumps(obj))
    with pytest.raises(RefinedLabelsError, match=message):
        read_released_refined(tmp_path / "r.pkl")


def test_a_file_that_is_no_pickle_is_refused(tmp_path):
    (tmp_path / "r.pkl").write_bytes(b"\x80\x04garbage")
    with pytest.raises(RefinedLabelsError, match="not a refined-labels pickle"):
        read_released_refined(tmp_path / "r.pkl")
    with pytest.raises(RefinedLabelsError, match="cannot read"):
        read_released_refined(tmp_path / "absent.pkl")


# ---- import ------------------------------------------------------------------------------------------


def test_import_maps_rows_by_filename_on_a_subset(tmp_path):
    full, subset = tmp_path / "released", tmp_path / "mine"
    write_annotations(full, TRAIN)
    order = [6, 1, 3, 4, 0]  # rows 2, 5 and 7 are absent, the rest in another order
    write_annotations(subset, [TRAIN[i] for i in order])
    build_index(subset, tmp_path / "index.h5")
    # visual: Dog of rows 0, 3, 6, Speech of row 4; audio: Speech of rows 0, 2, Car of row 6;
    # Cat of row 1 is not in its weak label (ignored), Violin of row 2 belongs to an absent video
    visual = per_class(Dog=[0, 3, 6], Speech=[4], Chainsaw=[5])
    audio = per_class(Speech=[0, 2], Car=[6], Cat=[1], Violin_fiddle=[2])
    (tmp_path / "r.pkl").write_bytes(torch_pickle(visual, audio))
    stats = import_released_refined(tmp_path / "r.pkl", tmp_path / "index.h5", full, tmp_path / "refined.h5")

    with h5py.File(tmp_path / "refined.h5") as f:
        names = [x.decode() for x in f["filenames"][:]]
        audio_labels, visual_labels = f["audio_labels"][:], f["visual_labels"][:]
        dropped = json.loads(f.attrs["dropped_rows"])
    assert names == [TRAIN[i][0] for i in order]

    def classes(row):
        return {llp.CLASSES[c] for c in np.flatnonzero(row)}

    expected = {
        6: ({"Dog"}, {"Car"}),
        1: ({"Car"}, {"Car"}),
        3: ({"Dog"}, set()),  # CSV row: (audio, visual)
        4: ({"Cat", "Speech"}, {"Cat"}),
        0: ({"Dog"}, {"Speech"}),
    }
    for k, i in enumerate(order):
        assert (classes(audio_labels[k]), classes(visual_labels[k])) == expected[i], TRAIN[i]
    assert dropped == {"audio": {"Speech": [4], "Car": [0]}, "visual": {"Speech": [3], "Dog": [0, 2, 4]}}
    assert stats["videos"] == 5 and stats["dropped_audio"] == 2 and stats["dropped_visual"] == 4
    assert stats["released_drops_unused"] == 3  # Speech (audio) of row 2, Violin (audio) of row 2, Chainsaw of 5
    assert stats["released_entries_not_in_weak_label"] == 1
    assert stats["source"]["file"] == str(tmp_path / "r.pkl") and len(stats["source"]["sha256"]) == 64

    # the file is what `avvp train --refined` reads
    ids = [TRAIN[i][0][:11] for i in (0, 6)]
    fs = FeatureSet("train", ids, ids, *(torch.zeros(2, 1),) * 4, None, None).with_refined_labels(
        tmp_path / "refined.h5"
    )
    assert classes(fs.labels_audio[0].numpy()) == {"Dog"} and classes(fs.labels_visual[1].numpy()) == {"Car"}


def test_import_errors_name_the_file(tmp_path):
    full, other = tmp_path / "released", tmp_path / "other"
    write_annotations(full, TRAIN)
    write_annotations(other, TRAIN[:3] + [("newvid00001_0_10", "Dog")])
    build_index(other, tmp_path / "other.h5")
    build_index(full, tmp_path / "index.h5")
    (tmp_path / "ok.pkl").write_bytes(torch_pickle(per_class(Dog=[0]), per_class()))
    with pytest.raises(
        RefinedLabelsError,
        match=r"AVVP_train.csv: 1 training videos of the index are not in it, "
        r"e.g. \['newvid00001_0_10'\]",
    ):
        import_released_refined(tmp_path / "ok.pkl", tmp_path / "other.h5", full, tmp_path / "out.h5")
    (tmp_path / "far.pkl").write_bytes(torch_pickle(per_class(Dog=[8]), per_class()))
    with pytest.raises(
        RefinedLabelsError,
        match=r"far.pkl: visual class Dog lists row 8, but AVVP_train.csv has 8 "
        "rows",
    ):
        import_released_refined(tmp_path / "far.pkl", tmp_path / "index.h5", full, tmp_path / "out.h5")
    relabelled = tmp_path / "relabelled"
    write_annotations(relabelled, [(TRAIN[0][0], "Cat")] + TRAIN[1:])
    with pytest.raises(RefinedLabelsError, match="weak labels of 1 videos differ from the index's"):
        import_released_refined(tmp_path / "ok.pkl", tmp_path / "index.h5", relabelled, tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_cli_import_refined(tmp_path):
    write_annotations(tmp_path / "ann", TRAIN)
    build_index(tmp_path / "ann", tmp_path / "index.h5")
    (tmp_path / "r.pkl").write_bytes(torch_pickle(per_class(Dog=[0]), per_class(Speech=[0])))
    args = [
        "import",
        "refined",
        str(tmp_path / "r.pkl"),
        "--index",
        str(tmp_path / "index.h5"),
        "--annotations-dir",
        str(tmp_path / "ann"),
        "--out",
        str(tmp_path / "refined/labels.h5"),
    ]
    assert main(args) == 0
    with h5py.File(tmp_path / "refined/labels.h5") as f:
        assert json.loads(f.attrs["stats"])["dropped_visual"] == 1
    (tmp_path / "r.pkl").write_bytes(pickle.dumps(RunsCommand(tmp_path / "MARKER")))
    assert main(args) == 1 and not (tmp_path / "MARKER").exists()
    with pytest.raises(SystemExit) as exit_:
        main(["import", "refined", "--help"])
    assert exit_.value.code == 0


# ---- the real file -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def released_file():
    pkl = llp_dir() / "need_to_change_cmco.pkl"
    if not pkl.is_file() or not (llp_dir() / "AVVP_train.csv").is_file():
        pytest.skip(
            f"need_to_change_cmco.pkl and AVVP_train.csv not found in {llp_dir()} "
            "(set AVVP_LLP_DIR to the shared LLP folder)"
        )
    return pkl


def test_real_file_drops_3509_visual_and_1583_audio_labels(released_file, tmp_path):
    visual, audio = read_released_refined(released_file)
    names, weak = llp.read_weak_labels(llp_dir() / "AVVP_train.csv")
    assert len(names) == 10_000
    listed_v, listed_a = listed_masks(visual, audio, len(names))
    assert (listed_v & weak.astype(bool)).sum() == 3509 and (listed_a & weak.astype(bool)).sum() == 1583

    build_index(llp_dir(), tmp_path / "index.h5")
    stats = import_released_refined(released_file, tmp_path / "index.h5", llp_dir(), tmp_path / "labels.h5")
    assert (stats["videos"], stats["dropped_visual"], stats["dropped_audio"]) == (10_000, 3509, 1583)
    assert stats["released_drops_unused"] == 0 and stats["released_entries_not_in_weak_label"] == 0


# ---- the workflow ------------------------------------------------------------------------------------


def test_a_fifo_given_as_the_refined_labels_is_refused_not_waited_on(tmp_path, fifo):
    path = fifo(tmp_path / "refined.pkl")
    with pytest.raises(RefinedLabelsError, match="refined.pkl: a FIFO, not a regular file"):
        read_released_refined(path)


def _class_lists(first: bytes) -> bytes:
    """Protocol-2 pickle opcodes of 25 per-class lists, the first holding the item ``first`` encodes."""
    return b"(" + b"".join(b"(" + (first if c == 0 else b"K\x00") + b"l" for c in range(25)) + b"l"


@pytest.mark.parametrize(
    "item, message",
    [
        (b"(" * 200_000 + b"l" * 200_000, "visual class Speech holds a list of 1 items, not a row index"),
        (b"\x8a\x03" + (2**15).to_bytes(3, "little"), "holds 32768"),  # LONG1 -> int: fine if small
        (b"\x8b" + (2100).to_bytes(4, "little") + b"\x01" * 2100, "holds an integer of 16793 bits, not a row index"),
        (b"L" + b"1" * 5000 + b"L\n", "holds an integer of over 4300 digits, not a row index"),
    ],
)
def test_deep_lists_and_huge_integers_are_one_line(tmp_path, item, message):
    """A 200,000-deep list or a 5,000-digit row index is refused in one line naming the file."""
    path = tmp_path / "refined.pkl"
    path.write_bytes(b"\x80\x02" + _class_lists(item) + _class_lists(b"K\x00") + b"\x86.")
    if message == "holds 32768":  # the control: a plain row index passes the unpickler and the checks
        assert read_released_refined(path)[0][0] == [32768]
        return
    with pytest.raises(RefinedLabelsError, match=f"^{re.escape(str(path))}: .*{message}$"):
        read_released_refined(path)
