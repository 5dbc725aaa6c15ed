"""`avvp parse VIDEO --model han-official`: the HAN authors' checkpoint and the extractors' pretrained
weights are fetched (from a server on 127.0.0.1 standing in for GitHub and download.pytorch.org) on
first use, the checkpoint converted once into the cache's model.pt, and the page written; a second run
fetches nothing; offline with nothing cached, one line says what is missing and where it goes."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import subprocess

import pytest
import torch
import torchvision

from avvp_pipeline import named_models, releases
from avvp_pipeline.cli import main
from avvp_pipeline.features import weights
from avvp_pipeline.features.config import ExtractConfig
from avvp_pipeline.features.vggish import VGGish
from avvp_pipeline.fetch.http import Expect
from avvp_pipeline.media.ffmpeg_bin import ffmpeg_exe
from avvp_pipeline.models.checkpoint import load_trained
from avvp_pipeline.models.official import MODEL_NAME, han_train_config, official_key
from avvp_pipeline.models.registry import build_model

ARCHITECTURES = {
    "resnet152": lambda: torchvision.models.resnet152(weights=None),
    "r2plus1d_18": lambda: torchvision.models.video.r2plus1d_18(weights=None),
    "vggish": VGGish,
}


def _saved(state: dict) -> bytes:
    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def _shaped_like(model: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """A state dict with ``model``'s names and shapes: each float tensor one random value broadcast over its
    shape (a stride-0 view, so the file holds a few KB instead of the real 650 MB), scaled by its fan-in so
    the activations stay finite through 152 layers."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in model.state_dict().items():
        if not value.is_floating_point():
            state[key] = value.clone()
        elif key.endswith(("running_var", "weight")) and value.ndim == 1:  # norm scales
            state[key] = torch.ones(1).expand(value.shape)
        else:
            fan_in = value[0].numel() if value.ndim > 1 else 1
            scale = 1.0 / fan_in if value.ndim > 1 else 0.01
            state[key] = (torch.rand(1, generator=g) * scale).expand(value.shape)
    return state


def test_han_official_extracts_with_the_llp_recipe_and_pretrained_weights():
    recipe = ExtractConfig(weights="pretrained").__dict__
    assert named_models.extraction() == {e: recipe for e in ("resnet152", "r2plus1d_18", "vggish")}
    assert recipe["weights_dir"] is None  # torch's cache, where features.weights: pretrained fetches them


@pytest.fixture
def small_frames(monkeypatch):
    """The han-official recipe with small frames (32 px, 16 px for R(2+1)D): the same weights, code and
    fetches, a hundredth of the CPU time of 224 px (a parse takes about a minute on a CPU at full size)."""
    recipe = named_models.extraction
    small = {"resnet_resize": 32, "resnet_crop": 32, "r2plus1d_size": 16}
    monkeypatch.setattr(named_models, "extraction", lambda: {e: {**c, **small} for e, c in recipe().items()})


