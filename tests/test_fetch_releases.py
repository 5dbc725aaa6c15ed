"""`avvp fetch KIND`: released files fetched from a 127.0.0.1 server standing in for Google Drive, the
Hugging Face Hub and GitHub, unpacked safely, checked, and left where `avvp import ...` reads them."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import llp_dir

from avvp_pipeline import releases
from avvp_pipeline.cli import main
from avvp_pipeline.fetch import archives
from avvp_pipeline.fetch.http import Expect

IDS = ["-0A9sun15YA", "BjCEufrlXm4", "7nSYwyaP4QE"]
DRIVE_ID = releases.SOURCES["features"][0].where


def _npy(shape, seed=0) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.random.default_rng(seed).standard_normal(shape).astype(np.float32))
    return buf.getvalue()


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _han_archive() -> bytes:
    folders = {"vggish": (10, 128), "res152": (80, 2048), "r2plus1d_18": (10, 512)}
    return _zip({f"feats/{f}/{vid}.npy": _npy(shape, i) for f, shape in folders.items() for i, vid in enumerate(IDS)})


@pytest.fixture
def drive(file_server, monkeypatch):
    monkeypatch.setenv("AVVP_BASE_URL_GOOGLE_DRIVE", file_server.url)
    return file_server


def test_features_are_fetched_unpacked_checked_and_importable(drive, tmp_path):
    drive.files[f"/uc?id={DRIVE_ID}"] = _han_archive()
    out = tmp_path / "released"
    assert main(["-q", "fetch", "features", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [".avvp-fetch-features.json", "r2plus1d_18", "res152", "vggish"]
    assert main(["-q", "fetch", "features", "--out", str(out)]) == 0  # checked again, not downloaded again
    assert len(drive.requests) == 1
    shard = tmp_path / "vggish.h5"
    argv = ["import", "features", "--released-dir", str(out), "--out-vggish", str(shard)]
    assert main([*argv, "--failures", str(tmp_path / "f.tsv"), "--", *IDS]) == 0 and shard.is_file()


def test_a_damaged_feature_file_in_the_archive_stops_with_one_line(drive, tmp_path, caplog):
    drive.files[f"/uc?id={DRIVE_ID}"] = _zip({f"feats/vggish/{IDS[0]}.npy": _npy((10, 64))})
    assert main(["-q", "fetch", "features", "--out", str(tmp_path / "r")]) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and f"vggish/{IDS[0]}.npy: shape (10, 64), expected (10, 128)" in errors[0]
    assert not releases.record_path(tmp_path / "r", "features").exists()


def _tar(tmp_path: Path, add) -> Path:
    path = tmp_path / "evil.tar.gz"
    with tarfile.open(path, "w:gz") as tf:
        add(tf)
    return path


def _member(tf: tarfile.TarFile, name: str, data: bytes = b"x", **kw) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for k, v in kw.items():
        setattr(info, k, v)
    tf.addfile(info, io.BytesIO(data) if info.isfile() else None)


@pytest.mark.parametrize(
    "add, problem",
    [
        (lambda tf: _member(tf, "../escaped.npy"), "outside the destination"),
        (lambda tf: _member(tf, "/tmp/absolute.npy"), "outside the destination"),
        (lambda tf: _member(tf, "feats/link", type=tarfile.SYMTYPE, linkname="/etc/passwd", size=0), "a link"),
        (lambda tf: _member(tf, "feats/hard", type=tarfile.LNKTYPE, linkname="../x", size=0), "a link"),
    ],
)
def test_unsafe_archives_are_refused_before_anything_is_written(tmp_path, add, problem):
    archive = _tar(tmp_path, lambda tf: (_member(tf, "feats/ok.npy"), add(tf)))
    dest = tmp_path / "dest"
    with pytest.raises(archives.UnsafeArchive, match=problem) as exc:
        archives.unpack(archive, dest)
    assert "\n" not in str(exc.value) and str(archive) in str(exc.value)
    assert not (tmp_path / "escaped.npy").exists() and not any(p.name != ".unpacking" for p in dest.glob("*"))


def test_zip_links_and_traversal_are_refused(tmp_path):
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip({"../up.txt": b"x"}))
    with pytest.raises(archives.UnsafeArchive, match="outside the destination"):
        archives.unpack(archive, tmp_path / "d")
    link = zipfile.ZipInfo("CLIP/link")
    link.external_attr = 0o120777 << 16
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(link, "/etc/passwd")
    with pytest.raises(archives.UnsafeArchive, match="is a link"):
        archives.unpack(archive, tmp_path / "d")


def test_an_archive_is_unpacked_once(tmp_path):
    archive = tmp_path / "a.zip"
    archive.write_bytes(_zip({"CLIP/features/a.npy": b"1"}))
    assert archives.unpack(archive, tmp_path / "d") == ["CLIP"]
    (tmp_path / "d" / "CLIP" / "features" / "a.npy").write_bytes(b"edited")
    archives.unpack(archive, tmp_path / "d")
    assert (tmp_path / "d" / "CLIP" / "features" / "a.npy").read_bytes() == b"edited"


def _serve_hub(server, name: str, data: bytes) -> None:
    etag = hashlib.sha256(data).hexdigest()
    for rev in ("main", "c" * 40):
        path = f"/datasets/{releases.VALOR_DATASET}/resolve/{rev}/{name}"
        server.files[path] = data
        server.headers[path] = {"X-Repo-Commit": "c" * 40, "ETag": f'"{etag}"'}


def test_valor_features_come_from_the_hub_and_land_beside_the_han_folders(file_server, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", file_server.url)
    labels = (np.arange(250).reshape(10, 25) % 2).astype(np.float32)
    buf = io.BytesIO()
    np.save(buf, labels)
    for m, shape in (("CLIP", (10, 768)), ("CLAP", (64, 768))):
        members = {f"{m}/features/{v}.npy": _npy(shape) for v in IDS} | {
            f"{m}/segment_pseudo_labels/{v}.npy": buf.getvalue() for v in IDS
        }
        _serve_hub(file_server, f"{m}.zip", _zip(members))
    out = tmp_path / "released"
    assert main(["-q", "fetch", "valor-features", "--out", str(out)]) == 0
    record = releases.record_path(out, "valor-features").read_text()
    assert "c" * 40 in record and "CLAP/segment_pseudo_labels/ 3 files" in record
    assert sorted(p.name for p in out.iterdir()) == [".avvp-fetch-valor-features.json", "CLAP", "CLIP"]


def _official_han_file() -> bytes:
    from avvp_pipeline.models.official import MODEL_NAME, han_train_config, official_key
    from avvp_pipeline.models.registry import build_model

    state = build_model(MODEL_NAME, han_train_config()).state_dict()
    buf = io.BytesIO()
    torch.save({official_key(k): v for k, v in state.items()}, buf)
    return buf.getvalue()


@pytest.fixture
def github(file_server, monkeypatch):
    monkeypatch.setenv("AVVP_BASE_URL_GITHUB_RAW", file_server.url)
    return file_server


def test_han_checkpoint_is_pinned_by_its_git_blob_and_checked(github, tmp_path, monkeypatch, caplog):
    data = _official_han_file()
    src = releases.SOURCES["han-checkpoint"][0]
    github.files["/" + src.where] = data
    out = tmp_path / "han"
    assert main(["-q", "fetch", "han-checkpoint", "--out", str(out)]) == 1  # not the pinned file
    assert "git blob id" in caplog.text and not (out / "MMIL_Net.pt").exists()
    blob = hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()
    monkeypatch.setitem(
        releases.SOURCES, "han-checkpoint", (releases.Source(**{**src.__dict__, "expect": Expect(git_blob=blob)}),)
    )
    assert main(["-q", "fetch", "han-checkpoint", "--out", str(out)]) == 0
    model = tmp_path / "model.pt"
    assert main(["import", "model", "han-official", str(out / "MMIL_Net.pt"), "--out", str(model)]) == 0


def test_refined_labels_are_pinned_by_sha256(github, tmp_path, caplog):
    src = releases.SOURCES["refined-labels"][0]
    github.files["/" + src.where] = b"not the released pickle"
    out = tmp_path / "refined"
    assert main(["-q", "fetch", "refined-labels", "--out", str(out)]) == 1
    assert "expected 2083171" in caplog.text and not (out / "need_to_change_cmco.pkl").exists()
    real = llp_dir() / "need_to_change_cmco.pkl"
    if not real.is_file():
        pytest.skip(f"the CM-Co release's file is not at {real} (set AVVP_LLP_DIR)")
    github.files["/" + src.where] = real.read_bytes()
    assert main(["-q", "fetch", "refined-labels", "--out", str(out)]) == 0
    assert (out / "need_to_change_cmco.pkl").read_bytes() == real.read_bytes()
    assert "3509 visual and 1583 audio drops" in releases.record_path(out, "refined-labels").read_text()


def test_fetch_offline_says_so_in_one_line(tmp_path, caplog):
    assert main(["-q", "fetch", "refined-labels", "--out", str(tmp_path)]) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 1 and "offline mode is on" in errors[0] and "need_to_change_cmco.pkl" in errors[0]
