"""End to end: snakemake runs the whole DAG on a tiny synthetic set in a temporary folder.

Checks the outputs, that a second dry run has nothing to do, that a training option plans only
training and evaluation (plus the report that reads them), and that speed-only settings
(threads, train.runtime) rebuild nothing.
"""

from __future__ import annotations

import copy
import json
import re

import h5py
import pytest
import yaml
from snakerun import TINY, planned_outputs, planned_rules, snakemake, total_jobs

from avvp_pipeline.models.rows import PAPER_ROWS

pytestmark = pytest.mark.slow

#: The paper's rows and JoMoLD's: `jomold` plans its estimator (one epoch) and noise ratios itself, and
#: trains two epochs (the first flips no label).
FULL = copy.deepcopy(TINY)
FULL["train"]["models"] = [*PAPER_ROWS, "jomold"]
FULL["train"]["per_model"] = {"jomold-estimator": {"epochs": 1}}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("wf")
    (workdir / "config.yaml").write_text(yaml.safe_dump(FULL))
    # names the shell would glob `ma*` into, were a rule to pass a model name unquoted
    (workdir / "ma_notes.txt").write_text("notes")
    (workdir / "ma_base_old").mkdir()
    proc = snakemake(workdir)
    # the console a person watches: `snakemake --cores all` without flags, as the README writes it
    (workdir / "console.log").write_text(proc.stdout + proc.stderr)
    return workdir


def test_outputs_of_a_full_run(finished_run):
    wd = finished_run
    table = (wd / "results/reports/results.md").read_text()
    for row in (*PAPER_ROWS, "jomold", "broadcast"):
        assert re.search(rf"^\| {re.escape(row)} \|", table, re.M), row
        assert row == "broadcast" or (wd / "results/runs" / row / "metrics.json").is_file()
    metrics = json.loads((wd / "results/runs/han/metrics.json").read_text())
    assert set(metrics["f_scores"]) == {
        "seg_audio",
        "seg_visual",
        "seg_av",
        "seg_type",
        "seg_event",
        "ev_audio",
        "ev_visual",
        "ev_av",
        "ev_type",
        "ev_event",
    }
    assert all(0 <= v <= 100 for v in metrics["f_scores"].values()) and metrics["n_videos"] == 3
    # 12 videos in shards of 7: two shards per extractor, every shard records its weights
    for extractor in ("vggish", "resnet152", "r2plus1d_18"):
        shards = sorted((wd / "results/features" / extractor).glob("shard-*.h5"))
        assert [s.name for s in shards] == ["shard-0000.h5", "shard-0001.h5"]
        with h5py.File(shards[1]) as f:
            assert f["video_ids"].shape == (5,) and f.attrs["weights_id"].startswith("random(")
    with h5py.File(wd / "results/runs/han/predictions.h5") as f:
        assert f["frame_prob"].shape == (3, 10, 2, 25)
    for log in ("results/logs/index.log", "results/logs/train/han.log", "results/logs/extract_visual/shard-0000.log"):
        assert (wd / log).is_file()


def test_console_shows_a_short_block_per_job_and_no_input_lists(finished_run):
    """Jobs whose input or output is a list of videos (synth, extraction) show their message instead."""
    lines = (finished_run / "console.log").read_text().splitlines()
    listing = [line for line in lines if line.count(".mp4") > 2]
    assert not listing, f"{len(listing)} console lines list videos, e.g. {listing[0][:200]}"
    jobs = total_jobs("\n".join(lines))
    assert len(lines) <= 16 * jobs, f"{len(lines)} console lines for {jobs} jobs"


def test_model_names_reach_the_commands_unglobbed(finished_run):
    """`ma*` rows train and are labelled as themselves although `ma_notes.txt` and `ma_base_old/` lie
    in the working folder (an unquoted `--model ma*` would be globbed by the shell)."""
    from avvp_pipeline.provenance import provenance

    for row in ("ma*", "ma*+ours", "ma*+cmco"):
        assert provenance(finished_run / "results/runs" / row / "model.pt")["model"] == row
        assert json.loads((finished_run / "results/runs" / row / "metrics.json").read_text())["model"] == row


def test_second_dry_run_has_nothing_to_do(finished_run):
    assert planned_rules(snakemake(finished_run, "-n")) == set()


def test_threads_rebuild_nothing(finished_run):
    proc = snakemake(finished_run, "-n", "--set-threads", "extract_visual=1", "train=1")
    assert planned_rules(proc) == set()


def test_speed_options_rebuild_nothing(finished_run, tmp_path):
    """train.runtime (cuda_graphs, eval_batch_size) is passed like threads: flipping it plans no job."""
    cfg = copy.deepcopy(FULL)
    cfg["train"]["runtime"] = {"cuda_graphs": True, "eval_batch_size": 8}
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    assert planned_rules(snakemake(finished_run, "-n", "--configfile", str(changed))) == set()
    proc = snakemake(finished_run, "-n", "--set-resources", "train:cuda_graphs=1", "train:eval_batch_size=4")
    assert planned_rules(proc) == set()


