"""Videos of different lengths through the data path: the split in memory, length-bucketed batches, training,
prediction and scoring, and the files (index, predictions.h5, model.pt) that record lengths and classes."""

import json
import logging

import numpy as np
import pytest
import torch
from factories import random_feature_set

from avvp_pipeline.data.feature_sets import FeatureSet, load_feature_sets
from avvp_pipeline.data.index import Split, write_index
from avvp_pipeline.data.llp import CLASSES
from avvp_pipeline.data.noise_ratios import read_noise_ratios
from avvp_pipeline.evaluation.evaluate import evaluate_probs
from avvp_pipeline.evaluation.metrics import binarize_probs, llp_f_scores_padded
from avvp_pipeline.evaluation.predictions import read_predictions, write_predictions
from avvp_pipeline.features import store
from avvp_pipeline.inference import predict
from avvp_pipeline.models.checkpoint import load_trained
from avvp_pipeline.models.rows import train_options
from avvp_pipeline.training.config import RunOptions, TrainConfig
from avvp_pipeline.training.jomold import estimate_noise_ratios, noise_ratios
from avvp_pipeline.training.trainer import epoch_batches, padding_fraction, train

CLASS_NAMES = ("bark", "bell", "car", "drum", "rain", "siren", "voice")
WIDTH = 16  # every slot's row width: small, the shapes only need rows per second
SMALL = {"hidden": 32, "ffn": 32}


def _set(split: str, lengths: list[int], seed: int) -> FeatureSet:
    """Random features of HAN's kinds (1, 8, 1 rows per second) for videos of ``lengths`` seconds, zero past
    each; random weak labels over 7 classes and dense truth inside each video's seconds."""
    g = torch.Generator().manual_seed(seed)
    n, longest, c = len(lengths), max(lengths), len(CLASS_NAMES)
    lengths = np.array(lengths)
    feats = []
    for per in (1, 8, 1):
        x = torch.randn(n, longest * per, WIDTH, generator=g)
        feats.append(x * (torch.arange(longest * per) < torch.from_numpy(lengths)[:, None] * per)[:, :, None])
    labels = (torch.rand(n, c, generator=g) < 0.4).float()
    gt = (torch.rand(n, c, longest, generator=g) < 0.3).numpy().astype(np.uint8)
    gt *= (np.arange(longest) < lengths[:, None])[:, None, :].astype(np.uint8)
    ids = [f"{split}{i:03d}" for i in range(n)]
    return FeatureSet(split, ids, ids, *feats, labels, gt, gt[:, ::-1].copy(), lengths=lengths, classes=CLASS_NAMES)


