"""A data set chosen by ``dataset.name`` through the workflow's front half: the demo rendered as a custom
set (another class list, clips of 4 to 20 s) plans and runs synth -> extract -> index; a bad custom
folder or a key that does not apply to the kind stops planning in one line, with nothing written."""

from __future__ import annotations

import copy
import csv
import json
import re
import time
from pathlib import Path

import h5py
import pytest
import yaml
from snakerun import TINY, snakemake

from avvp_pipeline.cli import main
from avvp_pipeline.data.index import index_classes, load_split
from avvp_pipeline.data.synth.clip_plan import video_filenames
from avvp_pipeline.data.synth.spec import SynthSpec
from avvp_pipeline.features import store
from avvp_pipeline.features.kinds import kind
from avvp_pipeline.models.checkpoint import load_trained
from avvp_pipeline.reporting import FIGURES
from avvp_pipeline.reporting.event_exports import read_events_csv

CLASSES = ["speech", "dog", "doorbell", "car"]
CUSTOM_DEMO = copy.deepcopy(TINY)
CUSTOM_DEMO["dataset"]["name"] = "custom"
CUSTOM_DEMO["dataset"]["synth"].update(
    classes=CLASSES, duration=[4, 20], n_train=12, n_val=4, n_test=4, width=32, height=32, fps=8.0, max_event=4
)
CUSTOM_DEMO["features"].update(shard_size=20, precision="fp32")  # one shard: each model built once
CUSTOM_DEMO["train"]["models"] = ["han"]


def synth_options() -> dict:
    return {k: v for k, v in CUSTOM_DEMO["dataset"]["synth"].items() if k != "enabled"}


def _config(workdir, cfg: dict):
    workdir.mkdir(exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))
    return workdir


def test_the_custom_demo_plans_any_length_extraction_and_its_index(tmp_path):
    out = snakemake(_config(tmp_path, CUSTOM_DEMO), "-n", "-p").stdout
    synth = next(line for line in out.splitlines() if line.startswith("Shell command: avvp synth"))
    assert '"layout":"custom"' in synth and '"duration":[4,20]' in synth
    extract = [line for line in out.splitlines() if line.startswith("Shell command: avvp extract")]
    assert len(extract) == 2 and all('"any_length":true' in line for line in extract)
    index = next(line for line in out.splitlines() if line.startswith("Shell command: avvp index"))
    assert '--dataset \'{"annotations_dir":"resources/demo/annotations","name":"custom"}\'' in index
    assert "--lengths-from results/features/vggish/shard-0000.h5" in index
    assert "--warnings results/dataset/warnings.tsv" in index


def _custom_folder(root, train: str):
    (root / "ann").mkdir(parents=True)
    (root / "videos").mkdir()
    for split, text in (("train", train), ("val", "v1\tdog\n"), ("test", "t1\tdog\n")):
        (root / "ann" / f"{split}.tsv").write_text(f"filename\tlabels\n{text}")
    for name in ("a1", "v1", "t1"):
        (root / "videos" / f"{name}.mp4").write_bytes(b"not read by a dry run")
    return {"name": "custom", "annotations_dir": str(root / "ann"), "videos_dir": str(root / "videos")}


