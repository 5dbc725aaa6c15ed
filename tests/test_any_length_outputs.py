"""Everything downstream of training for any class list and any video length: parsing a long video whole,
the page and exports of a model with its own classes, and evaluation, tables, figures and the model page
of videos of different lengths."""

import json
import re
from dataclasses import asdict

import numpy as np
import pytest
import torch
from test_parse import AUDIO, VISUAL, _clip

from avvp_pipeline import __version__
from avvp_pipeline.data.feature_sets import PROVENANCE_KEYS
from avvp_pipeline.data.index import Split, write_index
from avvp_pipeline.data.llp import CLASSES
from avvp_pipeline.evaluation.evaluate import broadcast_baseline, evaluate_model
from avvp_pipeline.evaluation.events import events_from
from avvp_pipeline.evaluation.metrics import llp_f_scores_padded
from avvp_pipeline.evaluation.predictions import prediction_classes
from avvp_pipeline.evaluation.protocols import protocol_result
from avvp_pipeline.evaluation.tables import per_class_csv, results_csv, results_markdown
from avvp_pipeline.features import store
from avvp_pipeline.features.kinds import DEFAULT_KINDS, SLOTS
from avvp_pipeline.features.weights import resolve
from avvp_pipeline.models.checkpoint import load_trained, write_model
from avvp_pipeline.models.registry import build_model
from avvp_pipeline.parse import events_json, model_passes, parse_videos, validate_events
from avvp_pipeline.reporting.event_exports import read_audacity, read_events_csv, read_vtt
from avvp_pipeline.reporting.figures import model_figure_set
from avvp_pipeline.reporting.model_pages import model_page
from avvp_pipeline.reporting.parse_pages import write_video_outputs
from avvp_pipeline.training.config import TrainConfig

MINE = ("Zebra_bray", "Kettle", "Rain", "Gong")  # a made-up class list


def _page_data(page) -> dict:
    text = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', page.read_text(), re.S)
    return json.loads(text.group(1))


def _write(path, classes, *, shapes=None, features=None, configs=None, train_lengths=None, certain=None):
    """A HAN ``model.pt`` for ``classes``, randomly initialised; with ``certain``, that class is predicted in
    every segment of both modalities (and no other)."""
    torch.manual_seed(0)
    net = build_model("han", asdict(TrainConfig()), shapes, len(classes))
    if certain is not None:
        with torch.no_grad():
            net.mmil.fc_prob.weight.zero_()
            net.mmil.fc_prob.bias.fill_(-8.0)
            net.mmil.fc_prob.bias[classes.index(certain)] = 8.0
    shapes = shapes or {"audio": (10, 128), "visual_2d": (80, 2048), "visual_3d": (10, 512)}
    write_model(
        path,
        model_name="han",
        state_dict=net.state_dict(),
        train_config=asdict(TrainConfig()),
        features=features or {},
        feature_configs=configs,
        classes=list(classes),
        summary={"model": "han", "selected_epoch": 1},
        run_hash="test",
        inputs={slot: {"kind": k, "shape": list(shapes[slot])} for slot, k in zip(SLOTS, DEFAULT_KINDS)},
        train_lengths=train_lengths,
    )
    return path


def _parsing_model(path, classes, **kw):
    """A model that `avvp parse` accepts: it records small extraction configs (fp32, tiny frames: fast on a
    CPU) and random weights."""
    visual = {**VISUAL, "precision": "fp32", "resnet_resize": 16, "resnet_crop": 16, "r2plus1d_size": 8}
    configs = {"resnet152": visual, "r2plus1d_18": visual, "vggish": {**AUDIO, "precision": "fp32"}}
    features = {}
    for name, cfg in configs.items():
        w = resolve(name, "random", seed=0)
        features[name] = {
            "weights_id": w.weights_id,
            "weights_sha256": str(w.sha256),
            "config_hash": store.config_hash(cfg),
            "avvp_pipeline_version": __version__,
        }
    return _write(path, classes, features=features, configs=configs, **kw)


def test_model_pt_says_how_a_video_is_parsed(tmp_path):
    """LLP models (and files that record no training lengths but LLP's classes) parse 10-segment windows;
    one trained on videos of several lengths, or on another data set, parses a video whole."""
    llp = load_trained(_write(tmp_path / "llp.pt", CLASSES))
    mine = load_trained(_write(tmp_path / "mine.pt", MINE))
    assert llp.parse_window == 10 and mine.parse_window is None
    assert load_trained(_write(tmp_path / "clips.pt", MINE, train_lengths=(10, 10))).parse_window == 10
    assert load_trained(_write(tmp_path / "any.pt", CLASSES, train_lengths=(4, 60))).parse_window is None
    assert load_trained(tmp_path / "any.pt").train_lengths == (4, 60)
    # a 37-s video: four 10-s windows for LLP's model (as before), one pass of 37 segments for the other
    assert model_passes(37.02, llp.segment_seconds, llp.parse_window) == (4, 10)
    assert model_passes(37.02, mine.segment_seconds, mine.parse_window) == (1, 37)
    assert model_passes(10.03, 1.0, 10) == (1, 10) and model_passes(37.6, 1.0, None) == (1, 38)
    # a whole pass counts the segments extraction gives the same video (12.3 s: 13, the last one padded)
    assert model_passes(12.3, 1.0, None) == (1, 13) and model_passes(10.03, 1.0, None) == (1, 10)


