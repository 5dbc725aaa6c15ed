"""`dataset.download` at planning and in the jobs it plans: every annotated clip is planned whether its file
is there or not, `offline: true` refuses it in one line, the download command writes the shard's video
manifest of the clips it has, and the report counts the available clips of each split from the manifests
and the failures files."""

from __future__ import annotations

import shutil

import pytest

from avvp_pipeline.cli import main
from avvp_pipeline.data import llp
from avvp_pipeline.data.index import build_index
from avvp_pipeline.evaluation.availability import NOT_FOUND, clips_markdown, split_clips
from avvp_pipeline.features.manifest import listing, read_files
from avvp_pipeline.media.clip_download import read_failures
from avvp_pipeline.plan import PlanError, check_offline, plan_videos


def _dataset(annotations, videos, **download):
    return {"annotations_dir": str(annotations), "videos_dir": str(videos), "download": download}


def _names(annotations) -> dict[str, str]:
    return {llp.video_id(n): n for f in llp.SPLIT_FILES.values() for n in llp.read_weak_labels(annotations / f)[0]}


def test_download_plans_every_annotated_clip_into_a_folder_not_made_yet(tiny_set, tmp_path):
    _, annotations, _ = tiny_set
    names = _names(annotations)
    videos = tmp_path / "to fill"
    plan = plan_videos(_dataset(annotations, videos, enabled=True), shard_size=3)
    assert plan.video_ids == sorted(names) and plan.missing == []
    assert [n for k in range(plan.num_shards) for n in plan.shard_names(k)] == [names[v] for v in sorted(names)]
    assert plan.shard_paths(0)[0] == str(videos / f"{sorted(names)[0]}.mp4")
    assert not videos.exists()  # planning makes no folder: the download jobs do
    with pytest.raises(PlanError, match="folder not found"):  # without download the folder must hold the clips
        plan_videos(_dataset(annotations, videos, enabled=False), shard_size=3)


def test_download_needs_both_folders_and_the_network(tiny_set, tmp_path):
    _, annotations, _ = tiny_set
    with pytest.raises(PlanError, match="^dataset.download.enabled is true but dataset.annotations_dir and"):
        plan_videos({"annotations_dir": str(annotations), "download": {"enabled": True}}, shard_size=3)
    config = {"offline": True, "dataset": _dataset(annotations, tmp_path, enabled=True)}
    with pytest.raises(PlanError, match="^offline is true but dataset.download.enabled is true") as err:
        check_offline(config)
    assert "\n" not in str(err.value)
    check_offline({**config, "offline": False})
    check_offline({"offline": True, "dataset": _dataset(annotations, tmp_path, enabled=False)})


def test_the_download_job_writes_the_manifest_of_the_clips_it_has(tiny_set, file_server, tmp_path):
    videos, annotations, _ = tiny_set
    have, gone = sorted(_names(annotations))[:2], "gone_clip03"
    out = tmp_path / "videos"
    out.mkdir()
    for vid in have:  # already there: never fetched
        shutil.copy(videos / f"{vid}.mp4", out / f"{vid}.mp4")
    file_server.faults[f"/{gone}.mp4"] = [410]
    manifest, failures = tmp_path / "videos-shard-0000.tsv", tmp_path / "failures-shard-0000.tsv"
    argv = ["-q", "download", "videos", "--out", str(out), "--manifest", str(manifest), "--failures", str(failures)]
    argv += ["--url-template", file_server.url + "/{id}.mp4", "--rate-limit=", "--cookies=", "--retries", "0"]
    assert main([*argv, "--", f"{have[1]}_0_10", f"{gone}_0_10", f"{have[0]}_0_10"]) == 0
    assert read_files(manifest) == [str(out / f"{have[1]}.mp4"), str(out / f"{have[0]}.mp4")]
    assert [(f.video_id, f.reason) for f in read_failures(failures)] == [(gone, "http 410")]
    assert [path for _, path, _ in file_server.requests] == [f"/{gone}.mp4"]


def test_a_file_that_is_not_a_failures_file_is_named(tmp_path):
    bad = tmp_path / "failures.tsv"
    bad.write_text("file\tsize\n")
    with pytest.raises(ValueError, match=f"^{bad}: not a clip failures file"):
        read_failures(bad)


def test_the_report_counts_available_clips_per_split(tiny_set, tmp_path):
    videos, annotations, _ = tiny_set
    build_index(annotations, tmp_path / "index.h5")
    train, _ = llp.read_weak_labels(annotations / llp.SPLIT_FILES["train"])
    test, _ = llp.read_weak_labels(annotations / llp.SPLIT_FILES["test"])
    lost_train, lost_test = llp.video_id(train[0]), llp.video_id(test[0])
    present = [v for v in _names(annotations) if v not in (lost_train, lost_test)]
    (tmp_path / "m.tsv").write_text(listing([str(videos / f"{v}.mp4") for v in present]))
    (tmp_path / "f.tsv").write_text(f"filename\tvideo_id\treason\tdetail\n{test[0]}\t{lost_test}\thttp 404\tgone\n")
    counts = {c.split: c for c in split_clips(tmp_path / "index.h5", [tmp_path / "m.tsv"], [tmp_path / "f.tsv"])}
    assert (counts["train"].listed, counts["train"].available, counts["train"].missing) == (
        len(train),
        len(train) - 1,
        {NOT_FOUND: 1},
    )
    assert (counts["test"].available, counts["test"].missing) == (len(test) - 1, {"http 404": 1})
    assert counts["val"].available == counts["val"].listed
    text = clips_markdown(list(counts.values()))
    assert f"| test | {len(test)} | {len(test) - 1} | 1 (http 404: 1) |" in text