def test_a_variable_length_split_trains_predicts_and_scores_video_by_video(tmp_path, caplog):
    """HAN trains an epoch on videos of 3 to 40 seconds through the real trainer (its padding reported, CUDA
    graphs declined); each video's predictions and scores are those of the video run alone."""
    rng = np.random.default_rng(0)
    train_set = _set("train", rng.integers(3, 41, 24).tolist(), 0)
    val = _set("val", [3, 40, 17, 9, 25, 5], 1)
    cfg = TrainConfig(epochs=1, batch_size=4, **SMALL)
    with caplog.at_level(logging.INFO):
        train("han", train_set, val, cfg, tmp_path, {}, progress=False, run=RunOptions(cuda_graphs=True))
    assert "differ in length; training runs eagerly" in caplog.text and "are padding" in caplog.text
    epoch = json.loads((tmp_path / "history.json").read_text())["epochs"][0]
    assert 0 < epoch["padding"] < 0.5
    trained = load_trained(tmp_path / "model.pt")
    assert trained.classes == CLASS_NAMES and trained.net.mmil.fc_frame_att.out_features == 7
    # trained on videos of several lengths: a new video is parsed whole, not in windows
    lengths = train_set.lengths
    assert trained.train_lengths == (lengths.min(), lengths.max()) and trained.parse_window is None

    probs = predict(trained.net, val, batch_size=4, aggregate=True)
    assert probs["frame_prob"].shape == (6, 40, 2, 7) and probs["agg_audio"].shape == (6, 32)
    per_video = []
    for i, length in enumerate(val.lengths):
        alone = FeatureSet(
            "one",
            [],
            ["x"],
            *(t[i : i + 1, : t.shape[1] // 40 * length] for t in (val.audio, val.video_s, val.video_st)),
            val.labels[i : i + 1],
            val.gt_audio[i : i + 1, :, :length],
            val.gt_visual[i : i + 1, :, :length],
            lengths=np.array([length]),
            classes=CLASS_NAMES,
        )
        mine = predict(trained.net, alone, aggregate=True)
        for key in ("global_prob", "audio_prob", "visual_prob", "agg_audio", "agg_visual"):
            np.testing.assert_allclose(probs[key][i], mine[key][0], atol=1e-5)
        np.testing.assert_allclose(probs["frame_prob"][i, :length], mine["frame_prob"][0], atol=1e-5)
        assert not probs["frame_prob"][i, length:].any()
        pa, pv = binarize_probs(mine)
        per_video.append(llp_f_scores_padded(pa, pv, alone.gt_audio, alone.gt_visual))
    scores = evaluate_probs(probs, val)
    assert scores == pytest.approx({k: np.mean([s[k] for s in per_video]) for k in scores})


def test_equal_lengths_keep_todays_batches_and_random_stream():
    """Videos of one length are batched as consecutive slices of one permutation, drawing nothing else."""
    for lengths in (None, np.full(37, 7)):
        fs = _set("train", [7] * 37, 0)
        fs.lengths = lengths
        mine, today = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
        batches = epoch_batches(fs, 16, mine)
        assert [b.tolist() for b in batches] == [b.tolist() for b in torch.randperm(37, generator=today).split(16)]
        assert torch.equal(mine.get_state(), today.get_state()) and padding_fraction(fs, batches) == 0.0


def test_batches_group_videos_of_similar_length():
    lengths = np.random.default_rng(1).integers(3, 41, 300)
    ids = [str(i) for i in range(300)]
    fs = FeatureSet("train", ids, ids, *(torch.zeros(300, 1, 1),) * 3, torch.zeros(300, 2), None, None, lengths=lengths)
    batches = epoch_batches(fs, 16, torch.Generator().manual_seed(0))
    assert sorted(torch.cat(batches).tolist()) == list(range(300)) and len(batches) == 19
    unsorted = list(torch.randperm(300, generator=torch.Generator().manual_seed(0)).split(16))
    assert padding_fraction(fs, batches) < 0.1 < padding_fraction(fs, unsorted)


def test_shards_and_index_of_different_lengths_load_as_a_padded_split(tmp_path):
    """Shards with per-video lengths and an index with durations load as one split, padded to its longest
    video, with the truth cut to it; a kind shorter than the index cuts the video."""
    ids, lengths = ["a", "b", "c"], np.array([3, 6, 2])
    rng = np.random.default_rng(0)
    shards = {}
    for name, per in (("vggish", 1), ("resnet152", 8), ("r2plus1d_18", 1)):
        short = lengths - (name == "vggish") * np.array([0, 1, 0])  # b's audio lasts 5 s
        x = rng.random((3, short.max() * per, 4), dtype=np.float32) + 1
        shards[name] = [str(tmp_path / f"{name}.h5")]
        store.write_shard(shards[name][0], ids, x, {"extractor": name}, lengths=short)
    gt = np.ones((3, 2, 8), np.uint8)
    split = Split("test", ids, ids, np.eye(3, 2, dtype=np.uint8), gt, gt, np.array([3, 6, 2]))
    write_index(tmp_path / "index.h5", [split], ("p", "q"))
    fs = load_feature_sets(tmp_path / "index.h5", ["test"], shards, torch.device("cpu"))[0]["test"]
    assert fs.lengths.tolist() == [3, 5, 2] and fs.classes == ("p", "q") and fs.segments == 5
    assert fs.audio.shape == (3, 5, 4) and fs.video_s.shape == (3, 40, 4) and fs.gt_audio.shape == (3, 2, 5)
    assert fs.video_s[0, :24].all() and not fs.video_s[0, 24:].any() and not fs.video_st[2, 2:].any()
    assert fs.shapes == {"audio": (10, 4), "visual_2d": (80, 4), "visual_3d": (10, 4)}
    audio, video_s, _ = fs.batch(torch.tensor([0, 2]), 3)
    assert audio.shape == (2, 3, 4) and video_s.shape == (2, 24, 4)
    assert fs.padding_mask(torch.tensor([0, 2]), 3).tolist() == [[True] * 3, [True, True, False]]


def test_predictions_record_lengths_and_old_files_read_full_length(tmp_path):
    arrays = {"frame_prob": np.zeros((2, 40, 2, 7), np.float32), "pred_audio": np.zeros((2, 7, 40), np.uint8)}
    write_predictions(tmp_path / "new.h5", ["a", "b"], ["a", "b"], arrays, np.array([3, 40]))
    write_predictions(tmp_path / "old.h5", ["a", "b"], ["a", "b"], arrays)
    assert read_predictions(tmp_path / "new.h5", ("lengths",))[2]["lengths"].tolist() == [3, 40]
    _, _, old = read_predictions(tmp_path / "old.h5")
    assert old["lengths"].tolist() == [40, 40] and old["frame_prob"].shape == (2, 40, 2, 7)


def test_a_model_file_without_classes_reads_as_llp(tmp_path):
    from avvp_pipeline.models.registry import build_model
    from avvp_pipeline.torch_files import read_torch_file, save_torch_file

    fs = random_feature_set(4, "val")
    train("han", fs, fs, TrainConfig(epochs=1, batch_size=4, **SMALL), tmp_path, {}, progress=False)
    ckpt = read_torch_file(tmp_path / "model.pt")
    assert ckpt["classes"] == list(CLASSES) and ckpt["segment_seconds"] == 1.0
    del ckpt["classes"], ckpt["segment_seconds"]
    save_torch_file(ckpt, tmp_path / "old.pt")
    old = load_trained(tmp_path / "old.pt")
    assert old.classes == CLASSES and old.segment_seconds == 1.0
    ckpt["classes"] = []  # as some files written before the heads were sized from it hold
    save_torch_file(ckpt, tmp_path / "empty.pt")
    assert load_trained(tmp_path / "empty.pt").classes == CLASSES
    assert build_model("han", {}, num_classes=7).mmil.fc_prob.out_features == 7


@torch.no_grad()
def _alone(net, fs: FeatureSet, i: int):
    """``net``'s output for video ``i`` of ``fs`` run alone, cut to its own length (no padding)."""
    length = int(fs.lengths[i])
    return net(*(t[i : i + 1, : t.shape[1] // fs.segments * length] for t in fs.batch(torch.arange(len(fs)))))


def test_jomold_stages_on_variable_length_videos_with_their_own_classes(tmp_path):
    """JoMoLD's three stages on videos of 3 to 40 seconds over 7 classes: the noise ratios come from each
    video's estimator output alone (padding unseen), the file holds the set's classes, and the jomold row
    trains with it."""
    train_set, val = _set("train", [3, 40, 17, 9, 25, 5, 12, 30, 4, 36, 8, 21], 0), _set("val", [3, 40, 17, 9], 1)
    small = {"epochs": 1, "batch_size": 4, **SMALL}
    cfg = TrainConfig.from_dict({**train_options("jomold-estimator"), **small})
    train("jomold-estimator", train_set, val, cfg, tmp_path / "est", {}, progress=False)
    net = load_trained(tmp_path / "est" / "model.pt").net.eval()
    thresholds = (1.0, 0.9)  # near the class means: which side a video falls on shows in the ratios
    estimate_noise_ratios(net, train_set, tmp_path / "r.h5", {"source": "test"}, *thresholds, batch_size=4)
    outs = [_alone(net, train_set, i) for i in range(len(train_set))]
    p_a, p_v = (torch.cat([getattr(o, k) for o in outs]).numpy() for k in ("audio_prob", "visual_prob"))
    expected = noise_ratios(p_a, p_v, train_set.labels.numpy(), *thresholds, batch_size=4)
    assert 0 < expected["audio"].mean() < 1 and 0 < expected["visual"].mean() < 1
    audio, visual = read_noise_ratios(tmp_path / "r.h5", CLASS_NAMES)
    np.testing.assert_allclose(audio, expected["audio"])
    np.testing.assert_allclose(visual, expected["visual"])

    train_set.with_noise_ratios(tmp_path / "r.h5")
    cfg = TrainConfig.from_dict({**train_options("jomold"), **small})
    summary = train("jomold", train_set, val, cfg, tmp_path / "run", {}, progress=False, noise_ratios={"id": 1})
    assert summary["selected_epoch"] == 1
