"""HDF5 shard store: round trip, atomic writes, consistency checks."""

import os

import numpy as np
import pytest

from avvp_pipeline.features import store


def test_round_trip_and_no_temporary_left(tmp_path):
    x = np.random.default_rng(0).random((3, 10, 4), dtype=np.float32)
    store.write_shard(
        tmp_path / "s.h5",
        ["a", "b_c", "-d"],
        x,
        {"extractor": "vggish", "fps": 8.0},
        extra={"has_audio": np.array([True, False, True])},
    )
    ids, feats, attrs = store.read_shard(tmp_path / "s.h5")
    assert ids == ["a", "b_c", "-d"] and np.array_equal(feats, x)
    assert attrs["extractor"] == "vggish" and attrs["fps"] == 8.0
    assert [p.name for p in tmp_path.iterdir()] == ["s.h5"]


def test_identical_inputs_give_identical_files(tmp_path):
    x = np.ones((2, 10, 4), np.float32)
    for name in ("a.h5", "b.h5"):
        store.write_shard(tmp_path / name, ["x", "y"], x, {"k": "v"})
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()


def test_mismatched_ids_rejected(tmp_path):
    with pytest.raises(ValueError, match="2 ids for 3"):
        store.write_shard(tmp_path / "s.h5", ["a", "b"], np.zeros((3, 10, 4)), {})
    assert not list(tmp_path.iterdir())


def test_load_features_concatenates_and_detects_duplicates(tmp_path):
    store.write_shard(tmp_path / "0.h5", ["a", "b"], np.zeros((2, 10, 4)), {})
    store.write_shard(tmp_path / "1.h5", ["c"], np.ones((1, 10, 4)), {})
    index, x, attrs = store.load_features([tmp_path / "0.h5", tmp_path / "1.h5"])
    assert index == {"a": 0, "b": 1, "c": 2} and x.shape == (3, 10, 4) and x[2].all()
    store.write_shard(tmp_path / "2.h5", ["a"], np.zeros((1, 10, 4)), {})
    with pytest.raises(ValueError, match="more than one shard"):
        store.load_features([tmp_path / "0.h5", tmp_path / "2.h5"])


def test_config_hash_is_order_independent():
    assert store.config_hash({"a": 1, "b": [1, 2]}) == store.config_hash({"b": [1, 2], "a": 1})
    assert store.config_hash({"a": 1}) != store.config_hash({"a": 2})


def test_damaged_shard_is_detected_and_verify_deletes_it(tmp_path):
    import subprocess
    import sys

    import h5py

    from avvp_pipeline.features.store import CorruptShard, read_shard, write_shard

    good, bad, garbage = tmp_path / "shard-0000.h5", tmp_path / "shard-0001.h5", tmp_path / "shard-0002.h5"
    for p in (good, bad):
        write_shard(p, ["a", "b"], np.arange(40, dtype=np.float32).reshape(2, 2, 10), {"extractor": "vggish"})
    with h5py.File(bad, "r+") as f:  # one value changes after writing, checksum attribute untouched
        f["features"][1, 0, 3] = 7.5
    garbage.write_bytes(good.read_bytes()[:600])  # truncated file
    assert read_shard(good)[0] == ["a", "b"]
    with pytest.raises(CorruptShard, match="shard-0001.h5: content does not match its checksum"):
        read_shard(bad)
    with pytest.raises(CorruptShard, match="shard-0002.h5: cannot be read"):
        read_shard(garbage)
    cli = [sys.executable, "-m", "avvp_pipeline.cli", "verify", str(tmp_path)]
    check = subprocess.run(cli, capture_output=True, text=True)
    assert check.returncode == 1 and "3 shards checked, 2 corrupt" in check.stdout
    fixed = subprocess.run(cli + ["--delete"], capture_output=True, text=True)
    assert fixed.returncode == 0 and not bad.exists() and not garbage.exists() and good.exists()


def test_loading_a_damaged_shard_of_the_workflow_moves_it_aside_and_names_it(tmp_path):
    import h5py

    from avvp_pipeline.features.store import CorruptShard, load_features, write_shard

    paths = [tmp_path / f"shard-000{k}.h5" for k in range(2)]
    for k, p in enumerate(paths):
        write_shard(p, [f"v{k}a", f"v{k}b"], np.full((2, 3, 4), k, np.float32), {"extractor": "vggish"})
    index, x, _ = load_features(paths)
    assert index == {"v0a": 0, "v0b": 1, "v1a": 2, "v1b": 3} and x[2:].min() == 1
    with h5py.File(paths[1], "r+") as f:
        f["features"][0, 0, 0] = 9.0
    with pytest.raises(
        CorruptShard,
        match=r"shard-0001.h5: content does not match its checksum .*"
        r"moved aside to .*shard-0001.h5.corrupt: rerun snakemake",
    ):
        load_features(paths, workflow_results=tmp_path)
    assert not paths[1].exists() and (tmp_path / "shard-0001.h5.corrupt").is_file() and paths[0].exists()
    with pytest.raises(FileNotFoundError, match="shard-0001.h5: no such feature shard"):
        load_features(paths, workflow_results=tmp_path)


