"""The per-shard video manifests: the extraction and teacher jobs' one input instead of their videos."""

from __future__ import annotations

import os

import pytest

from avvp_pipeline.features.manifest import read_files
from avvp_pipeline.plan import VideoPlan
from avvp_pipeline.plan_manifests import video_manifest_path, write_video_manifests


def _videos(folder, names):
    folder.mkdir(exist_ok=True)
    for name in names:
        (folder / f"{name}.mp4").write_bytes(name.encode())
    return VideoPlan(str(folder), list(names), shard_size=2)


def _age(path, seconds):
    t = os.stat(path).st_mtime - seconds
    os.utime(path, (t, t))


def test_a_users_changed_video_gives_only_its_shard_a_new_time(tmp_path):
    plan = _videos(tmp_path / "videos", ["a", "b", "c"])
    features = str(tmp_path / "features")
    assert write_video_manifests(plan, features, None) == 2
    first, second = video_manifest_path(features, 0), video_manifest_path(features, 1)
    assert read_files(first) == [plan.path("a"), plan.path("b")] and read_files(second) == [plan.path("c")]
    for m in (first, second):
        _age(m, 100)
    assert write_video_manifests(plan, features, None) == 0  # nothing changed: the times stay
    # replaced by a file of another size with an older time (cp -p): still a change
    (tmp_path / "videos/c.mp4").write_bytes(b"other content")
    _age(tmp_path / "videos/c.mp4", 1000)
    before = os.stat(first).st_mtime
    assert write_video_manifests(plan, features, None) == 1
    assert os.stat(first).st_mtime == before and os.stat(second).st_mtime > before


def test_the_demos_videos_count_as_changed_only_when_newer_than_the_shards_outputs(tmp_path):
    """Planning lists the demo's videos before the synth job renders them; once the shards were made from
    them the listing fills in without a new time, and a video touched after reruns its shard."""
    folder = tmp_path / "videos"
    plan = VideoPlan(str(folder), ["a", "b"], shard_size=2)
    features = str(tmp_path / "features")
    outputs = [str(tmp_path / "shard-0000.h5"), str(tmp_path / "teacher-0000.h5")]  # the second never made
    assert write_video_manifests(plan, features, lambda k: outputs) == 1  # videos not rendered yet
    manifest = video_manifest_path(features, 0)
    _age(manifest, 100)
    _videos(folder, ["a", "b"])
    for v in ("a", "b"):
        _age(folder / f"{v}.mp4", 50)
    assert write_video_manifests(plan, features, lambda k: outputs) == 1  # rendered, no shard made yet
    _age(manifest, 100)
    (tmp_path / "shard-0000.h5").write_bytes(b"features")
    for v in ("a", "b"):
        _age(folder / f"{v}.mp4", 10)
    before = os.stat(manifest).st_mtime
    assert write_video_manifests(plan, features, lambda k: outputs) == 0
    assert os.stat(manifest).st_mtime == before and str(os.stat(plan.path("a")).st_size) in open(manifest).read()
    os.utime(folder / "a.mp4")  # touched after the shard was made
    assert write_video_manifests(plan, features, lambda k: outputs) == 1


def test_a_file_that_is_no_manifest_is_refused_with_its_name(tmp_path):
    bad = tmp_path / "list.txt"
    bad.write_text("a.mp4\nb.mp4\n")
    with pytest.raises(ValueError, match=r"list\.txt: not a file manifest"):
        read_files(bad)
