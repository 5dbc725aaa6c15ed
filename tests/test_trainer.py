"""Trainer: a short run lowers the loss, selects on val, resumes, and model.pt reloads."""

import json

import numpy as np
import pytest
import torch

from avvp_pipeline.data.feature_sets import FeatureSet
from avvp_pipeline.evaluation.evaluate import evaluate_probs
from avvp_pipeline.features.kinds import DEFAULT_KINDS, default_shapes
from avvp_pipeline.inference import predict
from avvp_pipeline.models.checkpoint import load_model
from avvp_pipeline.training.config import RunOptions, TrainConfig
from avvp_pipeline.training.trainer import train


def _planted_set(split, n, seed, kinds=DEFAULT_KINDS, width=None):
    """Features of ``kinds``' shapes (each ``width`` wide when given) where class c is present in a video iff
    dims carry a +3 offset (a learnable toy)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.zeros(n, 25)
    shapes = [(rows, width or w) for rows, w in default_shapes(kinds).values()]
    audio, vs, vst = (torch.randn(n, *shape, generator=g) for shape in shapes)
    gt_a = np.zeros((n, 25, 10), np.uint8)
    for i in range(n):
        c = i % 3
        labels[i, c] = 1
        audio[i, :, c] += 3.0
        vs[i, :, c] += 3.0
        vst[i, :, c] += 3.0
        gt_a[i, c] = 1
    return FeatureSet(
        split,
        [f"vid{i:08d}_0_10" for i in range(n)],
        [f"vid{i:08d}" for i in range(n)],
        audio,
        vs,
        vst,
        labels,
        gt_a,
        gt_a.copy(),
        kinds=kinds,
    )


def test_short_training_lowers_loss_and_writes_outputs(tmp_path):
    cfg = TrainConfig(epochs=3, batch_size=8)
    tr, va = _planted_set("train", 16, 0), _planted_set("val", 6, 1)
    summary = train("han", tr, va, cfg, tmp_path, provenance={"vggish": {"weights_id": "x"}}, progress=False)
    hist = json.loads((tmp_path / "history.json").read_text())
    losses = [e["loss"] for e in hist["epochs"]]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert 1 <= summary["selected_epoch"] <= 3
    assert not (tmp_path / "checkpoint.pt").exists()
    model, ckpt = load_model(tmp_path / "model.pt")
    assert ckpt["model_name"] == "han" and ckpt["features"] == {"vggish": {"weights_id": "x"}}
    scores = evaluate_probs(predict(model, va), va)
    best = [e for e in hist["epochs"] if e["epoch"] == summary["selected_epoch"]][0]
    assert scores == pytest.approx(best["val"])  # model.pt holds the selected epoch's weights


def _on(fs, device: str):
    for f in ("audio", "video_s", "video_st", "labels"):
        setattr(fs, f, getattr(fs, f).to(device))
    return fs


_CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize(
    "device,graphs", [("cpu", False), pytest.param("cuda", False, marks=_CUDA), pytest.param("cuda", True, marks=_CUDA)]
)
def test_resume_from_checkpoint_matches_uninterrupted(tmp_path, device, graphs):
    """Weights, optimiser, schedule and every random stream (the GPU's too: dropout draws from it) resume."""
    tr, va = _on(_planted_set("train", 8, 0), device), _on(_planted_set("val", 3, 1), device)
    cfg = TrainConfig(epochs=3, batch_size=4)
    run = RunOptions(cuda_graphs=graphs)
    train("han", tr, va, cfg, tmp_path / "full", provenance={}, progress=False, run=run)
    # a run interrupted right after epoch 2's checkpoint, then started again
    import avvp_pipeline.training.trainer as T

    orig = T.write_resume

    def stop_after_epoch_2(path, **state):
        orig(path, **state)
        if state["epoch"] == 2:
            raise KeyboardInterrupt

    T.write_resume = stop_after_epoch_2
    try:
        with pytest.raises(KeyboardInterrupt):
            train("han", tr, va, cfg, tmp_path / "killed", provenance={}, progress=False, run=run)
    finally:
        T.write_resume = orig
    assert (tmp_path / "killed" / "checkpoint.pt").exists()
    torch.manual_seed(123)  # a new process: the random streams are wherever; the checkpoint restores them
    if device == "cuda":
        torch.cuda.manual_seed(123)
    train("han", tr, va, cfg, tmp_path / "killed", provenance={}, progress=False, run=run)
    a = torch.load(tmp_path / "full" / "model.pt", weights_only=False)["state_dict"]
    b = torch.load(tmp_path / "killed" / "model.pt", weights_only=False)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    ha = json.loads((tmp_path / "full" / "history.json").read_text())["epochs"]
    hb = json.loads((tmp_path / "killed" / "history.json").read_text())["epochs"]
    assert [e["loss"] for e in ha] == [e["loss"] for e in hb]


def test_resume_ignores_speed_options(tmp_path, caplog):
    """A run killed with one device / evaluation batch resumes with another: speed options are not in
    the run hash (only recorded options are)."""
    import logging

    import avvp_pipeline.training.trainer as T

    tr, va = _planted_set("train", 8, 0), _planted_set("val", 3, 1)
    cfg = TrainConfig(epochs=3, batch_size=4)
    orig = T.write_resume

    def stop_after_epoch_1(path, **state):
        orig(path, **state)
        if state["epoch"] == 1:
            raise KeyboardInterrupt

    T.write_resume = stop_after_epoch_1
    try:
        with pytest.raises(KeyboardInterrupt):
            train(
                "han",
                tr,
                va,
                cfg,
                tmp_path,
                provenance={},
                progress=False,
                run=RunOptions(device="auto", eval_batch_size=256),
            )
    finally:
        T.write_resume = orig
    with caplog.at_level(logging.INFO, logger="avvp_pipeline.training.trainer"):
        train(
            "han",
            tr,
            va,
            cfg,
            tmp_path,
            provenance={},
            progress=False,
            run=RunOptions(device="cpu", eval_batch_size=2),
        )
    assert "resuming han from epoch 2" in caplog.text
    assert T.run_hash("han", cfg, {}, 8, 3) == T.run_hash("han", TrainConfig(epochs=3, batch_size=4), {}, 8, 3)
    assert T.run_hash("han", cfg, {}, 8, 3) != T.run_hash("han", TrainConfig(epochs=3, batch_size=2), {}, 8, 3)
    recorded = torch.load(tmp_path / "model.pt", weights_only=True)["train_config"]
    assert "device" not in recorded and "eval_batch_size" not in recorded


def test_unknown_option_rejected():
    with pytest.raises(ValueError, match="unknown train options"):
        TrainConfig.from_dict({"epochz": 3})


from avvp_pipeline.models.rows import MODELS  # noqa: E402


@pytest.mark.slow
@pytest.mark.parametrize("name", list(MODELS))
def test_every_row_trains_and_lowers_its_loss(tmp_path, name):
    from factories import embeddings_file

    from avvp_pipeline.models.leap import load_label_embeddings
    from avvp_pipeline.models.rows import spec, train_options

    opts = train_options(name, {"epochs": 4, "batch_size": 8, "init_epoch": 0, "lr": 3e-4, "early_stop": 0})
    cfg = TrainConfig.from_dict({**opts, "device": "cpu"})
    kinds = spec(name).features  # valor++: CLAP (64, 768) and CLIP (10, 768) in place of VGGish and ResNet-152
    # narrow features: each row's mechanics do not depend on the input widths, the time does
    tr, va = _planted_set("train", 16, 0, kinds, width=32), _planted_set("val", 6, 1, kinds, width=32)
    if spec(name).labels == "refined":  # refined labels: drop each video's class from one modality
        tr.labels_audio, tr.labels_visual = tr.labels.clone(), tr.labels.clone()
        tr.labels_visual[::2] = 0
    if spec(name).pseudo_labels:  # VALOR rows: segment pseudo labels = the weak label in every second
        cfg = TrainConfig.from_dict({**opts, "warmup_epochs": 1})
        tr.pseudo_audio = tr.pseudo_visual = tr.labels[:, None, :].repeat(1, 10, 1)
        tr.pseudo_present = torch.ones(len(tr))
    if spec(name).jomold == "denoise":  # JoMoLD: labels flipped at a ratio of 0.3 per class and modality
        from avvp_pipeline.data.noise_ratios import write_noise_ratios

        ratios = np.full(len(tr.classes), 0.3)
        write_noise_ratios(tmp_path / "ratios.h5", list(tr.classes), ratios, ratios, {"source": "test"})
        tr.with_noise_ratios(tmp_path / "ratios.h5")
    embeddings = None
    if spec(name).label_embeddings:  # LEAP rows: generated class embeddings
        embeddings = load_label_embeddings(embeddings_file(tmp_path / "embeddings.pt"), 25)
    train(name, tr, va, cfg, tmp_path, provenance={}, progress=False, embeddings=embeddings)
    losses = [e["loss"] for e in json.loads((tmp_path / "history.json").read_text())["epochs"]]
    assert losses[-1] < losses[0], losses


def test_cms_rows_add_the_contrastive_term_only_after_init_epoch():
    from avvp_pipeline.models.registry import build_model
    from avvp_pipeline.models.rows import train_options
    from avvp_pipeline.training.step import batch_partners, step_loss

    cfg = TrainConfig.from_dict({**train_options("han+cms"), "device": "cpu", "dropout": 0.0})
    fs = _planted_set("train", 6, 0)
    torch.manual_seed(0)
    model = build_model("han+cms", {**train_options("han+cms"), "dropout": 0.0}).eval()
    idx = torch.arange(6)
    partners = batch_partners("han+cms", 6, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="swap partners"):
        step_loss(model, "han+cms", fs, idx, cfg.init_epoch, cfg)
    before = step_loss(model, "han+cms", fs, idx, cfg.init_epoch, cfg, partners)
    after = step_loss(model, "han+cms", fs, idx, cfg.init_epoch + 1, cfg, partners)
    from avvp_pipeline.training.losses import guided_loss

    plain = guided_loss(model(*fs.batch(idx)), fs.labels, fs.labels, fs.labels, *cfg.smoothing(cfg.init_epoch))
    assert before.item() == pytest.approx(plain.item(), rel=1e-5)  # original half of the doubled batch
    assert (
        after.item()
        > guided_loss(model(*fs.batch(idx)), fs.labels, fs.labels, fs.labels, *cfg.smoothing(cfg.init_epoch + 1)).item()
    )


def test_early_stop_after_epochs_without_improvement(tmp_path, monkeypatch):
    import avvp_pipeline.training.trainer as T

    scores = iter([50.0, 60.0, 60.0, 55.0, 59.0, 70.0, 10.0, 10.0])  # ties count as improvement (>=)
    monkeypatch.setattr(T, "evaluate_probs", lambda *a, **k: {"seg_type": next(scores)})
    cfg = TrainConfig(epochs=8, batch_size=8, early_stop=2)
    tr, va = _planted_set("train", 8, 0), _planted_set("val", 3, 1)
    summary = train("han", tr, va, cfg, tmp_path, provenance={}, progress=False)
    hist = json.loads((tmp_path / "history.json").read_text())
    assert summary["selected_epoch"] == 3 and [e["epoch"] for e in hist["epochs"]] == [1, 2, 3, 4, 5]