def test_a_damaged_shard_given_by_hand_is_named_and_left_alone(tmp_path):
    """Only the workflow's own shards (inside its results folder) are moved aside for it to rebuild."""
    from avvp_pipeline.features.store import CorruptShard, load_features, write_shard

    mine = tmp_path / "mine" / "shard-0000.h5"
    write_shard(mine, ["a"], np.zeros((1, 3, 4), np.float32), {"extractor": "vggish"})
    mine.write_bytes(mine.read_bytes()[:-100])  # truncated
    for results in (None, tmp_path / "results"):
        with pytest.raises(CorruptShard) as exc:
            load_features([mine], workflow_results=results)
        assert str(exc.value).startswith(f"{mine}: ") and "snakemake" not in str(exc.value)
        assert mine.is_file() and not list(mine.parent.glob("*.corrupt"))


@pytest.mark.parametrize("by_the_workflow", [False, True])
def test_avvp_train_moves_a_damaged_shard_aside_only_for_the_workflow(tmp_path, monkeypatch, caplog, by_the_workflow):
    from avvp_pipeline.cli import main
    from avvp_pipeline.features.store import WORKFLOW_RESULTS_ENV

    shard = tmp_path / "results" / "features" / "vggish" / "shard-0000.h5"
    shard.parent.mkdir(parents=True)
    shard.write_bytes(b"not a shard")
    if by_the_workflow:  # what the workflow's rules set: their results folder
        monkeypatch.setenv(WORKFLOW_RESULTS_ENV, str(tmp_path / "results"))
    else:
        monkeypatch.delenv(WORKFLOW_RESULTS_ENV, raising=False)
    shards = ["--vggish", str(shard), "--resnet152", str(shard), "--r2plus1d-18", str(shard)]
    args = [
        "train",
        "--model",
        "han",
        "--index",
        str(tmp_path / "index.h5"),
        *shards,
        "--out-dir",
        str(tmp_path / "run"),
    ]
    assert main(args) == 1
    error = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"][-1]
    assert error.startswith(f"{shard}: cannot be read as a feature shard")
    assert ("rerun snakemake" in error) == by_the_workflow
    assert shard.with_name("shard-0000.h5.corrupt").exists() == by_the_workflow
    assert shard.exists() != by_the_workflow


def test_a_video_in_two_shards_is_named_with_both_shards(tmp_path):
    from avvp_pipeline.features.store import load_features, write_shard

    paths = [tmp_path / f"shard-000{k}.h5" for k in range(2)]
    for k, p in enumerate(paths):
        write_shard(p, [f"v{k}", "dup"], np.zeros((2, 3, 4), np.float32), {"extractor": "vggish"})
    with pytest.raises(ValueError) as exc:
        load_features(paths)
    assert str(exc.value) == f"video id dup appears in more than one shard: {paths[0]} and {paths[1]}"
    with pytest.raises(ValueError, match=f"^{paths[0]}: video id v0 appears twice"):
        load_features([paths[0], paths[0]])


def test_a_shard_locked_by_a_writer_is_not_taken_for_damaged(tmp_path):
    import subprocess
    import sys

    from avvp_pipeline.features.store import ShardLocked, load_features, write_shard

    if os.environ.get("HDF5_USE_FILE_LOCKING", "").upper() == "FALSE":
        pytest.skip("HDF5 file locking is switched off in this environment (HDF5_USE_FILE_LOCKING=FALSE)")
    shard = tmp_path / "shard-0000.h5"
    write_shard(shard, ["a"], np.zeros((1, 2, 3), np.float32), {"extractor": "vggish"})
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, h5py; f = h5py.File(sys.argv[1], 'r+'); print('open', flush=True); time.sleep(60)",
            str(shard),
        ],
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == b"open"
        with pytest.raises(ShardLocked, match="shard-0000.h5: HDF5 could not lock .*HDF5_USE_FILE_LOCKING=FALSE"):
            load_features([shard])
    finally:
        holder.kill()
        holder.wait()
    assert shard.exists() and not shard.with_name("shard-0000.h5.corrupt").exists()
    assert load_features([shard])[0] == {"a": 0}


