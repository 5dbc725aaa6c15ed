"""Pretrained weights that are not on disk are fetched into torch's cache, checked against the hash in
their published name; offline mode keeps the old behaviour (a FileNotFoundError saying where to put them)."""

from __future__ import annotations

import hashlib
import io
import socket

import pytest
import torch

from avvp_pipeline.features import weights
from avvp_pipeline.features.weights import resolve
from avvp_pipeline.fetch.http import FetchError


@pytest.fixture
def published_vggish(file_server, monkeypatch, tmp_path):
    """A small weight file (a state dict of tensors) served at VGGish's published path, its name carrying
    its own sha256 prefix as the published name does."""
    buf = io.BytesIO()
    torch.save({"embeddings.0.weight": torch.arange(12.0).reshape(3, 4)}, buf)
    data = buf.getvalue()
    name = f"vggish-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    monkeypatch.setitem(weights.WEIGHT_FILES, "vggish", ("harritaylor/torchvggish AudioSet VGGish", name))
    monkeypatch.setitem(
        weights.WEIGHT_SOURCES, "vggish", ("github", f"harritaylor/torchvggish/releases/download/v0.1/{name}")
    )
    monkeypatch.setenv("AVVP_BASE_URL_GITHUB", file_server.url)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    file_server.files[f"/harritaylor/torchvggish/releases/download/v0.1/{name}"] = data
    return name, data


def test_missing_weights_are_fetched_into_the_cache_and_recorded(published_vggish, file_server, tmp_path):
    name, data = published_vggish
    w = resolve("vggish", "pretrained", weights_dir=tmp_path / "empty")
    cached = tmp_path / "torch" / "hub" / "checkpoints" / name
    assert w.path == str(cached) and cached.read_bytes() == data
    assert w.weights_id == "harritaylor/torchvggish AudioSet VGGish" and w.sha256 == hashlib.sha256(data).hexdigest()
    resolve("vggish", "pretrained")  # found in the cache now
    assert len(file_server.requests) == 1


def test_fetched_weights_with_the_wrong_hash_are_refused(published_vggish, file_server, tmp_path):
    name, data = published_vggish
    file_server.files[f"/harritaylor/torchvggish/releases/download/v0.1/{name}"] = (
        data[:100] + bytes([data[100] ^ 1]) + data[101:]
    )
    with pytest.raises(FetchError, match="expected it to start with"):
        resolve("vggish", "pretrained")
    assert not (tmp_path / "torch" / "hub" / "checkpoints" / name).exists()


def test_offline_mode_never_fetches_and_says_where_to_put_them(published_vggish, monkeypatch, tmp_path):
    monkeypatch.setenv("AVVP_OFFLINE", "1")
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("a socket was opened"))
    with pytest.raises(FileNotFoundError, match="offline mode is on") as exc:
        resolve("vggish", "pretrained", weights_dir=tmp_path)
    assert "`weights_dir`" in str(exc.value) and "avvp fetch weights" in str(exc.value)


def test_every_published_weight_has_an_official_source():
    assert set(weights.WEIGHT_SOURCES) == set(weights.WEIGHT_FILES)
    for extractor, (_base, path) in weights.WEIGHT_SOURCES.items():
        assert path.endswith(weights.WEIGHT_FILES[extractor][1])
    assert weights.WEIGHT_SOURCES["resnet152"] == ("pytorch", "resnet152-394f9c45.pth")
