"""Planning stops early and clearly: where the data is, which files are videos, which model names exist."""

from __future__ import annotations

import logging
import os

import pytest

from avvp_pipeline.models.rows import MODELS
from avvp_pipeline.plan import PlanError, check_models, data_source, parse_inputs, plan_videos

SYNTH = {"enabled": True, "seed": 1, "n_train": 5, "n_val": 2, "n_test": 2}


def _real(annotations, videos):
    return {"annotations_dir": str(annotations), "videos_dir": str(videos), "synth": dict(SYNTH)}


def test_demo_renders_only_into_its_own_folder():
    src = data_source({"annotations_dir": None, "videos_dir": None, "synth": SYNTH})
    assert src.synthetic and (src.annotations_dir, src.videos_dir) == (
        "resources/demo/annotations",
        "resources/demo/videos",
    )


def test_data_folders_turn_the_demo_off_whatever_a_merged_config_says(tiny_set):
    """config.yaml (demo) merged with a user config that names folders but says nothing of `synth`."""
    videos, annotations, _ = tiny_set
    src = data_source(_real(annotations, videos))
    assert not src.synthetic and src.videos_dir == str(videos)
    plan = plan_videos(_real(annotations, videos), shard_size=3)
    assert plan.videos_dir == str(videos) and len(plan.video_ids) == 8


def test_half_a_data_source_or_none_is_refused():
    with pytest.raises(PlanError, match="videos_dir is set but dataset.annotations_dir is not"):
        data_source({"annotations_dir": None, "videos_dir": "v"})
    with pytest.raises(PlanError, match="no data"):
        data_source({"annotations_dir": None, "videos_dir": None, "synth": {"enabled": False}})


def test_missing_or_empty_videos_folder_stops_planning(tiny_set, tmp_path):
    _, annotations, _ = tiny_set
    with pytest.raises(PlanError, match=r"videos_dir .*nowhere: folder not found"):
        plan_videos(_real(annotations, tmp_path / "nowhere"), 4)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(PlanError, match="no videos"):
        plan_videos(_real(annotations, tmp_path / "empty"), 4)
    (tmp_path / "others").mkdir()
    (tmp_path / "others" / "zzzzzzzzzzz.mp4").write_bytes(b"x")
    with pytest.raises(PlanError, match="none of the 8 annotated videos"):
        plan_videos(_real(annotations, tmp_path / "others"), 4)


def test_dangling_symlink_is_listed_and_skipped(tiny_set, tmp_path, caplog):
    videos, annotations, _ = tiny_set
    ids = sorted(p.stem for p in videos.glob("*.mp4"))
    folder = tmp_path / "videos"
    folder.mkdir()
    for vid in ids[1:]:
        (folder / f"{vid}.mp4").symlink_to(videos / f"{vid}.mp4")
    (folder / f"{ids[0]}.mp4").symlink_to(tmp_path / "gone.mp4")
    with caplog.at_level(logging.WARNING):
        plan = plan_videos(_real(annotations, folder), 3)
    assert plan.video_ids == ids[1:] and plan.missing == ids[:1]
    assert plan.unusable == [(str(folder / f"{ids[0]}.mp4"), f"dangling symbolic link (to {tmp_path / 'gone.mp4'})")]
    assert "dangling symbolic link" in caplog.text


def test_other_containers_are_used_and_mp4_preferred(tiny_set, tmp_path, caplog):
    videos, annotations, _ = tiny_set
    ids = sorted(p.stem for p in videos.glob("*.mp4"))
    folder = tmp_path / "videos"
    folder.mkdir()
    for vid in ids:
        (folder / f"{vid}.mp4").symlink_to(videos / f"{vid}.mp4")
    os.rename(folder / f"{ids[0]}.mp4", folder / f"{ids[0]}.mkv")
    os.rename(folder / f"{ids[1]}.mp4", folder / f"{ids[1]}.WEBM")
    (folder / f"{ids[2]}.webm").symlink_to(videos / f"{ids[2]}.mp4")
    with caplog.at_level(logging.WARNING):
        plan = plan_videos(_real(annotations, folder), 8)
    assert plan.video_ids == ids and not plan.missing
    paths = plan.shard_paths(0)
    assert paths[0].endswith(f"{ids[0]}.mkv") and paths[1].endswith(f"{ids[1]}.WEBM")
    assert paths[2].endswith(f"{ids[2]}.mp4") and f"several files for video {ids[2]}" in caplog.text


