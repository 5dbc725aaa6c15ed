"""Feature extractors, weights resolution and shard extraction on tiny synthetic clips."""

import csv

import numpy as np
import pytest
import torch

from avvp_pipeline.features import store, vggish, visual
from avvp_pipeline.features.runner import extract_audio_shard, extract_visual_shard
from avvp_pipeline.features.weights import resolve

SMALL = {
    "weights": "random",
    "precision": "fp32",
    "resnet_resize": 32,
    "resnet_crop": 32,
    "r2plus1d_size": 16,
    "decode_workers": 0,
    "batch_videos": 3,
}


def test_vggish_mel_matrix_properties():
    m = vggish.vggish_mel_matrix()
    assert m.shape == (257, 64) and (m >= 0).all() and not m[0].any()
    # band centres rise with the band index and every band has weight
    peaks = m.argmax(axis=0)
    assert (np.diff(peaks) >= 0).all() and (m.max(axis=0) > 0.5).all()


def test_log_mel_examples_and_tone_band():
    t = torch.arange(160000) / 16000
    tone = 0.5 * torch.sin(2 * torch.pi * 1000 * t)
    ex = vggish.LogMelFrontEnd()(tone[None])
    assert ex.shape == (1, 10, 1, 96, 64)
    band = ex[0, :, 0].mean(dim=(0, 1)).argmax().item()
    centres = vggish._hz_to_mel(1000.0)
    edges = np.linspace(vggish._hz_to_mel(125), vggish._hz_to_mel(7500), 66)[1:-1]
    assert abs(band - int(np.abs(edges - centres).argmin())) <= 1
    with pytest.raises(ValueError, match="too short"):
        vggish.LogMelFrontEnd()(tone[None, :100000])


def test_vggish_state_dict_layout_of_the_pytorch_port():
    keys = set(vggish.VGGish().state_dict())
    assert {"features.0.weight", "features.13.bias", "embeddings.0.weight", "embeddings.4.bias"} <= keys
    out = vggish.VGGish()(torch.randn(2, 1, 96, 64))
    assert out.shape == (2, 128) and (out >= 0).all()  # final ReLU kept


def test_random_weights_are_seeded_and_labelled():
    a = resolve("resnet152", "random", seed=5)
    assert a.is_random and a.weights_id == "random(seed=5)" and a.sha256 == "random"
    w1 = visual.build_r2plus1d_18(resolve("r2plus1d_18", "random", seed=5)).state_dict()
    w2 = visual.build_r2plus1d_18(resolve("r2plus1d_18", "random", seed=5)).state_dict()
    assert all(torch.equal(w1[k], w2[k]) for k in w1)


def test_pretrained_weights_from_weights_dir_are_hashed(tmp_path):
    src = vggish.build_vggish(resolve("vggish", "random", seed=9))
    torch.save(src.state_dict(), tmp_path / "vggish.pth")
    w = resolve("vggish", "pretrained", weights_dir=tmp_path)
    assert not w.is_random and w.weights_id == "file:vggish.pth" and len(w.sha256) == 64
    loaded = vggish.build_vggish(w)
    x = torch.randn(1, 1, 96, 64)
    assert torch.equal(loaded(x), src(x))


def test_published_name_with_wrong_content_is_refused(tmp_path):
    torch.save({"x": torch.zeros(1)}, tmp_path / "vggish-10086976.pth")
    with pytest.raises(ValueError, match="does not match"):
        resolve("vggish", "pretrained", weights_dir=tmp_path)


def test_missing_pretrained_weights_say_where_they_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(FileNotFoundError, match="resnet152-394f9c45.pth"):
        resolve("resnet152", "pretrained", weights_dir=tmp_path)


def test_preprocess_shapes():
    frames = torch.randint(0, 255, (16, 48, 64, 3), dtype=torch.uint8)
    assert visual.preprocess_2d(frames, 40, 32).shape == (16, 3, 32, 32)
    assert visual.preprocess_3d(frames, 16).shape == (2, 3, 8, 16, 16)


