"""VALOR: the pseudo-labels file and its import from the released layout, the VALOR loss, stacking,
recipe options, and the workflow from a released-layout folder to metrics.json."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from factories import random_feature_set

from avvp_pipeline.data.pseudo_labels import RELEASE_FOLDERS, import_released, read_pseudo_labels, write_pseudo_labels
from avvp_pipeline.models.han import HANEncoder
from avvp_pipeline.models.mmil import MMILOutput
from avvp_pipeline.models.registry import build_model
from avvp_pipeline.models.rows import MODELS, RECIPES, full_options, train_options
from avvp_pipeline.plan import PlanError, check_pseudo_labels
from avvp_pipeline.training.config import TrainConfig
from avvp_pipeline.training.losses import valor_loss
from avvp_pipeline.training.step import step_loss
from avvp_pipeline.training.trainer import train


def write_pseudo_release(root: Path, ids: list[str], seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """A released-layout folder of random (10, 25) 0/1 pseudo labels; returns ``{modality: {id: array}}``."""
    rng = np.random.default_rng(seed)
    out = {m: {} for m in RELEASE_FOLDERS}
    for modality, folder in RELEASE_FOLDERS.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for vid in ids:
            a = out[modality][vid] = (rng.random((10, 25)) < 0.1).astype(np.float32)
            np.save(root / folder / f"{vid}.npy", a)
    return out


class _Trap:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_import_keeps_good_files_and_lists_each_bad_one(tmp_path):
    good = ["goodvideo01", "goodvideo02", "boolvideo01"]
    bad = {
        "wrongshape1": "shape (25, 10), expected (10, 25)",
        "twovalues01": "values other than 0 and 1",
        "nanvalues01": "NaN values",
        "objectarray": "object array (needs unpickling, refused)",
        "textfile001": "not a .npy file",
        "missingfile": "file not found",
    }
    root = tmp_path / "valor"
    arrays = write_pseudo_release(root, good + list(bad))
    np.save(root / RELEASE_FOLDERS["visual"] / "boolvideo01.npy", arrays["visual"]["boolvideo01"].astype(bool))
    np.save(root / RELEASE_FOLDERS["audio"] / "wrongshape1.npy", np.zeros((25, 10), np.float32))
    two = arrays["visual"]["twovalues01"].copy()
    two[0, 0] = 2
    np.save(root / RELEASE_FOLDERS["visual"] / "twovalues01.npy", two)
    nan = np.zeros((10, 25), np.float32)
    nan[3, 3] = np.nan
    np.save(root / RELEASE_FOLDERS["audio"] / "nanvalues01.npy", nan)
    trap = tmp_path / "unpickled"
    np.save(
        root / RELEASE_FOLDERS["visual"] / "objectarray.npy",
        np.array([_Trap(str(trap))], dtype=object),
        allow_pickle=True,
    )
    (root / RELEASE_FOLDERS["audio"] / "textfile001.npy").write_text("not labels\n")
    (root / RELEASE_FOLDERS["visual"] / "missingfile.npy").unlink()

    failures = import_released(good + list(bad), str(root), tmp_path / "labels.h5", tmp_path / "failures.tsv")
    assert not trap.exists()
    assert sorted(v for v, _, _ in failures) == sorted(bad)  # one line per bad file, here one per video
    lines = (tmp_path / "failures.tsv").read_text().splitlines()
    assert lines[0] == "video_id\tpath\treason" and len(lines) == 1 + len(bad)
    for vid, reason in bad.items():
        assert any(line.startswith(vid) and reason in line for line in lines), (vid, reason)
    audio, visual, present = read_pseudo_labels(tmp_path / "labels.h5", ["boolvideo01", "twovalues01", "goodvideo02"])
    assert present.tolist() == [True, False, True]
    assert np.array_equal(visual[0], arrays["visual"]["boolvideo01"]) and not visual[1].any()
    assert np.array_equal(audio[2], arrays["audio"]["goodvideo02"]) and audio.dtype == np.float32
    with h5py.File(tmp_path / "labels.h5") as f:
        prov = json.loads(f.attrs["provenance"])
    assert prov["source"] == "released" and prov["n_failed"] == len(bad) and prov["files"] == 2 * len(good)


def test_import_names_a_folder_without_the_release_layout(tmp_path):
    (tmp_path / "CLIP" / "segment_pseudo_labels").mkdir(parents=True)
    with pytest.raises(ValueError, match="CLAP/segment_pseudo_labels"):
        import_released(["goodvideo01"], str(tmp_path), tmp_path / "l.h5", tmp_path / "f.tsv")
    with pytest.raises(ValueError, match="not a pseudo-labels file"):
        with h5py.File(tmp_path / "other.h5", "w") as f:
            f["x"] = 1
        read_pseudo_labels(tmp_path / "other.h5", ["a"])
    with pytest.raises(ValueError, match="0 or 1"):
        write_pseudo_labels(tmp_path / "w.h5", ["a"], np.full((1, 10, 25), 2), np.zeros((1, 10, 25)), {})


def test_valor_loss_by_hand():
    b = 2
    zeros = torch.zeros(b, 10, 2, 25)
    out = MMILOutput(
        torch.full((b, 25), 0.5),
        torch.full((b, 25), 0.5),
        torch.full((b, 25), 0.5),
        zeros + 0.5,
        zeros,
        frame_logits=zeros,
    )
    y = torch.zeros(b, 25)
    pa, pv = torch.zeros(b, 10, 25), torch.ones(b, 10, 25)
    # logits 0: every BCE-with-logits term is ln 2, whatever the target; BCE(0.5, y) is ln 2 too
    assert valor_loss(out, y, pa, pv, torch.ones(b)).item() == pytest.approx(3 * math.log(2), rel=1e-6)
    # a confident, right segment prediction costs almost nothing; videos without pseudo labels do not count
    logits = zeros.clone()
    logits[0, :, 0], logits[0, :, 1] = -20.0, 20.0
    logits[1] = 20.0  # video 1 is wrong on audio, but has no pseudo labels
    out = out._replace(frame_logits=logits)
    assert valor_loss(out, y, pa, pv, torch.tensor([1.0, 0.0])).item() == pytest.approx(math.log(2), abs=1e-6)
    with pytest.raises(ValueError, match="segment-level logits"):
        valor_loss(out._replace(frame_logits=None), y, pa, pv, torch.ones(b))


def test_valor_stacking_feeds_the_updated_audio_to_the_visual_step():
    torch.manual_seed(0)
    x_a, x_v = torch.randn(2, 10, 16), torch.randn(2, 10, 16)
    enc = {
        s: HANEncoder(1, s, d_model=16, nhead=2, dim_feedforward=32, dropout=0.0)
        for s in ("official", "sequential", "valor")
    }
    for e in enc.values():
        e.load_state_dict(enc["official"].state_dict())
        e.eval()
    layer = enc["official"].layers[0]
    a, v = enc["valor"](x_a, x_v)
    assert torch.allclose(a, layer(x_a, x_v)) and torch.allclose(v, layer(x_v, layer(x_a, x_v)))
    _, v_seq = enc["sequential"](x_a, x_v)
    assert torch.allclose(v_seq, layer(x_v, x_a)) and not torch.allclose(v, v_seq)


def test_new_options_leave_every_existing_row_as_it_was():
    for name, s in MODELS.items():
        opts = full_options(name)
        if not s.pseudo_labels:
            assert (
                opts["optimizer"],
                opts["schedule"],
                opts["grad_clip"],
                opts["hidden"],
                opts["heads"],
                opts["ffn"],
                opts["weight_decay"],
            ) == ("adam", "step", 0.0, 512, 1, 512, 0.0), name
            assert opts["stacking"] == "official"
            assert not set(train_options(name)) & {"optimizer", "schedule", "hidden", "heads", "ffn"}, name
    han = build_model("han", {})
    assert sum(p.numel() for p in han.parameters()) == 4_569_675  # docs/models-and-evaluation.md, section 11
    cfg = TrainConfig()
    assert [cfg.lr * cfg.lr_factor(i) for i in (0, 9, 10, 20)] == pytest.approx([3e-4, 3e-4, 3e-5, 3e-6])
    with pytest.raises(ValueError, match="HAN \\+ MMIL and LEAP rows only"):
        build_model("han+ours", {"hidden": 256})


def test_valor_recipe():
    cfg = TrainConfig.from_dict(train_options("valor"))
    assert (cfg.optimizer, cfg.weight_decay, cfg.beta1, cfg.lr, cfg.batch_size, cfg.epochs, cfg.seed) == (
        "adamw",
        1e-3,
        0.5,
        1e-4,
        64,
        60,
        1000,
    )
    assert (cfg.hidden, cfg.heads, cfg.ffn, cfg.num_layers, cfg.stacking, cfg.grad_clip) == (
        512,
        8,
        1024,
        1,
        "valor",
        1.0,
    )
    lrs = [cfg.lr * cfg.lr_factor(i) for i in range(cfg.epochs)]
    assert lrs[0] == pytest.approx(1e-5) and lrs[9] == pytest.approx(1e-4)  # 10 warm-up epochs
    assert lrs[10] == pytest.approx(1e-4) and all(a > b for a, b in zip(lrs[10:], lrs[11:]))  # then cosine
    assert cfg.lr * cfg.lr_factor(cfg.epochs) == pytest.approx(1e-6)
    plus = TrainConfig.from_dict(train_options("valor+"))
    assert (plus.lr, plus.hidden, plus.num_layers) == (3e-4, 256, 4) and RECIPES["valor_plus"]["heads"] == 8
    net = build_model("valor+", {})
    assert net.encoder.layers[0].self_attn.num_heads == 8 and len(net.encoder.layers) == 4
    assert net.mmil.fc_prob.in_features == 256


def test_valor_trains_with_pseudo_labels_and_refuses_to_without(tmp_path):
    train_set, val = random_feature_set(8, seed=0), random_feature_set(4, "val", seed=1)
    cfg = TrainConfig.from_dict(
        {
            **train_options("valor"),
            "epochs": 2,
            "batch_size": 4,
            "warmup_epochs": 1,
            "hidden": 32,
            "heads": 4,
            "ffn": 64,
        }
    )
    model = build_model("valor", {"hidden": 32, "heads": 4, "ffn": 64})
    with pytest.raises(ValueError, match="--pseudo-labels"):
        step_loss(model, "valor", train_set, torch.arange(4), 1, cfg)
    rng = np.random.default_rng(0)
    labels = (rng.random((2, 8, 10, 25)) < 0.1).astype(np.uint8)
    write_pseudo_labels(tmp_path / "pl.h5", train_set.video_ids[:6], labels[0, :6], labels[1, :6], {"source": "test"})
    train_set.with_pseudo_labels(tmp_path / "pl.h5")
    assert train_set.pseudo_present.tolist() == [1.0] * 6 + [0.0] * 2
    summary = train(
        "valor", train_set, val, cfg, tmp_path / "run", {"synthetic": True}, progress=False, labels={"source": "test"}
    )
    history = json.loads((tmp_path / "run" / "history.json").read_text())["epochs"]
    assert summary["pseudo_labels"] == {"source": "test"} and len(history) == 2
    assert [h["lr"] for h in history] == pytest.approx([1e-4, 1e-4])  # warm-up epoch, then the top of the cosine


def test_pseudo_labels_are_refused_for_videos_of_another_class_list(tmp_path):
    """LLP's (10, 25) pseudo labels are never attached to 10-s videos of another class list."""
    mine = random_feature_set(4, seed=0)
    mine.labels, mine.classes = mine.labels[:, :4], ("speech", "dog", "doorbell", "car")
    labels = np.zeros((4, 10, 25), np.uint8)
    write_pseudo_labels(tmp_path / "pl.h5", mine.video_ids, labels, labels, {"source": "test"})
    with pytest.raises(ValueError, match="pl.h5: pseudo labels are for LLP's 25 classes; these videos have 4"):
        mine.with_pseudo_labels(tmp_path / "pl.h5")
    assert mine.pseudo_audio is None
    llp = random_feature_set(4, seed=0)
    assert llp.with_pseudo_labels(tmp_path / "pl.h5").pseudo_present.tolist() == [1.0] * 4


