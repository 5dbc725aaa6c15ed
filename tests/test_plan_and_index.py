"""Parse-time planning (videos, shards, missing files) and the dataset index."""

import numpy as np
import pytest
from conftest import llp_dir

from avvp_pipeline.data.index import build_index, load_split, read_split
from avvp_pipeline.plan import plan_videos


def test_plan_synthetic_names_without_rendering(tmp_path):
    cfg = {
        "videos_dir": None,
        "annotations_dir": None,
        "synth": {"enabled": True, "seed": 1, "n_train": 5, "n_val": 2, "n_test": 2},
    }
    plan = plan_videos(cfg, shard_size=4)
    assert len(plan.video_ids) == 9 and plan.num_shards == 3 and plan.video_ids == sorted(plan.video_ids)
    assert plan.shard(2) == plan.video_ids[8:] and plan.shard_paths(0)[0].endswith(f"{plan.video_ids[0]}.mp4")
    assert plan_videos(cfg, 4).video_ids == plan.video_ids  # deterministic
    with pytest.raises(IndexError):
        plan.shard(3)


def test_plan_reports_and_skips_missing_videos(tiny_set, tmp_path, caplog):
    videos, annotations, _ = tiny_set
    present = sorted(p.stem for p in videos.glob("*.mp4"))
    partial = tmp_path / "videos"
    partial.mkdir()
    for vid in present[1:]:
        (partial / f"{vid}.mp4").symlink_to(videos / f"{vid}.mp4")
    plan = plan_videos({"videos_dir": str(partial), "annotations_dir": str(annotations)}, shard_size=3)
    assert plan.missing == present[:1] and plan.video_ids == present[1:]
    assert "1 of 8 videos are missing" in caplog.text


def test_index_round_trip(tiny_set, tmp_path):
    _, annotations, spec = tiny_set
    counts = build_index(annotations, tmp_path / "index.h5")
    assert counts == {"train": spec.n_train, "val": spec.n_val, "test": spec.n_test}
    train, test = load_split(tmp_path / "index.h5", "train"), load_split(tmp_path / "index.h5", "test")
    assert train.gt_audio is None and test.gt_audio.shape == (spec.n_test, 25, 10)
    direct = read_split(annotations, "test")
    assert test.filenames == direct.filenames and np.array_equal(test.gt_visual, direct.gt_visual)
    # weak labels are the union of the dense classes in the synthetic set
    union = (test.gt_audio.any(-1) | test.gt_visual.any(-1)).astype(np.uint8)
    assert np.array_equal(union, test.labels)


@pytest.mark.skipif(not (llp_dir() / "AVVP_train.csv").is_file(), reason="LLP annotation CSVs not found")
def test_plan_all_of_llp_quickly(tmp_path):
    import time

    if not (llp_dir() / "AVVP_train.csv").is_file():
        pytest.skip(f"LLP annotation CSVs not found in {llp_dir()} (set AVVP_LLP_DIR to the shared LLP folder)")
    (tmp_path / "BjCEufrlXm4.mp4").touch()
    cfg = {"annotations_dir": str(llp_dir()), "videos_dir": str(tmp_path)}
    t0 = time.perf_counter()
    plan = plan_videos(cfg, shard_size=256)
    assert time.perf_counter() - t0 < 5.0  # generous bound: planning runs at every snakemake start
    assert len(plan.missing) == 11848 and plan.video_ids == ["BjCEufrlXm4"]


def test_index_records_each_videos_length(tiny_set, tmp_path):
    import h5py

    from avvp_pipeline.data.index import Split, index_classes, write_index

    _, annotations, spec = tiny_set
    build_index(annotations, tmp_path / "llp.h5")
    assert load_split(tmp_path / "llp.h5", "test").lengths.tolist() == [10] * spec.n_test
    gt = np.zeros((2, 3, 40), np.uint8)
    gt[0, 1, :3] = 1
    test = Split("test", ["a.mp4", "b.mp4"], ["a", "b"], np.eye(2, 3, dtype=np.uint8), gt, gt, np.array([3, 40]))
    write_index(tmp_path / "any.h5", [test], ("x", "y", "z"), segment_seconds=0.5)
    back = load_split(tmp_path / "any.h5", "test")
    assert back.lengths.tolist() == [3, 40] and np.array_equal(back.gt_audio, gt)
    assert index_classes(tmp_path / "any.h5") == (("x", "y", "z"), 0.5)
    assert index_classes(tmp_path / "llp.h5")[1] == 1.0
    with h5py.File(tmp_path / "llp.h5", "r+") as f:  # an index written before lengths were recorded
        del f["test/lengths"]
    assert load_split(tmp_path / "llp.h5", "test").lengths.tolist() == [10] * spec.n_test
    test.lengths = np.array([3, 41])
    with pytest.raises(ValueError, match="split test: a video of 41 segments, but the dense truth covers 40"):
        write_index(tmp_path / "bad.h5", [test], ("x", "y", "z"))
