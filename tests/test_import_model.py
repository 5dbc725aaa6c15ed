"""`avvp import model han-official`: the HAN authors' MMIL_Net.pt as a model.pt that computes what the
released network computes, evaluates on the released features and says where it came from."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from avvp_pipeline.cli import main
from avvp_pipeline.data.feature_sets import FeatureSet
from avvp_pipeline.data.llp import CLASSES
from avvp_pipeline.evaluation.evaluate import evaluate_probs
from avvp_pipeline.features.kinds import DEFAULT_KINDS
from avvp_pipeline.inference import predict
from avvp_pipeline.models.checkpoint import features_match, load_model
from avvp_pipeline.models.official import (
    RELEASED_WEIGHTS_ID,
    SOURCE,
    OfficialModelError,
    import_official_han,
    released_features,
)

D, C = 512, 25


# --- the release's state dict: (key, shape), written down from the structure of its MMIL_Net -----------------


def _linear(name: str, out_dim: int, in_dim: int) -> list:
    return [(f"{name}.weight", (out_dim, in_dim)), (f"{name}.bias", (out_dim,))]


def _norm(name: str) -> list:
    return [(f"{name}.weight", (D,)), (f"{name}.bias", (D,))]


def _attention(name: str) -> list:  # nn.MultiheadAttention(512, 1): packed q/k/v projection
    return [
        (f"{name}.in_proj_weight", (3 * D, D)),
        (f"{name}.in_proj_bias", (3 * D,)),
        *_linear(f"{name}.out_proj", D, D),
    ]


def _ffn_and_norms(layer: str) -> list:
    return [
        *_linear(f"{layer}.linear1", D, D),
        *_linear(f"{layer}.linear2", D, D),
        *_norm(f"{layer}.norm1"),
        *_norm(f"{layer}.norm2"),
    ]


HAN = "hat_encoder.layers.0"
USED = [
    *_linear("fc_prob", C, D),
    *_linear("fc_frame_att", C, D),
    *_linear("fc_av_att", C, D),
    *_linear("fc_a", D, 128),
    *_linear("fc_v", D, 2048),
    *_linear("fc_st", D, D),
    *_linear("fc_fusion", D, 2 * D),
    *_attention(f"{HAN}.self_attn"),
    *_attention(f"{HAN}.cm_attn"),
    *_ffn_and_norms(HAN),
]
UNUSED = [
    *_attention("audio_encoder.layers.0.self_attn"),
    *_ffn_and_norms("audio_encoder.layers.0"),
    *_attention("visual_encoder.layers.0.self_attn"),
    *_ffn_and_norms("visual_encoder.layers.0"),
    *_attention("cmt_encoder.layers.0.self_attn"),
    *_ffn_and_norms("cmt_encoder.layers.0"),
    *_norm("cmt_encoder.norm1"),
    *_norm("cmt_encoder.norm2"),
    *_norm("hat_encoder.norm1"),
    *_norm("hat_encoder.norm2"),
]


def official_state_dict(seed: int = 0) -> dict[str, torch.Tensor]:
    """Seeded random weights under the release's key names (every tensor different)."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in USED + UNUSED:
        x = torch.randn(shape, generator=g)
        if ".norm" in key and key.endswith("weight"):
            x = 1 + 0.1 * x
        out[key] = x / shape[1] ** 0.5 if len(shape) == 2 else 0.1 * x
    return out


# --- the oracle: the release's forward order, assembled from torch.nn modules loaded with the raw tensors --------


def _loaded(module: nn.Module, sd: dict, prefix: str) -> nn.Module:
    module.load_state_dict({k[len(prefix) + 1 :]: v for k, v in sd.items() if k.startswith(prefix + ".")})
    return module.eval()