def _whole_result(seconds: int) -> dict:
    """What parsing a video of ``seconds`` seconds with a model of the classes :data:`MINE` gives when it hears
    and sees ``Gong`` from second 3 to 30 and ``Kettle`` heard in the last two seconds."""
    prob = np.full((2, 4, seconds), 0.1, np.float32)
    prob[:, 3, 3:30] = 0.9
    prob[0, 1, -2:] = 0.8
    return {
        "duration": float(seconds),
        "seconds": seconds,
        "windows": 1,
        "has_audio": True,
        "classes": MINE,
        "segment_seconds": 1.0,
        "pred_audio": prob[0] >= 0.5,
        "pred_visual": prob[1] >= 0.5,
        "prob_audio": prob[0],
        "prob_visual": prob[1],
    }


def test_the_page_and_exports_carry_the_models_classes_and_the_videos_duration(tmp_path):
    video = _clip(tmp_path / "long.mp4", 37, size="32x32")
    result = _whole_result(37)
    doc = events_json(result, video, "han", "model.pt", "global")
    validate_events(doc, MINE)
    heard = [(e["label"], e["onset"], e["offset"]) for e in doc["audio"]]
    assert heard == [("Gong", 3.0, 30.0), ("Kettle", 35.0, 37.0)]
    write_video_outputs(tmp_path, doc, result, video, weights="Weights: random(seed=0).")
    rows = read_events_csv(tmp_path / "events.csv")
    assert [(r["modality"], r["label"], r["onset"], r["offset"]) for r in rows] == [
        ("audio", "Gong", 3.0, 30.0),
        ("audio", "Kettle", 35.0, 37.0),
        ("visual", "Gong", 3.0, 30.0),
        ("audio_visual", "Gong", 3.0, 30.0),
    ]
    assert read_audacity(tmp_path / "audacity-heard.txt") == [(3.0, 30.0, "Gong"), (35.0, 37.0, "Kettle")]
    assert (35.0, 37.0, "heard: Kettle") in read_vtt(tmp_path / "events.vtt")
    (page,) = _page_data(tmp_path / "index.html")["videos"]
    assert page["duration"] == 37.0 and set(page["probs"]) == {"Gong", "Kettle"}
    assert len(page["probs"]["Kettle"]["audio"]) == 37 and page["probs"]["Kettle"]["audio"][-1] == 0.8
    assert page["info"].endswith("Weights: random(seed=0).")


@pytest.mark.slow
def test_a_custom_class_model_parses_a_long_video_whole(tmp_path):
    """Four made-up classes, random weights, ``Gong`` certain: one pass over all 37 s, and the events, the
    page and every export carry the model's class names, the video's duration and the event's times."""
    clip = _clip(tmp_path / "long walk.mp4", 37, size="32x32")
    model = _parsing_model(tmp_path / "model.pt", MINE, certain="Gong")
    out = tmp_path / "out"
    assert parse_videos([clip], model, out, device="cpu", progress=False) == {str(clip): "ok"}
    folder = out / "long walk"
    doc = json.loads((folder / "events.json").read_text())
    assert doc["windows"] == 1 and doc["duration"] == 37.0
    for key in ("audio", "visual", "audio_visual"):
        assert [(e["label"], e["onset"], e["offset"]) for e in doc[key]] == [("Gong", 0.0, 37.0)]
    rows = read_events_csv(folder / "events.csv")
    assert [(r["label"], r["onset"], r["offset"]) for r in rows] == [("Gong", 0.0, 37.0)] * 3
    assert read_audacity(folder / "audacity-seen.txt") == [(0.0, 37.0, "Gong")]
    assert (0.0, 37.0, "heard: Gong") in read_vtt(folder / "events.vtt")
    (video,) = _page_data(folder / "index.html")["videos"]
    assert video["duration"] == 37.0 and set(video["probs"]) == {"Gong"}
    assert len(video["probs"]["Gong"]["audio"]) == 37
    # which weights parsed it: the model file, and the extractors' random weights said so
    assert str(model) in video["info"] and "RANDOM weights" in video["info"] and "random(seed=0)" in video["info"]