def test_ids_outside_the_youtube_alphabet_are_refused(tmp_path):
    ann = tmp_path / "ann"
    ann.mkdir()
    rows = {
        "AVVP_train.csv": "abcdefghijk_0_10\tSpeech",
        "AVVP_val_pd.csv": "bbcdefghijk_0_10\tDog",
        "AVVP_test_pd.csv": "ab{defghijk_0_10\tDog",
    }
    for name, row in rows.items():
        (ann / name).write_text(f"filename\tevent_labels\n{row}\n")
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "abcdefghijk.mp4").write_bytes(b"x")
    with pytest.raises(
        PlanError,
        match=r"AVVP_test_pd.csv: filename 'ab\{defghijk_0_10' does not start with an "
        "11-character YouTube id",
    ):
        plan_videos(_real(ann, tmp_path / "v"), 4)


def test_a_video_in_two_splits_stops_planning(tmp_path):
    ann = tmp_path / "ann"
    ann.mkdir()
    rows = {
        "AVVP_train.csv": "abcdefghijk_0_10\tSpeech",
        "AVVP_val_pd.csv": "bbcdefghijk_0_10\tDog",
        "AVVP_test_pd.csv": "abcdefghijk_30_40\tDog",
    }
    for name, row in rows.items():
        (ann / name).write_text(f"filename\tevent_labels\n{row}\n")
    (tmp_path / "v").mkdir()
    with pytest.raises(PlanError, match=r"AVVP_test_pd.csv:2: video 'abcdefghijk' .* is also in .*AVVP_train.csv:2"):
        plan_videos(_real(ann, tmp_path / "v"), 4)


def test_parse_folder_inputs(tmp_path, caplog):
    with pytest.raises(PlanError, match="folder not found"):
        parse_inputs(str(tmp_path / "nowhere"))
    d = tmp_path / "mine"
    d.mkdir()
    (d / ".hidden.mp4").write_bytes(b"x")
    with pytest.raises(PlanError, match="no videos"):
        parse_inputs(str(d))
    (d / "holiday.mp4").write_bytes(b"x")
    (d / "gone.mp4").symlink_to(tmp_path / "gone")
    (d / "sub").mkdir()
    with caplog.at_level(logging.WARNING):
        assert parse_inputs(str(d)) == [str(d / "holiday.mp4")]
    assert "gone.mp4: dangling symbolic link" in caplog.text and "1 subfolder not searched (sub)" in caplog.text
    (d / "a{b}.mp4").write_bytes(b"x")
    with pytest.raises(PlanError, match=r"a\{b\}.mp4: a file name with"):
        parse_inputs(str(d))


def test_unknown_model_names_are_named():
    known = list(MODELS)
    check_models(known, {"models": ["han", "ma*+ours"], "per_model": {"ma*": {"epochs": 3}}}, {"models": ["han"]})
    with pytest.raises(PlanError, match=r"unknown model 'hann' in train.models; did you mean 'han'\?"):
        check_models(known, {"models": ["hann"]}, {})
    with pytest.raises(PlanError, match="unknown model 'han_cmco' in train.per_model"):
        check_models(known, {"models": ["han"], "per_model": {"han_cmco": {}}}, {})
    with pytest.raises(PlanError, match="unknown model 'nope' in parse.models"):
        check_models(known, {"models": ["han"]}, {"models": ["nope"]})


def test_plan_all_released_llp_features_quickly(tmp_path):
    """All 11,849 ids of the official CSVs against a release folder of 3 x 11,849 (empty) .npy files."""
    import time

    from conftest import llp_dir

    from avvp_pipeline.data import llp

    ann = llp_dir()
    if not (ann / "AVVP_train.csv").is_file():
        pytest.skip(f"LLP annotation CSVs not found in {ann} (set AVVP_LLP_DIR to the shared LLP folder)")
    ids = sorted({llp.video_id(f) for split in llp.SPLIT_FILES.values() for f in llp.read_weak_labels(ann / split)[0]})
    assert len(ids) == 11_849
    for folder in ("vggish", "res152", "r2plus1d_18"):
        (tmp_path / folder).mkdir()
        for vid in ids if folder != "res152" else ids[:-3]:
            (tmp_path / folder / f"{vid}.npy").touch()
    t0 = time.perf_counter()
    plan = plan_videos(
        {"annotations_dir": str(ann), "videos_dir": None}, 256, {"source": "released", "released_dir": str(tmp_path)}
    )
    assert time.perf_counter() - t0 < 5.0  # planning runs at every snakemake start
    assert len(plan.video_ids) == 11_846 and plan.missing == ids[-3:] and plan.num_shards == 47
    assert len(plan.shard_released_files(46)) == 3 * (11_846 - 46 * 256)


def test_parse_videos_with_released_features_stops_planning():
    from avvp_pipeline.plan import check_parse

    check_parse({"source": "released"}, {"videos_dir": None})
    check_parse({"source": "extract"}, {"videos_dir": "mine"})
    with pytest.raises(PlanError, match="parse.videos_dir is set but features.source is released"):
        check_parse({"source": "released"}, {"videos_dir": "mine"})
    with pytest.raises(PlanError, match="features.source 'videos': expected extract or released"):
        check_parse({"source": "videos"}, {})