@torch.no_grad()
def official_forward(sd: dict, audio, visual, visual_st) -> dict[str, torch.Tensor]:
    lin = {
        name: _loaded(nn.Linear(i, o), sd, name)
        for name, o, i in [
            ("fc_a", D, 128),
            ("fc_v", D, 2048),
            ("fc_st", D, D),
            ("fc_fusion", D, 2 * D),
            ("fc_prob", C, D),
            ("fc_frame_att", C, D),
            ("fc_av_att", C, D),
            (f"{HAN}.linear1", D, D),
            (f"{HAN}.linear2", D, D),
        ]
    }
    att = {n: _loaded(nn.MultiheadAttention(D, 1), sd, f"{HAN}.{n}") for n in ("self_attn", "cm_attn")}
    norm = {n: _loaded(nn.LayerNorm(D), sd, f"{HAN}.{n}") for n in ("norm1", "norm2")}

    def layer(q, kv):  # the release's attention is sequence-first: (T, B, D)
        q, kv = q.transpose(0, 1), kv.transpose(0, 1)
        h = norm["norm1"](q + att["cm_attn"](q, kv, kv)[0] + att["self_attn"](q, q, q)[0])
        h = norm["norm2"](h + lin[f"{HAN}.linear2"](F.relu(lin[f"{HAN}.linear1"](h))))
        return h.transpose(0, 1)

    a = lin["fc_a"](audio)
    s = F.avg_pool2d(lin["fc_v"](visual).permute(0, 2, 1).unsqueeze(-1), (8, 1)).squeeze(-1).permute(0, 2, 1)
    v = lin["fc_fusion"](torch.cat([s, lin["fc_st"](visual_st)], dim=-1))
    a, v = layer(a, v), layer(v, a)  # one layer, no final norm
    x = torch.stack([a, v], dim=2)
    frame = torch.sigmoid(lin["fc_prob"](x))
    temporal = torch.softmax(lin["fc_frame_att"](x), dim=1) * frame
    return {
        "global_prob": (temporal * torch.softmax(lin["fc_av_att"](x), dim=2)).sum(2).sum(1),
        "audio_prob": temporal[:, :, 0].sum(1),
        "visual_prob": temporal[:, :, 1].sum(1),
        "frame_prob": frame,
    }


# --- fixtures ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """``(MMIL_Net.pt, its state dict, the imported model.pt)``."""
    root = tmp_path_factory.mktemp("official")
    sd = official_state_dict()
    path = root / "MMIL_Net.pt"
    torch.save(sd, path)
    out = root / "runs" / "han-official" / "model.pt"
    assert main(["import", "model", "han-official", str(path), "--out", str(out)]) == 0
    return path, sd, out


def _inputs(n: int = 3, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(n, t, d, generator=g) for t, d in ((10, 128), (80, 2048), (10, 512)))


# --- what the imported model computes ---------------------------------------------------------------------------


def test_imported_han_computes_the_official_forward(released):
    path, sd, out = released
    model, ckpt = load_model(out)
    assert ckpt["model_name"] == "han" and ckpt["train_config"]["gate"] == "global"
    assert ckpt["train_config"]["dropout"] == 0.1 and ckpt["train_config"]["num_layers"] == 1
    x = _inputs()
    with torch.no_grad():
        mine = model(*x)
    for key, want in official_forward(sd, *x).items():
        torch.testing.assert_close(getattr(mine, key), want, rtol=0, atol=1e-5, msg=key)


def test_the_imported_weights_are_the_files_and_the_unused_keys_are_listed(released):
    path, sd, out = released
    ckpt = torch.load(out, weights_only=True)
    state = ckpt["state_dict"]
    assert torch.equal(state["encoder.layers.0.cm_attn.in_proj_weight"], sd[f"{HAN}.cm_attn.in_proj_weight"])
    assert torch.equal(state["inputs.fc_fusion.weight"], sd["fc_fusion.weight"])
    assert torch.equal(state["mmil.fc_av_att.bias"], sd["fc_av_att.bias"])
    assert len(state) == len(USED)
    imported = ckpt["imported_from"]
    assert imported["source"] == SOURCE and imported["file"] == str(path.resolve())
    assert imported["ignored_keys"] == sorted(k for k, _ in UNUSED)