def _vggish_shard(path):
    from avvp_pipeline.features.store import write_shard

    write_shard(
        path,
        ["a", "b", "c"],
        np.arange(60, dtype=np.float32).reshape(3, 2, 10),
        {"extractor": "vggish", "weights_id": "vggish-official", "n_failed": 0, "fps": 8.0},
        extra={"has_audio": np.array([True, False, True])},
    )


def test_checksum_covers_attributes_and_per_video_datasets(tmp_path):
    import subprocess
    import sys

    import h5py

    from avvp_pipeline.features.store import CorruptShard, read_full_shard, read_shard

    good, renamed, flipped = (tmp_path / f"shard-000{k}.h5" for k in range(3))
    for p in (good, renamed, flipped):
        _vggish_shard(p)
    with h5py.File(renamed, "r+") as f:
        f.attrs["weights_id"] = "some-other-weights"
    with h5py.File(flipped, "r+") as f:
        f["has_audio"][1] = True
    shard = read_full_shard(good)
    assert shard.extra["has_audio"].tolist() == [True, False, True] and shard.attrs["checksum_version"] == 2
    assert read_shard(good)[2]["weights_id"] == "vggish-official"
    for p in (renamed, flipped):
        with pytest.raises(CorruptShard, match=f"{p.name}: content does not match its checksum"):
            read_shard(p)
    check = subprocess.run(
        [sys.executable, "-m", "avvp_pipeline.cli", "verify", str(tmp_path)], capture_output=True, text=True
    )
    assert check.returncode == 1 and "3 shards checked, 2 corrupt" in check.stdout
    assert f"CORRUPT  {renamed}: content does not match" in check.stdout
    assert f"CORRUPT  {flipped}: content does not match" in check.stdout and f"ok       {good}" in check.stdout


@pytest.mark.parametrize("edit", ["add attribute", "delete attribute", "add dataset", "int to float"])
def test_any_edit_of_a_shard_fails_its_checksum(tmp_path, edit):
    import h5py

    from avvp_pipeline.features.store import CorruptShard, read_shard

    p = tmp_path / "shard-0000.h5"
    _vggish_shard(p)
    with h5py.File(p, "r+") as f:
        if edit == "add attribute":
            f.attrs["note"] = "edited"
        elif edit == "delete attribute":
            del f.attrs["fps"]
        elif edit == "add dataset":
            f.create_dataset("weights", data=np.ones(3))
        else:
            f.attrs["n_failed"] = 0.0
    with pytest.raises(CorruptShard, match="content does not match its checksum"):
        read_shard(p)


def test_attribute_values_round_trip_to_the_same_checksum(tmp_path):
    import h5py

    from avvp_pipeline.features.store import _canonical_attr, read_shard, write_shard

    attrs = {
        "int": 3,
        "neg": -7,
        "float": 0.1,
        "nan": float("nan"),
        "str": "résumé ∆",
        "empty": "",
        "np_int32": np.int32(5),
        "np_uint8": np.uint8(200),
        "np_float32": np.float32(0.1),
        "np_float64": np.float64(1e-300),
        "np_str": np.str_("x"),
        "bool": True,
        "list": [1, "a"],
    }
    p = tmp_path / "s.h5"
    write_shard(p, ["a"], np.zeros((1, 2, 3)), attrs)
    back = read_shard(p)[2]  # verifies the checksum computed from the values written
    with h5py.File(p, "r") as f:
        assert isinstance(f.attrs["int"], np.integer) and isinstance(f.attrs["np_float32"], np.float32)
    for key, value in attrs.items():
        written = value if isinstance(value, (int, float, np.integer, np.floating)) else str(value)
        assert _canonical_attr(written) == _canonical_attr(back[key]), key
    assert _canonical_attr(np.float32(0.1)) != _canonical_attr(0.1)  # float32 and float64 0.1 differ
    assert _canonical_attr(b"abc") == _canonical_attr("abc") and _canonical_attr(1) != _canonical_attr(1.0)


def test_a_shard_of_the_older_checksum_version_is_moved_aside_to_be_rebuilt(tmp_path):
    import h5py

    from avvp_pipeline.features.store import CorruptShard, load_features, read_shard

    p = tmp_path / "shard-0000.h5"
    _vggish_shard(p)
    with h5py.File(p, "r+") as f:  # what version 1 wrote: no checksum_version
        del f.attrs["checksum_version"]
    with pytest.raises(
        CorruptShard,
        match=r"shard-0000.h5: written by an older avvp-pipeline \(checksum version 1\): "
        "rebuild it",
    ):
        read_shard(p)
    assert read_shard(p, verify=False)[0] == ["a", "b", "c"]
    with pytest.raises(CorruptShard, match="older avvp-pipeline .* moved aside to .*shard-0000.h5.corrupt"):
        load_features([p], workflow_results=tmp_path)
    assert not p.exists() and p.with_name("shard-0000.h5.corrupt").exists()


