"""`dataset.download` at planning and in the jobs it plans: every annotated clip is planned whether its file
is there or not, `offline: true` refuses it in one line, the download command writes the shard's video
manifest of the clips it has, the report counts the available clips of each split from the manifests
and the failures files, and the broadcast baseline scores only the clips that have features."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from avvp_pipeline.cli import main
from avvp_pipeline.data import llp
from avvp_pipeline.data.index import build_index, load_split
from avvp_pipeline.evaluation.availability import NOT_FOUND, clips_markdown, split_clips
from avvp_pipeline.evaluation.metrics import llp_f_scores
from avvp_pipeline.evaluation.results_file import read_results
from avvp_pipeline.features.kinds import cli_flag
from avvp_pipeline.features.manifest import listing, read_files
from avvp_pipeline.features.store import write_shard
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


def test_the_broadcast_baseline_scores_the_clips_the_models_have(tiny_set, tmp_path):
    """A test clip that could not be had has no features (here: still in one kind's shards, as a clip
    whose other extractions failed): the baseline leaves it out, as evaluation does, and scores the rest."""
    _, annotations, _ = tiny_set
    index = tmp_path / "index.h5"
    build_index(annotations, index)
    test = load_split(index, "test")
    everything = [v for s in ("train", "val", "test") for v in load_split(index, s).video_ids]
    gone = test.video_ids[0]
    argv = ["baseline", "--index", str(index), "--split", "test", "--out", str(tmp_path / "metrics.json")]
    for kind in ("vggish", "resnet152", "r2plus1d_18"):
        ids = [v for v in everything if v != gone or kind == "r2plus1d_18"]
        write_shard(tmp_path / f"{kind}.h5", ids, np.zeros((len(ids), 10, 4)), {"extractor": kind})
        argv += [cli_flag(kind), str(tmp_path / f"{kind}.h5")]
    assert main(argv) == 0

    result = read_results(tmp_path / "metrics.json")
    keep = [i for i, v in enumerate(test.video_ids) if v != gone]
    broadcast = np.repeat(test.labels[keep][:, :, None], test.gt_audio.shape[-1], axis=2).astype(np.uint8)
    assert result["n_videos"] == len(keep) == len(test) - 1 and result["skipped_videos"] == [gone]
    assert result["f_scores"] == llp_f_scores(broadcast, broadcast, test.gt_audio[keep], test.gt_visual[keep])


def test_retrying_failed_clips_changes_only_the_shards_that_gained_one(tiny_set, file_server, tmp_path):
    """`avvp download retry` after a run: shard 0's clip is served now, shard 1's is still gone. Only shard
    0's manifest (its extraction jobs' input) and failures file get a new time; shard 1's are untouched,
    so snakemake extracts shard 0 again and nothing of shard 1."""
    videos_src, annotations, _ = tiny_set
    have0, late, have1 = sorted(_names(annotations))[:3]
    gone = "gone_clip03"
    for vid in (have0, have1):
        file_server.files[f"/{vid}.mp4"] = (videos_src / f"{vid}.mp4").read_bytes()
    results, out = tmp_path / "results", tmp_path / "videos"
    manifests = [results / f"features/manifests/videos-shard-{k:04d}.tsv" for k in (0, 1)]
    failures = [results / f"downloads/failures-shard-{k:04d}.tsv" for k in (0, 1)]
    options = ["--url-template", file_server.url + "/{id}.mp4", "--retries", "0", "--jobs", "1"]
    for k, shard in enumerate([(have0, late), (have1, gone)]):
        manifests[k].parent.mkdir(parents=True, exist_ok=True)
        failures[k].parent.mkdir(parents=True, exist_ok=True)
        argv = ["-q", "download", "videos", "--out", str(out), "--manifest", str(manifests[k])]
        assert main([*argv, "--failures", str(failures[k]), *options, "--", *(f"{v}_0_10" for v in shard)]) == 0
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in manifests + failures}
    assert [f.video_id for f in read_failures(failures[0])] == [late]

    file_server.files[f"/{late}.mp4"] = (videos_src / f"{late}.mp4").read_bytes()
    requests = len(file_server.requests)
    assert main(["-q", "download", "retry", "--results", str(results), "--out", str(out), *options]) == 0
    assert {path for _, path, _ in file_server.requests[requests:]} == {f"/{late}.mp4", f"/{gone}.mp4"}
    assert read_files(manifests[0]) == [str(out / f"{v}.mp4") for v in (have0, late)]
    assert read_failures(failures[0]) == []
    assert manifests[0].stat().st_mtime_ns > before[manifests[0]][1]
    for unchanged in (manifests[1], failures[1]):  # nothing gained: same bytes, same time
        assert (unchanged.read_bytes(), unchanged.stat().st_mtime_ns) == before[unchanged]
    assert not list(failures[1].parent.glob("*.retry"))