def test_training_option_plans_only_training_and_evaluation(finished_run, tmp_path):
    cfg = copy.deepcopy(FULL)
    cfg["train"]["options"]["epochs"] = 3
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    proc = snakemake(finished_run, "-n", "--configfile", str(changed))
    # MA's label refinement is part of training: it reruns because its base model is retrained; JoMoLD's
    # noise ratios do not (the estimator's epochs are its per_model's); the figures read the new predictions
    assert planned_rules(proc) == {"train", "refine_labels", "evaluate", "figures", "video_page", "report", "all"}
    assert "results/runs/jomold/model.pt, results/runs/jomold/history.json" in planned_outputs(proc, "train")


def test_per_model_option_retrains_only_that_model(finished_run, tmp_path):
    cfg = copy.deepcopy(FULL)
    cfg["train"]["per_model"]["ma*+ours"] = {"cms_weight": 0.5}
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    proc = snakemake(finished_run, "-n", "--configfile", str(changed))
    assert planned_rules(proc) == {"train", "evaluate", "figures", "video_page", "report", "all"}
    assert planned_outputs(proc, "train") == ["results/runs/ma*+ours/model.pt, results/runs/ma*+ours/history.json"]


def test_feature_option_replans_extraction_not_synthesis(finished_run, tmp_path):
    cfg = copy.deepcopy(FULL)
    cfg["features"]["visual"]["resnet_crop"] = 48
    cfg["features"]["visual"]["resnet_resize"] = 48
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(cfg))
    rules = planned_rules(snakemake(finished_run, "-n", "--configfile", str(changed)))
    assert "extract_visual" in rules and not rules & {"synth", "index", "extract_audio"}


def test_ma_rows_train_on_refined_labels(finished_run):
    with h5py.File(finished_run / "results/refined/labels.h5") as f:
        weak_sum = f["audio_labels"].shape
        assert weak_sum == (6, 25) and "dropped_rows" in f.attrs
    log = (finished_run / "results/logs/train/ma*+ours.log").read_text()
    assert "trained ma*+ours" in log


def test_jomold_trains_with_the_noise_ratios_of_its_estimator(finished_run):
    from avvp_pipeline.data.noise_ratios import noise_ratio_provenance, read_noise_ratios

    ratios = finished_run / "results/jomold/noise_ratios.h5"
    assert all(((0 <= r) & (r <= 1)).all() for r in read_noise_ratios(ratios))
    runs = finished_run / "results/runs"
    summary = json.loads((runs / "jomold/history.json").read_text())["summary"]
    assert summary["noise_ratios"]["sha256"] == noise_ratio_provenance(ratios)["sha256"]
    assert summary["noise_ratios"]["estimator"] == "results/runs/jomold-estimator/model.pt"
    assert len(json.loads((runs / "jomold-estimator/history.json").read_text())["epochs"]) == 1


def test_figures_and_self_contained_report(finished_run):
    for model in ("han", "ma*+ours"):
        for figure in ("timelines.png", "curves.png", "cooccurrence.png"):
            assert (finished_run / "results/reports/figures" / model / figure).stat().st_size > 10_000
        # 3 test videos are too few for t-SNE: the figure says so (tests/test_figures.py draws a real one)
        assert (finished_run / "results/reports/figures" / model / "tsne.png").is_file()
    rows = (finished_run / "results/reports/results.csv").read_text().splitlines()
    assert rows[0].startswith("method,source,seg_audio,ev_audio") and any(",published," in r for r in rows)
    # the page of each model's test videos: all three demo test clips exist, each with its truth lanes
    page = (finished_run / "results/reports/videos/ma*+ours.html").read_text()
    data = json.loads(re.search(r'id="page-data">(.*?)</script>', page, re.S).group(1))
    assert len(data["videos"]) == 3 and all(
        v["src"].startswith("../../../resources/demo/videos/") for v in data["videos"]
    )
    assert [lane["key"] for lane in data["videos"][0]["lanes"]][-2:] == ["gt_audio", "gt_visual"]
    snakemake(finished_run, "--report", "results/report.html")
    html = (finished_run / "results/report.html").read_text()
    assert "data:image/png;base64" in html or "timelines.png" in html
    assert (finished_run / "results/report.html").stat().st_size > 200_000


def test_parse_rule_over_a_folder_of_videos(finished_run, tmp_path):
    mine = tmp_path / "my_videos"
    mine.mkdir()
    clip = sorted((finished_run / "resources/demo/videos").glob("*.mp4"))[0]
    (mine / "holiday.mp4").write_bytes(clip.read_bytes())
    (mine / "notes.mp4").write_text("not a video")
    snakemake(finished_run, "results/parsed/han", "--config", f"parse={{'videos_dir': '{mine}', 'models': ['han']}}")
    doc = json.loads((finished_run / "results/parsed/han/holiday/events.json").read_text())
    assert set(doc) >= {"audio", "visual", "audio_visual"} and doc["model"] == "han"
    assert (finished_run / "results/parsed/han/holiday/timeline.png").is_file()
    for name in ("index.html", "events.csv", "events.vtt", "audacity-heard.txt"):
        assert (finished_run / "results/parsed/han/holiday" / name).is_file()
    assert "notes.mp4" in (finished_run / "results/parsed/han/index.html").read_text()
    assert "notes.mp4" in (finished_run / "results/parsed/han/failures.tsv").read_text()