def _data(tmp_path):
    """An index and shards of videos of 2 to 20 segments with the classes :data:`MINE`, and a model for them."""
    rng = np.random.default_rng(0)
    splits, lengths_all = [], {}
    for name, lengths in (("val", [3, 12, 7, 20]), ("test", [5, 14, 9, 2, 11, 17])):
        n, longest = len(lengths), max(lengths)
        ids = [f"{name}{i}" for i in range(n)]
        lengths = np.array(lengths)
        inside = (np.arange(longest) < lengths[:, None])[:, None, :]
        gt_a = ((rng.random((n, 4, longest)) < 0.3) & inside).astype(np.uint8)
        gt_v = ((rng.random((n, 4, longest)) < 0.3) & inside).astype(np.uint8)
        labels = (gt_a | gt_v).any(axis=2).astype(np.uint8)
        splits.append(Split(name, ids, ids, labels, gt_a, gt_v, lengths))
        lengths_all.update(zip(ids, lengths))
    write_index(tmp_path / "index.h5", splits, MINE)
    ids, lengths = list(lengths_all), np.array(list(lengths_all.values()))
    shards = {}
    for name, per in (("vggish", 1), ("resnet152", 8), ("r2plus1d_18", 1)):
        x = rng.standard_normal((len(ids), lengths.max() * per, 4)).astype(np.float32)
        shards[name] = [str(tmp_path / f"{name}.h5")]
        store.write_shard(shards[name][0], ids, x, {"extractor": name}, lengths=lengths)
    features = {name: dict.fromkeys(PROVENANCE_KEYS, "") for name in DEFAULT_KINDS}
    shapes = {"audio": (10, 4), "visual_2d": (80, 4), "visual_3d": (10, 4)}
    model = _write(tmp_path / "model.pt", MINE, shapes=shapes, features=features, train_lengths=(2, 20))
    return model, shards


def test_evaluation_tables_figures_and_page_of_variable_length_videos_with_own_classes(tmp_path):
    model, shards = _data(tmp_path)
    metrics, preds = tmp_path / "metrics.json", tmp_path / "predictions.h5"
    result = evaluate_model(
        model, tmp_path / "index.h5", shards, "test", metrics, preds, device="cpu", protocols=("llp", "tuned")
    )
    assert list(result["per_class_segment_f"]["audio"]) == list(MINE)
    assert list(result["protocols"]["tuned"]["thresholds"]["visual"]) == list(MINE)
    assert result["protocols"]["llp"]["f_scores"] == result["f_scores"]  # the model's own gate is llp's
    assert prediction_classes(preds) == (MINE, 1.0)

    rows = per_class_csv([metrics]).splitlines()[1:]
    assert [r.split(",")[1:3] for r in rows] == [[m, c] for m in ("audio", "visual", "av") for c in MINE]
    assert "| han | ours |" in results_markdown([metrics])

    history = tmp_path / "history.json"
    summary = {"model": "han", "select_on": "val", "select_metric": "seg_type", "selected_epoch": 1}
    history.write_text(json.dumps({"summary": summary, "epochs": [{"epoch": 1, "loss": 0.5, "val_seg_type": 40}]}))
    figs = model_figure_set(preds, history, n_videos=6)
    timeline_axes = figs["timelines.png"].axes
    names = {t.get_text() for ax in timeline_axes for t in ax.get_yticklabels()}
    assert names and names <= {c.replace("_", " ") for c in MINE}
    assert sorted({ax.get_xlim()[1] for ax in timeline_axes}) == [2, 5, 9, 11, 14, 17]  # each video's own length
    assert {t.get_text() for t in figs["cooccurrence.png"].axes[0].get_xticklabels()} <= {"Zebra bray", *MINE[1:]}

    videos = tmp_path / "videos"
    videos.mkdir()
    for i in range(6):
        (videos / f"test{i}.mp4").write_bytes(b"")
    model_page(preds, tmp_path / "page.html", "han", videos)
    data = _page_data(tmp_path / "page.html")["videos"]
    assert sorted((v["key"], v["duration"]) for v in data) == [
        (f"test{i}", float(n)) for i, n in enumerate([5, 14, 9, 2, 11, 17])
    ]
    labels = {e["label"] for v in data for lane in v["lanes"] for e in lane["events"]}
    assert labels and labels <= set(MINE)
    assert all(e["offset"] <= v["duration"] for v in data for lane in v["lanes"] for e in lane["events"])


