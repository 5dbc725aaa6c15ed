"""`dataset.download` in the workflow: the clips the annotation CSVs name are fetched (from a 127.0.0.1
server standing in for YouTube), cut and listed per shard; the ones that cannot be had are listed with
their reason; HAN trains on the rest and the report says on how many clips of each split. `offline: true`
reaches the jobs, and with downloading stops planning in one line."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml
from snakerun import TINY, environment, snakemake

from avvp_pipeline.data import llp
from avvp_pipeline.features.manifest import read_files
from avvp_pipeline.media.clip_download import read_failures
from avvp_pipeline.media.probe import probe

MISSING = {"train": ("gone404abcd", 404), "test": ("gone410abcd", 410)}  # split: (id, the server's answer)


def _annotations(src: Path, dest: Path) -> list[str]:
    """The tiny set's CSVs in ``dest`` with each clip's window 0-10 (the server sends the clip itself) and
    one more clip in train and in test that the server does not have; the ids of the served clips."""
    dest.mkdir()
    ids = sorted({llp.video_id(n) for f in llp.SPLIT_FILES.values() for n in llp.read_weak_labels(src / f)[0]})
    for csv in src.glob("*.csv"):
        (dest / csv.name).write_text(re.sub(r"^([\w-]{11})_\d+_\d+", r"\1_0_10", csv.read_text(), flags=re.M))
    for split, (vid, _) in MISSING.items():
        with open(dest / llp.SPLIT_FILES[split], "a") as fh:
            fh.write(f"{vid}_0_10\tSpeech\n")
    return ids


def _config(annotations: Path, videos: Path, **download) -> dict:
    cfg = copy.deepcopy(TINY)
    cfg["dataset"] = {
        "annotations_dir": str(annotations),
        "videos_dir": str(videos),
        "download": {"enabled": True, **download},
    }
    cfg["features"]["shard_size"] = 16  # one shard: one job per stage
    cfg["train"]["models"] = ["han"]
    return cfg


def test_downloading_offline_is_refused_at_planning(tmp_path):
    cfg = _config(tmp_path / "annotations", tmp_path / "videos")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({**cfg, "offline": True}))
    proc = snakemake(tmp_path, "-n", check=False)
    lines = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "offline is true" in ln]
    assert proc.returncode != 0 and lines == [
        "offline is true but dataset.download.enabled is true: downloading the clips needs the network; "
        "set offline: false, or download.enabled: false with the clips already in videos_dir"
    ]


@pytest.mark.slow
def test_offline_reaches_the_jobs_that_fetch_weights(tmp_path):
    """`offline: true` alone (no AVVP_OFFLINE in the environment snakemake starts with) stops the
    extraction job that would fetch a missing pretrained weight file before it opens a socket."""
    cfg = copy.deepcopy(TINY)
    cfg["features"].update(weights="pretrained", shard_size=16)
    cfg["train"]["models"] = ["han"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({**cfg, "offline": True}))
    env = environment(TORCH_HOME=str(tmp_path / "torch"), AVVP_BASE_URL_GITHUB="http://127.0.0.1:9")
    env.pop("AVVP_OFFLINE")
    proc = snakemake(tmp_path, "--until", "extract_audio", check=False, env=env)
    assert proc.returncode != 0
    assert "offline mode is on" in (tmp_path / "results/logs/extract_audio/shard-0000.log").read_text()


@pytest.mark.slow
def test_clips_are_downloaded_in_the_dag_and_the_report_counts_them(tiny_set, file_server, tmp_path):
    videos_src, annotations_src, _ = tiny_set
    ids = _annotations(annotations_src, tmp_path / "annotations")
    for vid in ids:
        file_server.files[f"/{vid}.mp4"] = (videos_src / f"{vid}.mp4").read_bytes()
    file_server.faults[f"/{MISSING['test'][0]}.mp4"] = [410] * 3
    videos, wd = tmp_path / "videos", tmp_path / "run"
    cfg = _config(tmp_path / "annotations", videos, url_template=file_server.url + "/{id}.mp4", retries=0, jobs=2)
    wd.mkdir()
    (wd / "config.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(wd)

    assert sorted(p.stem for p in videos.glob("*.mp4")) == ids
    info = probe(videos / f"{ids[0]}.mp4")
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    results = wd / "results"
    assert read_files(results / "features/manifests/videos-shard-0000.tsv") == [str(videos / f"{v}.mp4") for v in ids]
    failures = read_failures(results / "downloads/failures-shard-0000.tsv")
    assert {f.video_id: f.reason for f in failures} == {vid: f"http {code}" for vid, code in MISSING.values()}
    assert (results / "features/vggish/shard-0000.h5").is_file() and (results / "runs/han/metrics.json").is_file()
    report = (results / "reports/results.md").read_text()
    listed = {s: len(llp.read_weak_labels(tmp_path / "annotations" / f)[0]) for s, f in llp.SPLIT_FILES.items()}
    assert f"| train | {listed['train']} | {listed['train'] - 1} | 1 (http 404: 1) |" in report
    assert f"| test | {listed['test']} | {listed['test'] - 1} | 1 (http 410: 1) |" in report
    assert f"| val | {listed['val']} | {listed['val']} | 0 |" in report

    # the download options change no clip: another value plans nothing, and nothing is fetched again
    requests = len(file_server.requests)
    cfg["dataset"]["download"].update(jobs=1, rate_limit="4M")
    (wd / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert "Nothing to be done" in snakemake(wd, "-n").stdout
    snakemake(wd, "--forcerun", "download_videos", "--until", "download_videos")  # fetches only what is missing
    assert sorted(path for _, path, _ in file_server.requests[requests:]) == sorted(
        f"/{vid}.mp4" for vid, _ in MISSING.values()
    )