@pytest.fixture
def published(file_server, monkeypatch, tmp_path):
    """The server holds the official checkpoint's layout (pinned by its git blob id) and the three
    extractors' weight files, named with their own sha256 prefix as the published names are; returns
    ``{extractor: (file name, sha256)}``."""
    han = build_model(MODEL_NAME, han_train_config()).state_dict()
    checkpoint = _saved({official_key(k): v for k, v in han.items()})
    src = releases.SOURCES["han-checkpoint"][0]
    blob = hashlib.sha1(f"blob {len(checkpoint)}\0".encode() + checkpoint).hexdigest()
    monkeypatch.setitem(
        releases.SOURCES, "han-checkpoint", (releases.Source(**{**src.__dict__, "expect": Expect(git_blob=blob)}),)
    )
    file_server.files["/" + src.where] = checkpoint
    served = {}
    for seed, (extractor, build) in enumerate(ARCHITECTURES.items()):
        data = _saved(_shaped_like(build(), seed))
        sha = hashlib.sha256(data).hexdigest()
        name = f"{extractor}-{sha[:8]}.pth"
        monkeypatch.setitem(weights.WEIGHT_FILES, extractor, (weights.WEIGHT_FILES[extractor][0], name))
        monkeypatch.setitem(weights.WEIGHT_SOURCES, extractor, ("pytorch", name))
        file_server.files[f"/{name}"] = data
        served[extractor] = (name, sha)
    for base in ("GITHUB_RAW", "PYTORCH"):
        monkeypatch.setenv(f"AVVP_BASE_URL_{base}", file_server.url)
    monkeypatch.setenv("AVVP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return served


def _clip(path):
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=96x64:rate=25"]
    cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-t", "2", "-c:v", "libx264"]
    subprocess.run([*cmd, "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)], check=True)
    return path


def test_han_official_is_fetched_and_converted_once_into_the_cache(published, file_server, tmp_path):
    model, configs = named_models.resolve_model("han-official", progress=False)
    assert model == tmp_path / "cache" / "han-official" / "model.pt"
    assert load_trained(model, torch.device("cpu")).name == "han"
    assert configs == named_models.extraction()
    assert [path for _, path, _ in file_server.requests] == ["/" + releases.SOURCES["han-checkpoint"][0].where]
    converted = model.stat().st_mtime_ns
    assert named_models.resolve_model("han-official", progress=False)[0] == model
    assert len(file_server.requests) == 1 and model.stat().st_mtime_ns == converted


@pytest.mark.slow
def test_han_official_is_fetched_converted_once_and_parses_with_pretrained_weights(
    published, small_frames, file_server, tmp_path
):
    video = _clip(tmp_path / "clip.mp4")
    assert main(["-q", "parse", str(video), "--model", "han-official", "--out", str(tmp_path / "a")]) == 0
    fetched = sorted(path for _, path, _ in file_server.requests)
    assert fetched == sorted(
        ["/" + releases.SOURCES["han-checkpoint"][0].where] + [f"/{n}" for n, _ in published.values()]
    )
    model = tmp_path / "cache" / "han-official" / "model.pt"
    assert model.is_file() and (model.parent / "MMIL_Net.pt").is_file()

    doc = json.loads((tmp_path / "a" / "clip" / "events.json").read_text())
    assert doc["model"] == "han" and doc["model_path"] == str(model)
    assert doc["weights"] == {
        e: {"weights_id": weights.WEIGHT_FILES[e][0], "weights_sha256": sha} for e, (_, sha) in published.items()
    }
    page = (tmp_path / "a" / "clip" / "index.html").read_text()
    assert published["resnet152"][1][:12] in page and weights.WEIGHT_FILES["resnet152"][0] in page
    assert (tmp_path / "a" / "clip" / "events.csv").is_file() and (tmp_path / "a" / "index.html").is_file()

    converted = model.stat().st_mtime_ns
    assert main(["-q", "parse", str(video), "--model", "han-official", "--out", str(tmp_path / "b")]) == 0
    assert len(file_server.requests) == len(fetched)  # everything came from the caches
    assert model.stat().st_mtime_ns == converted  # converted once
    assert json.loads((tmp_path / "b" / "clip" / "events.json").read_text())["weights"] == doc["weights"]


def test_han_official_offline_names_what_is_missing_and_where(published, file_server, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("AVVP_OFFLINE", "1")
    video = _clip(tmp_path / "clip.mp4")
    with caplog.at_level(logging.ERROR):
        assert main(["-q", "parse", str(video), "--model", "han-official", "--out", str(tmp_path / "out")]) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "\n" not in errors[0], errors
    folder, torch_cache = tmp_path / "cache" / "han-official", tmp_path / "torch" / "hub" / "checkpoints"
    assert errors[0].startswith("han-official: offline mode is on (AVVP_OFFLINE)")
    assert f"{folder / 'MMIL_Net.pt'} is missing (`avvp fetch han-checkpoint --out {folder}`" in errors[0]
    assert all(str(torch_cache / name) in errors[0] for name, _ in published.values())
    assert f"`avvp fetch weights --out {torch_cache}`" in errors[0]
    assert file_server.requests == [] and not (tmp_path / "out").exists()
