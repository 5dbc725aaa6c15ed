"""Feature kinds: the one table, the import of VALOR's CLIP / CLAP features, models built for whatever
shapes the shards declare (the CLAP map resampled as VALOR does), the kinds recorded in model.pt, and the
refusals of parse and planning for kinds that cannot be extracted from raw video."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from factories import random_feature_set

from avvp_pipeline.cli import main
from avvp_pipeline.data.feature_sets import EXTRACTORS, load_feature_sets, require_shards
from avvp_pipeline.features import released, store
from avvp_pipeline.features.kinds import DEFAULT_KINDS, EXTRACTABLE, KINDS, check_kinds, default_shapes
from avvp_pipeline.inference import predict
from avvp_pipeline.models.checkpoint import load_trained
from avvp_pipeline.models.complexity import gflops_per_video, table4_gmacs
from avvp_pipeline.models.han import AVInputs, feature_map_resampling
from avvp_pipeline.models.registry import build_model
from avvp_pipeline.models.rows import MODELS, RECIPES, spec, train_options
from avvp_pipeline.parse import ModelMismatch, VideoParser
from avvp_pipeline.plan import PlanError, check_feature_kinds, check_parse, feature_kinds, plan_videos
from avvp_pipeline.torch_files import CheckpointError, read_torch_file, save_torch_file
from avvp_pipeline.training.config import TrainConfig
from avvp_pipeline.training.trainer import train

VALOR_PP = ("clap_htsat", "clip_vitl14", "r2plus1d_18")


def _eval_out(folder):
    """metrics.json and predictions.h5 in ``folder``/eval."""
    return folder / "eval/metrics.json", folder / "eval/predictions.h5"


def test_the_kinds_table():
    assert {n: (k.shape, k.slot, k.release_folder, k.extractable) for n, k in KINDS.items()} == {
        "vggish": ((10, 128), "audio", "vggish", True),
        "resnet152": ((80, 2048), "visual_2d", "res152", True),
        "resnet18": ((10, 512), "visual_2d", None, False),
        "r2plus1d_18": ((10, 512), "visual_3d", "r2plus1d_18", True),
        "clip_vitl14": ((10, 768), "visual_2d", "CLIP/features", False),
        "clap_htsat": ((64, 768), "audio", "CLAP/features", False),
    }
    # the import and the loaders read the same table
    assert released.SHAPES == {n: k.shape for n, k in KINDS.items()}
    assert released.RELEASE_FOLDERS["clap_htsat"] == "CLAP/features"
    assert EXTRACTORS == DEFAULT_KINDS == EXTRACTABLE == ("vggish", "resnet152", "r2plus1d_18")
    assert check_kinds(list(VALOR_PP)) == VALOR_PP
    with pytest.raises(ValueError, match="fills the visual_2d slot, not audio"):
        check_kinds(("clip_vitl14", "resnet152", "r2plus1d_18"))
    with pytest.raises(ValueError, match="unknown feature kind 'clip'"):
        check_kinds(("vggish", "clip", "r2plus1d_18"))
    # rows declare their kinds: HAN's by default, valor++ VALOR's
    assert spec("valor++").features == VALOR_PP
    assert all(s.features == DEFAULT_KINDS for name, s in MODELS.items() if name not in ("valor++", "han_lfav"))


def test_valor_recipes_as_their_scripts():
    for row, seed, lr, min_lr, hidden, layers in (
        ("valor", 1000, 1e-4, 1e-6, 512, 1),
        ("valor+", 64, 3e-4, 3e-6, 256, 4),
        ("valor++", 87, 3e-4, 3e-6, 256, 4),
    ):
        cfg = TrainConfig.from_dict(train_options(row))
        assert (cfg.seed, cfg.lr, cfg.min_lr, cfg.hidden, cfg.num_layers) == (seed, lr, min_lr, hidden, layers), row
        assert (cfg.batch_size, cfg.epochs, cfg.optimizer, cfg.weight_decay, cfg.beta1) == (64, 60, "adamw", 1e-3, 0.5)
        assert (cfg.schedule, cfg.warmup_epochs, cfg.grad_clip, cfg.heads, cfg.ffn) == (
            "warmup_cosine",
            10,
            1.0,
            8,
            1024,
        )
        assert (cfg.stacking, cfg.gate, cfg.select_metric) == ("valor", "global", "seg_type")
        assert cfg.lr * cfg.lr_factor(cfg.epochs) == pytest.approx(min_lr)
    assert RECIPES["valor_plus_plus"] == {**RECIPES["valor_plus"], "seed": 87}


# --- the import -------------------------------------------------------------------------------------


def _valor_release(root: Path, ids: list[str]) -> dict[str, dict[str, np.ndarray]]:
    from test_released_import import write_release

    return write_release(root, ids, kinds=("clap_htsat", "clip_vitl14"))


def test_clip_and_clap_import_like_the_others_and_list_bad_files(tmp_path):
    ids = ["goodvideo01", "goodvideo02", "clapshape01", "clipmissing", "clipnanval1"]
    arrays = _valor_release(tmp_path / "rel", ids)
    np.save(tmp_path / "rel/CLAP/features/clapshape01.npy", np.zeros((10, 768), np.float32))  # a CLIP-shaped file
    (tmp_path / "rel/CLIP/features/clipmissing.npy").unlink()
    nan = arrays["clip_vitl14"]["clipnanval1"].copy()
    nan[3, 7] = np.nan
    np.save(tmp_path / "rel/CLIP/features/clipnanval1.npy", nan)
    outputs = {k: str(tmp_path / k / "shard-0000.h5") for k in ("clap_htsat", "clip_vitl14")}
    failures = released.import_shard(
        ids, str(tmp_path / "rel"), outputs, str(tmp_path / "fail.tsv"), {"source": "released"}, progress=False
    )
    reasons = {vid: reason for vid, _, reason in failures}
    assert reasons == {
        "clapshape01": "shape (10, 768), expected (64, 768) for CLAP/features",
        "clipmissing": "file not found",
        "clipnanval1": "1 NaN/Inf values (as float32)",
    }
    listed = (tmp_path / "fail.tsv").read_text()
    assert all(vid in listed for vid in reasons) and "CLAP/features/clapshape01.npy" in listed
    for name in outputs:
        shard = store.read_full_shard(outputs[name])
        assert shard.video_ids == ["goodvideo01", "goodvideo02"]  # a bad file leaves its video out of both
        assert np.array_equal(shard.features[1], arrays[name]["goodvideo02"])
        assert shard.attrs["weights_id"] == f"released:{KINDS[name].release_folder}"
        assert shard.attrs["extractor"] == name and shard.attrs["n_failed"] == 3
        assert ("has_audio" in shard.extra) == (name == "clap_htsat")  # the audio slot's shard, as VGGish's


def test_import_features_command_writes_any_kind(tmp_path, caplog):
    _valor_release(tmp_path / "rel", ["goodvideo01", "-dashstart1"])
    out = tmp_path / "clap.h5"
    rc = main(
        [
            "-q",
            "import",
            "features",
            "--released-dir",
            str(tmp_path / "rel"),
            "--out-clap-htsat",
            str(out),
            "--failures",
            str(tmp_path / "f.tsv"),
            "--",
            "goodvideo01",
            "-dashstart1",
        ]
    )
    assert rc == 0 and store.read_full_shard(out).features.shape == (2, 64, 768)
    assert not (tmp_path / "vggish.h5").exists()
    rc = main(["import", "features", "--released-dir", str(tmp_path), "--failures", str(tmp_path / "f.tsv"), "--", "x"])
    assert rc == 1 and "needs at least one of" in caplog.text and "--out-clap-htsat" in caplog.text


# --- the networks -----------------------------------------------------------------------------------


def _literal_valor_audio(fc_a: torch.nn.Linear, audio: torch.Tensor) -> torch.Tensor:
    """VALOR's order on a (B, 64, D) map: (B, D, 2, 32), bicubic to (2, 1024), fc_a on the channels, the
    mean of the 2 rows, an adaptive average to 10 segments."""
    b, rows, d = audio.shape
    x = audio.permute(0, 2, 1).contiguous().view(b, d, 2, rows // 2)
    up = F.interpolate(x, size=(2, 1024), mode="bicubic")
    up = fc_a(up.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).mean(dim=2)  # (B, hidden, 1024)
    return F.adaptive_avg_pool1d(up, 10).permute(0, 2, 1)


def test_the_clap_map_path_equals_valors_literal_order():
    torch.manual_seed(0)
    inputs = AVInputs(256, {"audio": (64, 768), "visual_2d": (10, 768)})
    audio = torch.randn(3, 64, 768)
    ours, _ = inputs(audio, torch.randn(3, 10, 768), torch.randn(3, 10, 512))
    assert ours.shape == (3, 10, 256)
    assert torch.allclose(ours, _literal_valor_audio(inputs.fc_a, audio), atol=1e-5)
    w = feature_map_resampling(64)
    assert w.shape == (10, 64) and torch.allclose(w.sum(dim=1), torch.ones(10, dtype=w.dtype))
    with pytest.raises(ValueError, match="even number"):
        feature_map_resampling(63)
    with pytest.raises(ValueError, match="visual_2d input with 75 rows"):
        AVInputs(32, {"visual_2d": (75, 16)})


def test_models_take_the_widths_and_rows_they_are_given():
    shapes = {"audio": (64, 768), "visual_2d": (10, 512), "visual_3d": (10, 512)}  # e.g. a CLIP ViT-B
    model = build_model("valor++", {"hidden": 32, "heads": 4, "ffn": 64}, shapes)
    assert model.input_shapes == shapes and model.inputs.fc_v.in_features == 512
    assert model.inputs.frames_per_segment == 1 and "inputs.audio_resampling" not in model.state_dict()
    for row in ("han", "han+ours", "ave", "avsdn"):  # every network, HAN features at other widths
        net = build_model(row, {}, {"audio": (10, 64), "visual_2d": (20, 100)})
        out = net.eval()(torch.randn(2, 10, 64), torch.randn(2, 20, 100), torch.randn(2, 10, 512))
        assert out.frame_prob.shape == (2, 10, 2, 25), row
    std = build_model("valor++", {"feature_norm": "standardize"})
    assert std.audio_mean.shape == (768,) and std.input_shapes["audio"] == (64, 768)


def test_cost_counts_the_clap_path():
    pp = build_model("valor++", {})
    # true FLOPs: the (10 x 64) resampling matmul over 768 channels is counted (2 FLOPs per MAC)
    clap = AVInputs(256, {"audio": (64, 768), "visual_2d": (10, 768)})
    per_second = AVInputs(256, {"audio": (10, 768), "visual_2d": (10, 768)})
    per_second.load_state_dict(clap.state_dict())

    class Wrap(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner, self.input_shapes = inner, inner.shapes

        def forward(self, a, s, st):
            return self.inner(a, s, st)

    extra = gflops_per_video(Wrap(clap)) - gflops_per_video(Wrap(per_second))
    assert extra * 1e9 == pytest.approx(2 * 10 * 64 * 768)
    assert gflops_per_video(pp) > 0
    # Table 4's convention counts fc_a as VALOR runs it: on 2 x 1024 points per video, not on 10 rows
    # (CLIP's fc_v runs on 10 rows either way)
    assert table4_gmacs(pp) - table4_gmacs(pp, published=False) == pytest.approx(
        64 * (2048 - 10) * 768 * 256 / 1e9, rel=1e-9
    )
    fc_a_published = 64 * 2048 * 768 * 256 / 1e9
    assert table4_gmacs(pp) > fc_a_published


# --- model.pt ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def valor_pp_model(tmp_path_factory):
    """valor++ trained one epoch on (64, 768) audio and 512-wide (10, 512) frame features."""
    shapes = {"visual_2d": (10, 512)}
    fs = random_feature_set(8, kinds=VALOR_PP, shapes=shapes)
    fs.pseudo_audio = fs.pseudo_visual = fs.labels[:, None, :].repeat(1, 10, 1)
    fs.pseudo_present = torch.ones(len(fs))
    val = random_feature_set(4, "val", seed=1, kinds=VALOR_PP, shapes=shapes)
    cfg = TrainConfig.from_dict(
        {**train_options("valor++"), "epochs": 1, "batch_size": 4, "warmup_epochs": 1, "hidden": 32, "ffn": 64}
    )
    out = tmp_path_factory.mktemp("valorpp")
    provenance = {
        k: {"weights_id": f"released:{k}", "weights_sha256": "s", "config_hash": "c", "avvp_pipeline_version": "v"}
        for k in VALOR_PP
    }
    train("valor++", fs, val, cfg, out, provenance, progress=False)
    return out / "model.pt", val


def test_model_pt_records_the_kinds_and_shapes_and_rebuilds_them(valor_pp_model):
    path, val = valor_pp_model
    trained = load_trained(path)
    assert trained.kinds == VALOR_PP
    assert trained.inputs == {
        "audio": {"kind": "clap_htsat", "shape": [64, 768]},
        "visual_2d": {"kind": "clip_vitl14", "shape": [10, 512]},
        "visual_3d": {"kind": "r2plus1d_18", "shape": [10, 512]},
    }
    assert trained.net.inputs.fc_v.in_features == 512
    a = predict(trained.net, val, 4)["frame_prob"]
    b = predict(load_trained(path).net, val, 4)["frame_prob"]
    assert np.array_equal(a, b)


def test_a_set_of_other_kinds_is_refused(tmp_path):
    fs = random_feature_set(4)
    with pytest.raises(ValueError, match="reads the feature kinds clap_htsat, clip_vitl14, r2plus1d_18"):
        train("valor++", fs, fs, TrainConfig(epochs=1), tmp_path, {}, progress=False)
    with pytest.raises(
        ValueError, match="no shards were given for clap_htsat, clip_vitl14 .--clap-htsat, --clip-vitl14"
    ):
        require_shards({"r2plus1d_18": ["x.h5"]}, VALOR_PP, "model valor++")


def test_models_written_before_kinds_were_recorded_read_hans_kinds(tmp_path):
    fs = random_feature_set(6)
    train("han", fs, fs, TrainConfig(epochs=1, batch_size=3), tmp_path, {}, progress=False)
    ckpt = read_torch_file(tmp_path / "model.pt")
    assert ckpt["inputs"]["visual_2d"] == {"kind": "resnet152", "shape": [80, 2048]}
    del ckpt["inputs"]
    save_torch_file(ckpt, tmp_path / "old.pt")
    old = load_trained(tmp_path / "old.pt")
    assert old.kinds == DEFAULT_KINDS and old.inputs is None and old.net.input_shapes == default_shapes()
    ckpt["inputs"] = {"audio": {"kind": "vggish", "shape": [10, 128]}}
    save_torch_file(ckpt, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="bad.pt: its input record cannot be read"):
        load_trained(tmp_path / "bad.pt")
    ckpt["inputs"] = {s: {"kind": k, "shape": list(KINDS[k].shape)} for s, k in zip(default_shapes(), VALOR_PP)}
    save_torch_file(ckpt, tmp_path / "misfit.pt")  # HAN weights, CLAP / CLIP widths
    with pytest.raises(CheckpointError, match="do not fit model 'han'"):
        load_trained(tmp_path / "misfit.pt")


def test_parse_refuses_a_model_on_kinds_raw_video_cannot_give(valor_pp_model):
    path, _ = valor_pp_model
    with pytest.raises(ModelMismatch, match="clap_htsat, clip_vitl14 cannot be extracted from raw video"):
        VideoParser.load(path, "cpu")


# --- planning ---------------------------------------------------------------------------------------


def test_planning_refuses_kinds_the_feature_source_cannot_give(tmp_path):
    extract, imported = {"source": "extract"}, {"source": "released"}
    with pytest.raises(PlanError, match="valor\\+\\+, which reads the feature kinds clap_htsat, clip_vitl14"):
        check_feature_kinds(extract, {"models": ["han", "valor++"]})
    check_feature_kinds(extract, {"models": ["han", "valor+"]})
    check_feature_kinds(imported, {"models": ["valor++"]})
    with pytest.raises(PlanError, match="parse.models has valor\\+\\+"):
        check_parse(extract, {"videos_dir": str(tmp_path), "models": ["valor++"]})
    check_parse(extract, {"videos_dir": None, "models": ["valor++"]})
    assert feature_kinds({"models": ["valor++"]}) == ("r2plus1d_18", "clip_vitl14", "clap_htsat")
    assert feature_kinds({"models": ["ma*"]}, {"source": "computed"}) == DEFAULT_KINDS  # ma_base's
    assert feature_kinds({"models": ["han", "valor++"]}) == tuple(k for k in KINDS if k != "resnet18")
    assert feature_kinds({"models": []}) == DEFAULT_KINDS


def test_planning_a_release_reads_only_the_kinds_it_needs(tmp_path):
    from test_released_import import write_release

    ann = tmp_path / "ann"
    ann.mkdir()
    ids = ["trainvideo1", "valvideo001", "testvideo01"]
    for name, vid in zip(("AVVP_train.csv", "AVVP_val_pd.csv", "AVVP_test_pd.csv"), ids):
        (ann / name).write_text(f"filename\tevent_labels\n{vid}_0_10\tSpeech\n")
    write_release(tmp_path / "rel", ids, kinds=("r2plus1d_18",))
    dataset = {"annotations_dir": str(ann)}
    features = {"source": "released", "released_dir": str(tmp_path / "rel")}
    with pytest.raises(PlanError, match="no folder CLIP/features/ .the clip_vitl14 features"):
        plan_videos(dataset, 2, features, ("r2plus1d_18", "clip_vitl14", "clap_htsat"))
    _valor_release(tmp_path / "rel", ids[:2])  # the test video lacks its CLIP and CLAP files
    plan = plan_videos(dataset, 2, features, ("r2plus1d_18", "clip_vitl14", "clap_htsat"))
    assert plan.video_ids == ["trainvideo1", "valvideo001"] and plan.missing == ["testvideo01"]
    assert plan.shard_released_files(0, "clap_htsat") == [
        str(tmp_path / "rel/CLAP/features" / f"{v}.npy") for v in ("trainvideo1", "valvideo001")
    ]
    # no vggish/ or res152/ folder is needed for a valor++-only run
    assert not (tmp_path / "rel/vggish").exists()


def test_loading_and_evaluation_put_each_kind_in_its_slot(valor_pp_model, tmp_path):
    """Shards of the model's kinds are loaded into its slots (a CLIP ViT-B-wide 512-d visual_2d shard
    included) and the model is scored on them; the HAN kinds are not asked for."""
    from test_released_refined import write_annotations

    from avvp_pipeline.data.index import build_index
    from avvp_pipeline.evaluation.evaluate import evaluate_model

    write_annotations(tmp_path / "ann", [("trnvid00001_0_10", "Speech"), ("trnvid00002_0_10", "Dog")])
    build_index(tmp_path / "ann", tmp_path / "index.h5")
    ids = ["trnvid00001", "trnvid00002", "valvid00001", "tstvid00001"]
    rng = np.random.default_rng(0)
    shapes = {"clap_htsat": (64, 768), "clip_vitl14": (10, 512), "r2plus1d_18": (10, 512)}
    shards = {}
    for name, shape in shapes.items():
        shards[name] = [str(tmp_path / f"{name}.h5")]
        store.write_shard(shards[name][0], ids, rng.random((4, *shape), dtype=np.float32), {"extractor": name})
    sets, provenance = load_feature_sets(tmp_path / "index.h5", ["train", "test"], shards, "cpu", VALOR_PP)
    assert sets["train"].kinds == VALOR_PP and set(provenance) == set(VALOR_PP)
    assert sets["train"].shapes == {"audio": (64, 768), "visual_2d": (10, 512), "visual_3d": (10, 512)}
    path, _ = valor_pp_model
    model_features = load_trained(path).features
    with pytest.raises(ValueError, match="trained on features"):  # other provenance than the model's
        evaluate_model(path, tmp_path / "index.h5", shards, "test", *_eval_out(tmp_path), device="cpu")
    for name in shards:  # shards with the model's provenance
        store.write_shard(
            shards[name][0],
            ids,
            rng.random((4, *shapes[name]), dtype=np.float32),
            {"extractor": name, **model_features[name]},
        )
    result = evaluate_model(path, tmp_path / "index.h5", shards, "test", *_eval_out(tmp_path), device="cpu")
    assert result["model"] == "valor++" and result["n_videos"] == 1
    assert json.loads((tmp_path / "eval/metrics.json").read_text())["features"].keys() == set(VALOR_PP)
    with pytest.raises(ValueError, match="shards given as clip_vitl14 were written as resnet152"):
        wrong = str(tmp_path / "wrong.h5")
        store.write_shard(wrong, ids, np.zeros((4, 10, 512), np.float32), {"extractor": "resnet152"})
        load_feature_sets(tmp_path / "index.h5", ["test"], {**shards, "clip_vitl14": [wrong]}, "cpu", VALOR_PP)


def test_kinds_have_rows_per_second_not_a_fixed_length():
    from avvp_pipeline.features.kinds import kind

    assert kind("resnet152").rows(3) == 24 and kind("vggish").rows(40) == 40
    assert kind("resnet152").segments(24) == 3 and kind("clap_htsat").segments(64) == 10
    with pytest.raises(ValueError, match="resnet152 features of 20 rows: not a whole number of seconds"):
        kind("resnet152").segments(20)
    with pytest.raises(ValueError, match="clap_htsat features map a whole 10-second clip"):
        kind("clap_htsat").rows(7)