def test_imported_model_predicts_like_any_model(released):
    model, ckpt = load_model(released[2])
    n = 5
    audio, video_s, video_st = _inputs(n, seed=2)
    rng = np.random.default_rng(0)
    gt = (rng.random((n, C, 10)) < 0.1).astype(np.uint8)
    labels = torch.from_numpy((gt.any(-1)).astype(np.float32))
    fs = FeatureSet(
        "test", [f"v{i}" for i in range(n)], [f"v{i}" for i in range(n)], audio, video_s, video_st, labels, gt, gt
    )
    probs = predict(model, fs, 256, aggregate=True)
    assert probs["frame_prob"].shape == (n, 10, 2, C) and probs["agg_audio"].shape == (n, D)
    scores = evaluate_probs(probs, fs, ckpt["train_config"]["gate"])
    assert set(scores) >= {"seg_type", "ev_type"} and all(np.isfinite(v) for v in scores.values())


def _index(path: Path, ids: list[str], seed: int = 0) -> None:
    """A dataset index with a test split only (LLP layout: filename = id + times)."""
    rng = np.random.default_rng(seed)
    gt_a, gt_v = (rng.random((2, len(ids), C, 10)) < 0.15).astype(np.uint8)
    strings = h5py.string_dtype("utf-8")
    with h5py.File(path, "w") as f:
        f.attrs["classes"] = ",".join(CLASSES)
        g = f.create_group("test")
        g.create_dataset("filenames", data=np.array([f"{i}_30_40" for i in ids], dtype=object), dtype=strings)
        g.create_dataset("video_ids", data=np.array(ids, dtype=object), dtype=strings)
        g.create_dataset("labels", data=(gt_a.any(-1) | gt_v.any(-1)).astype(np.uint8))
        g.create_dataset("gt_audio", data=gt_a)
        g.create_dataset("gt_visual", data=gt_v)


def test_imported_model_evaluates_on_imported_released_features(released, tmp_path):
    rel = pytest.importorskip("avvp_pipeline.features.released")
    from avvp_pipeline.evaluation.evaluate import evaluate_model

    ids = [f"officialv{i:02d}" for i in range(4)]
    rng = np.random.default_rng(3)
    for name, folder in ((n, rel.RELEASE_FOLDERS[n]) for n in DEFAULT_KINDS):
        (tmp_path / "feats" / folder).mkdir(parents=True)
        for vid in ids:
            np.save(tmp_path / "feats" / folder / f"{vid}.npy", rng.standard_normal(rel.SHAPES[name], np.float32))
    shards = {name: str(tmp_path / "features" / name / "shard-0000.h5") for name in DEFAULT_KINDS}
    assert not rel.import_shard(
        ids,
        str(tmp_path / "feats"),
        shards,
        str(tmp_path / "failures.tsv"),
        {"source": "released", "released_dir": str(tmp_path / "feats"), "version": 1},
        progress=False,
    )
    _index(tmp_path / "index.h5", ids)
    result = evaluate_model(
        released[2],
        tmp_path / "index.h5",
        {k: [v] for k, v in shards.items()},
        "test",
        tmp_path / "scores/han.json",  # each output where it is named, whatever its folder
        tmp_path / "probs/han-predictions.h5",
        device="cpu",
    )
    assert (tmp_path / "scores/han.json").is_file() and (tmp_path / "probs/han-predictions.h5").is_file()
    assert result["model"] == "han" and result["gate"] == "global" and result["n_videos"] == len(ids)
    assert (
        json.loads((tmp_path / "scores/han.json").read_text())["features"]["resnet152"]["weights_id"]
        == "released:res152"
    )


def test_released_features_match_any_import_of_the_release_only():
    trained, _ = released_features()
    imported = {
        name: {
            "weights_id": wid,
            "weights_sha256": "unknown (not in the release)",
            "config_hash": "ab12",
            "avvp_pipeline_version": "0.9",
        }
        for name, wid in RELEASED_WEIGHTS_ID.items()
    }
    assert features_match(trained, imported)
    extracted = {**imported, "resnet152": {**imported["resnet152"], "weights_id": "torchvision:resnet152"}}
    assert not features_match(trained, extracted)
    assert not features_match(trained, {k: v for k, v in imported.items() if k != "vggish"})
    # a model trained here on released shards still needs exactly those shards' provenance
    assert features_match(imported, imported)
    assert not features_match(imported, {**imported, "vggish": {**imported["vggish"], "config_hash": "cd34"}})