@pytest.mark.parametrize(
    ("train", "extra", "message"),
    [
        ("a1\tdog,dog\n", {}, "train.tsv:2: label 'dog' repeated for a1 (lenient reading: counted once)"),
        ("a1\tdog\n", {"legacy_eval_audio": True}, "dataset.legacy_eval_audio is set for dataset.name custom"),
    ],
)
def test_a_bad_custom_set_stops_planning_in_one_line_and_writes_nothing(tmp_path, train, extra, message):
    cfg = copy.deepcopy(TINY)
    cfg["dataset"] = {**_custom_folder(tmp_path / "data", train), **extra}
    proc = snakemake(_config(tmp_path / "run", cfg), "-n", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and message in out and "Traceback" not in out, out[-2000:]
    assert [line for line in out.splitlines() if message in line][0].count(message) == 1
    assert not (tmp_path / "run" / "results").exists()


def test_a_custom_set_with_a_valor_row_is_told_to_drop_it_not_to_add_pseudo_labels(tmp_path):
    cfg = copy.deepcopy(TINY)
    cfg["dataset"] = _custom_folder(tmp_path / "data", "a1\tdog\n")
    cfg["train"]["models"] = ["han", "valor"]
    proc = snakemake(_config(tmp_path / "run", cfg), "-n", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out
    assert "dataset.name is custom but train.models has valor, whose pseudo labels are LLP's" in out, out[-2000:]


def test_a_lenient_custom_set_plans_with_its_warnings_logged(tmp_path):
    cfg = copy.deepcopy(TINY)
    cfg["dataset"] = {**_custom_folder(tmp_path / "data", "a1\tdog,dog\n"), "lenient": True}
    cfg["train"]["models"] = ["han"]
    proc = snakemake(_config(tmp_path / "run", cfg), "-n", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-2000:]
    assert "train.tsv:2: label 'dog' repeated for a1; counted once" in out


def test_lenient_is_refused_for_llp(tmp_path):
    cfg = copy.deepcopy(TINY)
    cfg["dataset"]["lenient"] = True
    proc = snakemake(_config(tmp_path, cfg), "-n", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "dataset.lenient is set for dataset.name llp: it applies to custom only" in out


def _page_videos(page) -> list[dict]:
    """The videos a page (a model's video page or a parsed folder's index.html) shows, from its embedded data."""
    text = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', page.read_text(), re.S)
    return json.loads(text.group(1))["videos"]


def _front_half(tmp_path) -> dict[str, int]:
    """The index of the run: its classes, each video as long as generated, the shards agreeing; the lengths."""
    index = tmp_path / "results/dataset/index.h5"
    assert index_classes(index) == (tuple(CLASSES), 1.0)
    lengths = {}
    for split in ("train", "val", "test"):
        s = load_split(index, split)
        lengths.update(zip(s.video_ids, s.lengths.tolist()))
    # each clip as long as the generator made it (<id>_<start>_<end>)
    spec = SynthSpec.from_dict({**synth_options(), "vocabulary": CLASSES})
    names = [n for split in video_filenames(spec).values() for n in split]
    assert lengths == {n[:11]: int(n.split("_")[-1]) - int(n.split("_")[-2]) for n in names}
    assert len(set(lengths.values())) > 1
    for name in ("vggish", "resnet152", "r2plus1d_18"):
        for path in sorted((tmp_path / "results/features" / name).glob("shard-*.h5")):
            shard = store.read_full_shard(path)
            rows = shard.rows // kind(name).rows_per_second
            assert dict(zip(shard.video_ids, rows.tolist())) == {v: lengths[v] for v in shard.video_ids}
    with h5py.File(index) as f:
        assert f["val/gt_audio"].shape[1:] == (4, max(load_split(index, "val").lengths))
    return lengths


def _new_clip(tmp_path, seconds: int) -> Path:
    """One clip of ``seconds`` seconds the run never saw: the generator with another seed, as a custom set."""
    cfg = {**synth_options(), "seed": 99, "duration": seconds, "n_train": 1, "n_val": 0, "n_test": 0}
    cfg.update(layout="custom", vocabulary=CLASSES)
    videos = tmp_path / "new"
    args = ["--videos-dir", str(videos), "--annotations-dir", str(tmp_path / "new-ann"), "--config", json.dumps(cfg)]
    assert main(["synth", *args]) == 0
    (clip,) = videos.glob("*.mp4")
    return clip


@pytest.mark.slow
def test_the_custom_demo_runs_the_whole_workflow_and_its_model_parses_a_new_video(tmp_path):
    """synth -> extract -> index -> train HAN -> evaluate -> figures, video page, report; then the trained
    model.pt parses a generated clip of another length whole: everything carries the custom class names."""
    t0 = time.perf_counter()
    snakemake(_config(tmp_path, CUSTOM_DEMO))
    lengths = _front_half(tmp_path)
    results = tmp_path / "results"
    trained = load_trained(results / "runs/han/model.pt")
    train_lengths = [lengths[v] for v in load_split(results / "dataset/index.h5", "train").video_ids]
    assert trained.classes == tuple(CLASSES)
    assert trained.train_lengths == (min(train_lengths), max(train_lengths)) and trained.parse_window is None
    with open(results / "reports/per_class.csv") as f:
        rows = list(csv.DictReader(f))
    assert {m: [r["class"] for r in rows if r["modality"] == m] for m in ("audio", "visual", "av")} == {
        m: CLASSES for m in ("audio", "visual", "av")
    }
    report = (results / "reports/results.md").read_text()
    assert "| han | ours |" in report and "published" not in report  # LLP's figures are not this data set's
    for figure in FIGURES:
        assert (results / "reports/figures/han" / figure).stat().st_size > 0
    shown = _page_videos(results / "reports/videos/han.html")
    test = load_split(results / "dataset/index.h5", "test").video_ids
    assert len(shown) == len(test) and all(set(v["probs"]) <= set(CLASSES) for v in shown)
    assert sorted(v["duration"] for v in shown) == sorted(float(lengths[v]) for v in test)

    clip = _new_clip(tmp_path, 23)
    assert 23 not in lengths.values()
    model, parsed = str(results / "runs/han/model.pt"), str(tmp_path / "parsed")
    assert main(["--quiet", "parse", str(clip), "--model", model, "--out", parsed]) == 0
    folder = tmp_path / "parsed" / clip.stem
    doc = json.loads((folder / "events.json").read_text())
    assert doc["windows"] == 1 and doc["duration"] == 23.0
    events = [e for key in ("audio", "visual", "audio_visual") for e in doc[key]]
    assert events and {e["label"] for e in events} <= set(CLASSES) and max(e["offset"] for e in events) <= 23.0
    assert {r["label"] for r in read_events_csv(folder / "events.csv")} <= set(CLASSES)
    (page,) = _page_videos(folder / "index.html")
    assert page["duration"] == 23.0 and set(page["probs"]) <= set(CLASSES)
    assert all(len(p["audio"]) == 23 for p in page["probs"].values())
    print(f"custom demo, whole workflow and a parse: {time.perf_counter() - t0:.1f} s")