def test_planning_needs_pseudo_labels_for_valor_rows(tmp_path):
    with pytest.raises(PlanError, match="pseudo_labels.source is none"):
        check_pseudo_labels({"models": ["han", "valor"]}, {"source": "none", "dir": None})
    check_pseudo_labels({"models": ["han"]}, None)
    with pytest.raises(PlanError, match="CLIP/segment_pseudo_labels"):
        check_pseudo_labels({"models": ["valor"]}, {"source": "released", "dir": str(tmp_path)})
    write_pseudo_release(tmp_path, ["goodvideo01"])
    check_pseudo_labels({"models": ["valor"]}, {"source": "released", "dir": str(tmp_path)})


def test_a_fifo_named_like_a_pseudo_label_file_is_a_failure_line_not_a_hang(tmp_path, fifo):
    write_pseudo_release(tmp_path, ["goodvideo01", "goodvideo02"])
    path = tmp_path / RELEASE_FOLDERS["audio"] / "goodvideo01.npy"
    path.unlink()
    fifo(path)
    failures = import_released(["goodvideo01", "goodvideo02"], str(tmp_path), tmp_path / "l.h5", tmp_path / "f.tsv")
    assert failures == [("goodvideo01", str(path), "not a regular file (a FIFO)")]


def test_pseudo_labels_rewritten_in_place_rerun_the_import(tmp_path, fifo):
    """The import's input is a manifest of the files, not their folders (whose time a rewrite in place
    leaves alone); planning scans the folders and leaves out what cannot be read."""
    from avvp_pipeline.plan_manifests import write_pseudo_label_manifest

    ids = ["goodvideo01", "goodvideo02"]
    root, labels, manifest = tmp_path / "rel", tmp_path / "labels.h5", tmp_path / "manifest.tsv"
    write_pseudo_release(root, ids)
    fifo(root / RELEASE_FOLDERS["audio"] / "fifovideo01.npy")
    assert write_pseudo_label_manifest(str(root), ids + ["fifovideo01"], str(manifest), str(labels))
    assert "fifovideo01" not in manifest.read_text()
    import_released(ids, str(root), labels, tmp_path / "f.tsv")
    os.utime(manifest, (1, 1))
    folder = root / RELEASE_FOLDERS["visual"]
    folder_time = folder.stat().st_mtime_ns
    path = folder / "goodvideo02.npy"
    a = np.load(path)
    a[0, 0] = 1 - a[0, 0]
    np.save(path, a)  # rewritten in place (same name, size and inode): a repair, a re-download
    assert folder.stat().st_mtime_ns == folder_time
    assert write_pseudo_label_manifest(str(root), ids, str(manifest), str(labels))
    assert manifest.stat().st_mtime > labels.stat().st_mtime