def test_parse_refuses_the_imported_model_with_the_reason(released):
    from avvp_pipeline.parse import ModelMismatch, VideoParser

    with pytest.raises(ModelMismatch, match="trained on the released LLP features"):
        VideoParser.load(released[2], device="cpu")


def test_provenance_shows_the_official_source_and_sha256(released, capsys):
    path, _, out = released
    capsys.readouterr()
    assert main(["provenance", str(out)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "han"
    assert doc["imported from"]["source"] == "official HAN release"
    assert doc["imported from"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "cmt_encoder.norm1.weight" in doc["imported from"]["ignored_keys"]
    assert doc["features (inputs)"]["resnet152"] == {
        "source": "released",
        "weights_id": "released:res152",
        "weights_sha256": "unknown (not in the release)",
    }


# --- files that are not the release's ----------------------------------------------------------------------------


class Payload:
    """Unpickling this would create ``marker`` (what a crafted file carries)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _bad_files(tmp_path: Path, marker: Path, released) -> dict[str, tuple[object, str]]:
    sd = official_state_dict()
    missing = {k: v for k, v in sd.items() if k != f"{HAN}.cm_attn.in_proj_weight"}
    return {
        "missing": (
            missing,
            f"missing key '{HAN}.cm_attn.in_proj_weight' (HAN's encoder.layers.0.cm_attn.in_proj_weight)",
        ),
        "shape": ({**sd, "fc_a.weight": torch.zeros(D, 64)}, "key 'fc_a.weight' has shape 512x64, HAN needs 512x128"),
        "unexpected": ({**sd, "fc_extra.weight": torch.zeros(3)}, "unexpected key 'fc_extra.weight'"),
        "integer": ({**sd, "fc_st.bias": torch.zeros(D, dtype=torch.int64)}, "'fc_st.bias' is a torch.int64 tensor"),
        "nan": ({**sd, "fc_v.bias": torch.full((D,), float("nan"))}, "'fc_v.bias' holds NaN or infinite values"),
        "list": ([1, 2], "not the HAN authors' MMIL_Net.pt (a state dict of their MMIL_Net): it holds a list"),
        "pickle": ({**sd, "payload": Payload(marker)}, "holds objects other than tensors and plain data"),
        "model.pt": (torch.load(released[2], weights_only=True), "a model.pt written by avvp-pipeline"),
    }


@pytest.mark.parametrize("kind", ["missing", "shape", "unexpected", "integer", "nan", "list", "pickle", "model.pt"])
def test_a_file_that_is_not_the_release_is_one_error_line(tmp_path, caplog, released, kind):
    marker = tmp_path / "code-ran"
    obj, phrase = _bad_files(tmp_path, marker, released)[kind]
    path = tmp_path / "MMIL_Net.pt"
    torch.save(obj, path)
    out = tmp_path / "model.pt"
    with caplog.at_level(logging.INFO):
        assert main(["import", "model", "han-official", str(path), "--out", str(out)]) == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info is None, [r.getMessage() for r in errors]
    msg = errors[0].getMessage()
    assert msg.startswith(f"{path}: ") and phrase in msg and "\n" not in msg and "weights_only" not in msg
    assert not out.exists() and not marker.exists()


def test_errors_are_value_errors_naming_the_file(tmp_path):
    path = tmp_path / "MMIL_Net.pt"
    torch.save({k: v for k, v in official_state_dict().items() if k != "fc_prob.bias"}, path)
    with pytest.raises(OfficialModelError, match=r"MMIL_Net.pt: .*missing key 'fc_prob.bias'") as exc:
        import_official_han(path, tmp_path / "model.pt")
    assert isinstance(exc.value, ValueError)
    with pytest.raises(FileNotFoundError, match="nothing.pt: no such file"):
        import_official_han(tmp_path / "nothing.pt", tmp_path / "model.pt")


def test_cli_help_names_the_source_and_what_is_checked(capsys):
    with pytest.raises(SystemExit):
        main(["import", "model", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "han-official" in text and "MMIL_Net" in text and "sha256" in text and "released LLP features" in text