def test_the_report_of_another_class_list_shows_no_published_llp_figures(tmp_path):
    """Runs scored on another data set's classes say so in metrics.json, and the tables then leave out the
    papers' LLP figures; LLP's runs keep them."""
    model, shards = _data(tmp_path)
    mine = tmp_path / "metrics.json"
    evaluate_model(model, tmp_path / "index.h5", shards, "test", mine, tmp_path / "p.h5", device="cpu")
    broadcast = tmp_path / "broadcast.json"
    broadcast_baseline(tmp_path / "index.h5", "test", broadcast)
    assert json.loads(mine.read_text())["classes"] == list(MINE)
    assert json.loads(broadcast.read_text())["classes"] == list(MINE)
    table = results_markdown([broadcast, mine])
    assert "| han | ours |" in table and "published" not in table.lower()
    assert [line.split(",")[:2] for line in results_csv([broadcast, mine]).splitlines()[1:]] == [
        ["broadcast", "ours"],
        ["han", "ours"],
    ]
    llp = tmp_path / "llp.json"
    llp.write_text(json.dumps({k: v for k, v in json.loads(mine.read_text()).items() if k != "classes"}))
    assert "| *han* | *published (LLP, CM-Co paper)* |" in results_markdown([llp])


def test_broadcast_baseline_scores_each_video_over_its_own_length(tmp_path):
    _data(tmp_path)
    scores = broadcast_baseline(tmp_path / "index.h5", "test", tmp_path / "b.json")["f_scores"]
    from avvp_pipeline.data.index import load_split

    s = load_split(tmp_path / "index.h5", "test")
    alone = []
    for i, n in enumerate(s.lengths):
        pred = np.repeat(s.labels[i : i + 1, :, None], n, axis=2)
        alone.append(llp_f_scores_padded(pred, pred, s.gt_audio[i : i + 1, :, :n], s.gt_visual[i : i + 1, :, :n]))
    assert scores == pytest.approx({k: np.mean([a[k] for a in alone]) for k in scores})


def test_protocols_score_videos_of_any_length_and_class_count():
    """The fixed and tuned protocols on 3 classes and videos of 4 and 13 segments: what lies past a video's
    end never counts, and the tuned thresholds are named by the classes given."""
    rng = np.random.default_rng(1)
    lengths = np.array([4, 13])
    frame = rng.random((2, 13, 2, 3)).astype(np.float32)
    probs = {"frame_prob": frame, **{k: rng.random((2, 3)) for k in ("global_prob", "audio_prob", "visual_prob")}}
    gt = (rng.random((2, 3, 13)) < 0.4).astype(np.uint8)
    noisy = {**probs, "frame_prob": frame.copy()}
    noisy["frame_prob"][0, 4:] = 1.0  # past the first video's end
    names = ("a", "b", "c")
    for name in ("llp", "modality"):
        clean = protocol_result(name, probs, gt, gt, lengths=lengths, classes=names)["f_scores"]
        assert protocol_result(name, noisy, gt, gt, lengths=lengths, classes=names)["f_scores"] == clean
    tuned = protocol_result("tuned", probs, gt, gt, (probs, gt, gt, "val", lengths), lengths, names)
    assert list(tuned["thresholds"]["visual"]) == list(names)


def test_events_take_class_names_and_segment_length():
    pred = np.zeros((2, 6), np.uint8)
    pred[1, 2:5] = 1
    assert events_from(pred, None, 11.0, ("x", "y"), segment_seconds=2.0) == [
        {"label": "y", "onset": 4.0, "offset": 10.0, "score": None}
    ]
    with pytest.raises(ValueError, match="2 classes, but 25 class names"):
        events_from(pred, None, 11.0)


def test_refined_labels_name_the_data_sets_classes(tmp_path):
    """The refined-labels file names the classes whose labels refinement dropped by the data set's list."""
    from avvp_pipeline.data.refined_labels import read_refined_labels, write_refined_labels

    weak = np.array([[1, 0, 1, 1], [0, 1, 0, 1]], np.uint8)
    audio = np.array([[1, 0, 0, 1], [0, 1, 0, 1]], np.uint8)
    visual = np.array([[1, 0, 1, 1], [0, 0, 0, 1]], np.uint8)
    path = tmp_path / "labels.h5"
    write_refined_labels(path, ["a.mp4", "b.mp4"], ["a", "b"], weak, audio, visual, {}, MINE)
    import h5py

    with h5py.File(path) as f:
        assert json.loads(f.attrs["dropped_rows"]) == {"audio": {"Rain": [0]}, "visual": {"Kettle": [1]}}
    assert read_refined_labels(path, ["b"])[1].tolist() == [[0, 0, 0, 1]]
    with pytest.raises(ValueError, match="for 25 classes"):
        write_refined_labels(path, ["a.mp4", "b.mp4"], ["a", "b"], weak, audio, visual, {})