def test_per_video_datasets_must_have_one_row_per_video(tmp_path):
    with pytest.raises(ValueError, match=r"s.h5: per-video dataset 'has_audio' has shape \(2,\) for 3 videos"):
        store.write_shard(
            tmp_path / "s.h5", ["a", "b", "c"], np.zeros((3, 2, 2)), {}, extra={"has_audio": np.array([True, False])}
        )
    assert not list(tmp_path.iterdir())


def test_verify_without_shards_is_an_error(tmp_path):
    import subprocess
    import sys

    (tmp_path / "empty").mkdir()
    _vggish_shard(tmp_path / "full" / "shard-0000.h5")
    cli = [sys.executable, "-m", "avvp_pipeline.cli", "verify"]
    empty = subprocess.run(cli + [str(tmp_path / "empty")], capture_output=True, text=True)
    assert empty.returncode == 1
    assert f"no feature shards (shard-*.h5) found in {tmp_path / 'empty'}" in empty.stdout
    both = subprocess.run(
        cli + [str(tmp_path / "full"), str(tmp_path / "empty"), str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
    )
    assert both.returncode == 1 and f"ok       {tmp_path / 'full' / 'shard-0000.h5'}" in both.stdout
    assert f"{tmp_path / 'nowhere'}: no such file or folder" in both.stdout
    assert "1 shards checked, 0 corrupt, 2 paths with no shards" in both.stdout
    ok = subprocess.run(cli + [str(tmp_path / "full")], capture_output=True, text=True)
    assert ok.returncode == 0 and "1 shards checked, 0 corrupt" in ok.stdout


def test_videos_of_different_lengths_keep_their_lengths_and_zero_padding(tmp_path):
    x = np.random.default_rng(0).random((3, 40, 4), dtype=np.float32) + 1  # 5 segments of 8 rows at most
    store.write_shard(tmp_path / "s.h5", ["a", "b", "c"], x, {"extractor": "resnet152"}, lengths=np.array([3, 5, 2]))
    shard = store.read_full_shard(tmp_path / "s.h5")  # verified: the lengths are under the checksum
    assert shard.rows.tolist() == [24, 40, 16]
    assert np.array_equal(shard.features[0, :24], x[0, :24]) and not shard.features[0, 24:].any()
    assert np.array_equal(shard.features[1], x[1]) and not shard.features[2, 16:].any()


def test_equal_lengths_write_the_same_file_as_no_lengths(tmp_path):
    """A shard of 10-second videos (every LLP shard) keeps its layout and checksum."""
    x = np.random.default_rng(1).random((2, 80, 4), dtype=np.float32)
    store.write_shard(tmp_path / "plain.h5", ["a", "b"], x, {"extractor": "resnet152"})
    store.write_shard(tmp_path / "timed.h5", ["a", "b"], x, {"extractor": "resnet152"}, lengths=np.array([10, 10]))
    assert (tmp_path / "plain.h5").read_bytes() == (tmp_path / "timed.h5").read_bytes()
    assert store.read_full_shard(tmp_path / "plain.h5").rows.tolist() == [80, 80]


def test_lengths_that_do_not_fit_the_features_are_refused(tmp_path):
    with pytest.raises(ValueError, match="s.h5: lengths must be 2 whole numbers"):
        store.write_shard(tmp_path / "s.h5", ["a", "b"], np.zeros((2, 8, 4)), {}, lengths=np.array([1, 0]))
    with pytest.raises(ValueError, match="s.h5: 9 feature rows are not a whole number per segment"):
        store.write_shard(tmp_path / "s.h5", ["a", "b"], np.zeros((2, 9, 4)), {}, lengths=np.array([1, 2]))


def test_load_padded_pads_shards_to_the_longest_video(tmp_path):
    store.write_shard(tmp_path / "0.h5", ["a", "b"], np.ones((2, 3, 4)), {}, lengths=np.array([3, 1]))
    store.write_shard(tmp_path / "1.h5", ["c"], np.ones((1, 6, 4)), {})  # no lengths: all rows real
    index, x, rows, _ = store.load_padded([tmp_path / "0.h5", tmp_path / "1.h5"])
    assert index == {"a": 0, "b": 1, "c": 2} and x.shape == (3, 6, 4) and rows.tolist() == [3, 1, 6]
    assert x[0, :3].all() and not x[0, 3:].any() and not x[1, 1:].any() and x[2].all()