@pytest.mark.slow
def test_extract_shards_with_a_corrupt_video(tiny_set, tmp_path):
    videos, _, _ = tiny_set
    paths = sorted(str(p) for p in videos.glob("*.mp4"))[:3]
    bad = tmp_path / "corruptvid01.mp4"
    bad.write_bytes(b"\x00" * 1000)
    paths.insert(1, str(bad))
    out = {k: tmp_path / f"{k}.h5" for k in ("resnet152", "r2plus1d_18", "vggish")}
    fails_v = extract_visual_shard(
        paths, out["resnet152"], out["r2plus1d_18"], tmp_path / "fv.tsv", SMALL, progress=False
    )
    fails_a = extract_audio_shard(paths, out["vggish"], tmp_path / "fa.tsv", SMALL, progress=False)
    good_ids = [p.split("/")[-1][:-4] for p in paths if "corrupt" not in p]
    for name, (t, d) in {"resnet152": (80, 2048), "r2plus1d_18": (10, 512), "vggish": (10, 128)}.items():
        ids, feats, attrs = store.read_shard(out[name])
        assert ids == good_ids and feats.shape == (3, t, d) and feats.dtype == np.float32
        assert np.isfinite(feats).all()
        assert attrs["extractor"] == name and attrs["weights_id"].startswith("random(seed=")
        assert attrs["weights_random"] == 1 and attrs["n_failed"] == 1 and len(attrs["config_hash"]) == 16
    for fails, tsv in ((fails_v, "fv.tsv"), (fails_a, "fa.tsv")):
        assert [f[0] for f in fails] == ["corruptvid01"]
        rows = list(csv.reader(open(tmp_path / tsv), delimiter="\t"))
        assert rows[0] == ["video_id", "path", "reason"] and rows[1][0] == "corruptvid01"
        assert "corruptvid01.mp4" in rows[1][2]


def test_extraction_is_deterministic(tiny_set, tmp_path):
    videos, _, _ = tiny_set
    paths = sorted(str(p) for p in videos.glob("*.mp4"))[:2]
    for run in ("a", "b"):
        extract_audio_shard(paths, tmp_path / f"{run}.h5", tmp_path / f"{run}.tsv", SMALL, progress=False)
    assert np.array_equal(store.read_shard(tmp_path / "a.h5")[1], store.read_shard(tmp_path / "b.h5")[1])


@pytest.mark.slow
def test_a_hanging_decode_is_skipped_and_the_rest_completes():
    import subprocess

    from avvp_pipeline.media.pool import decoded as _decoded

    jobs = [("true",), ("sleep", "60"), ("true",), ("true",)]
    out = list(_decoded(subprocess.call, jobs, workers=1, timeout=3))
    assert out[0] == 0 and out[2:] == [0, 0]
    assert out[1][0] == "sleep" and out[1][1] is None and "longer than 3 s" in out[1][2]


def test_pca_postprocess_hand_case_and_quantisation():
    eigen = torch.eye(128)
    eigen[0, 0] = 2.0
    means = torch.full((128,), 0.5)
    emb = torch.zeros(1, 128)
    emb[0, 0], emb[0, 1] = 1.5, 10.0
    pca = vggish.PCAPostprocess(eigen, means, quantize=False)(emb)
    assert pca[0, 0].item() == pytest.approx(2.0) and pca[0, 1].item() == pytest.approx(9.5)
    q = vggish.PCAPostprocess(eigen, means, quantize=True)(emb)
    # 2.0 -> (2 + 2) * 255 / 4 = 255; 9.5 clipped to 2 -> 255; -0.5 -> floor(1.5 * 63.75) = 95
    assert q[0, 0].item() == 255 and q[0, 1].item() == 255 and q[0, 2].item() == 95


def test_pca_parameters_from_a_weights_file(tmp_path):
    torch.save({"pca_eigen_vectors": torch.eye(128) * 3, "pca_means": torch.ones(128, 1)}, tmp_path / "vggish_pca.pth")
    w = resolve("vggish_pca", "pretrained", weights_dir=tmp_path)
    post = vggish.build_postprocess("pca", w)
    assert torch.allclose(post(torch.full((2, 128), 2.0)), torch.full((2, 128), 3.0))
    assert vggish.build_postprocess("none", w) is None
    with pytest.raises(ValueError, match="postprocess"):
        vggish.build_postprocess("whiten", w)


@pytest.mark.slow
def test_bf16_features_stay_close_to_fp32(tiny_set):
    """bf16 autocast + channels_last: per-video features within 2% relative L2 error of fp32 (stated tolerance)."""
    from avvp_pipeline.media.decode import sample_frames

    videos, _, _ = tiny_set
    frames = torch.from_numpy(sample_frames(sorted(videos.glob("*.mp4"))[0]))
    resnet = visual.build_resnet152(resolve("resnet152", "random")).to(memory_format=torch.channels_last)
    r21d = visual.build_r2plus1d_18(resolve("r2plus1d_18", "random"))
    x2d = visual.preprocess_2d(frames, 72, 64).contiguous(memory_format=torch.channels_last)
    x3d = visual.preprocess_3d(frames, 48)
    cpu = torch.device("cpu")
    with torch.inference_mode():
        for model, x in ((resnet, x2d), (r21d, x3d)):
            ref = model(x).float()
            with visual.autocast(cpu, "bf16"):
                low = model(x).float()
            rel = (low - ref).norm() / ref.norm()
            assert rel < 0.02, f"{type(model).__name__}: relative error {rel:.4f}"
