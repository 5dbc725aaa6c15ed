"""The one download path (avvp_pipeline/fetch/http.py) against a server on 127.0.0.1: checked files only
under the final name, resume after a kill, retries with back-off, final 404 / 410, offline mode."""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import zipfile

import pytest

from avvp_pipeline.fetch import http
from avvp_pipeline.fetch.http import Expect, FetchError, Offline

DATA = os.urandom(3 * (1 << 20) + 123)
SHA = hashlib.sha256(DATA).hexdigest()


def _get(server, target, **kw):
    kw.setdefault("backoff", 0.01)
    return http.download(server.url + "/data.bin", target, Expect(size=len(DATA), sha256=SHA), progress=False, **kw)


def test_download_is_checked_then_renamed_and_kept(file_server, tmp_path):
    file_server.files["/data.bin"] = DATA
    target = tmp_path / "sub" / "data.bin"
    assert _get(file_server, target) == target and target.read_bytes() == DATA
    assert not http.part_path(target).exists()
    _get(file_server, target)  # checked again, not fetched again
    assert len(file_server.requests) == 1


def test_resume_after_a_kill(file_server, tmp_path):
    file_server.files["/data.bin"] = DATA
    file_server.delay = 0.05  # 64 KiB per 50 ms: the whole file would take about 2.5 s
    target = tmp_path / "data.bin"
    code = (
        "from avvp_pipeline.fetch import http;"
        f"http.download({file_server.url + '/data.bin'!r}, {str(target)!r}, progress=False)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "AVVP_OFFLINE": "0"})
    part = http.part_path(target)
    deadline = time.monotonic() + 20
    while not (part.exists() and part.stat().st_size > 256 << 10) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    have = part.stat().st_size
    assert 0 < have < len(DATA) and not target.exists()
    file_server.delay = 0
    _get(file_server, target)
    assert target.read_bytes() == DATA and not part.exists()
    assert file_server.requests[-1] == ("GET", "/data.bin", f"bytes={have}-")


def test_processes_fetching_one_file_take_turns_and_leave_no_lock(file_server, tmp_path):
    file_server.files["/data.bin"] = DATA
    file_server.delay = 0.01  # about half a second for the file: the others wait on the lock meanwhile
    target = tmp_path / "data.bin"
    code = (
        "from avvp_pipeline.fetch import http;"
        f"http.download({file_server.url + '/data.bin'!r}, {str(target)!r}, "
        f"http.Expect(sha256={SHA!r}), progress=False)"
    )
    env = {**os.environ, "AVVP_OFFLINE": "0"}
    children = [subprocess.Popen([sys.executable, "-c", code], env=env) for _ in range(3)]
    assert [child.wait(timeout=60) for child in children] == [0, 0, 0]
    assert target.read_bytes() == DATA and len(file_server.requests) == 1  # the others found it done
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.bin"]  # no TARGET.lock, no TARGET.part


def test_a_failed_fetch_leaves_no_lock(file_server, tmp_path):
    with pytest.raises(FetchError, match="HTTP 404"):
        _get(file_server, tmp_path / "data.bin")
    assert list(tmp_path.iterdir()) == []


def test_a_server_without_range_restarts_the_file(file_server, tmp_path):
    file_server.files["/data.bin"] = DATA
    file_server.ranges = False
    target = tmp_path / "data.bin"
    http.part_path(target).write_bytes(b"x" * 1000)  # not the file's first bytes: a resume would corrupt it
    _get(file_server, target)
    assert target.read_bytes() == DATA


def test_wrong_hash_is_refused_and_nothing_keeps_the_name(file_server, tmp_path):
    file_server.files["/data.bin"] = DATA
    target = tmp_path / "data.bin"
    with pytest.raises(FetchError) as exc:
        http.download(file_server.url + "/data.bin", target, Expect(sha256="0" * 64), progress=False)
    msg = str(exc.value)
    assert "\n" not in msg and file_server.url + "/data.bin" in msg and str(target) in msg
    assert f"sha256 {SHA}, expected {'0' * 64}" in msg
    assert not target.exists() and not http.part_path(target).exists()


@pytest.mark.parametrize("status, reason", [(404, "not found (HTTP 404)"), (410, "gone (HTTP 410)"), (403, "HTTP 403")])
def test_client_errors_are_final(file_server, tmp_path, status, reason):
    file_server.files["/data.bin"] = DATA
    file_server.faults["/data.bin"] = [status]
    with pytest.raises(FetchError, match=re.escape(reason)) as exc:
        _get(file_server, tmp_path / "data.bin")
    assert exc.value.status == status and len(file_server.requests) == 1  # never retried
    assert not (tmp_path / "data.bin").exists()


def test_server_errors_resets_and_cut_bodies_are_retried_and_resumed(file_server, tmp_path):
    file_server.files["/data.bin"] = DATA
    file_server.faults["/data.bin"] = [500, 429, "reset", ("cut", 100_000), 503]
    target = tmp_path / "data.bin"
    _get(file_server, target, retries=5)
    assert target.read_bytes() == DATA
    assert [r[2] for r in file_server.requests] == [None] * 4 + ["bytes=100000-"] * 2


def test_retries_are_bounded_and_back_off(file_server, tmp_path, monkeypatch):
    file_server.files["/data.bin"] = DATA
    file_server.faults["/data.bin"] = [502, 502, 502, 502]
    waits = []
    monkeypatch.setattr(http.time, "sleep", waits.append)
    with pytest.raises(FetchError, match=r"HTTP 502 .*\(after 3 tries\)"):
        _get(file_server, tmp_path / "data.bin", retries=2, backoff=1.0)
    assert waits == [1.0, 2.0] and len(file_server.requests) == 3


def test_base_urls_can_be_overridden(monkeypatch):
    assert http.url("pytorch", "x.pth") == "https://download.pytorch.org/models/x.pth"
    monkeypatch.setenv("AVVP_BASE_URL_GITHUB_RAW", "http://127.0.0.1:9/raw/")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9/hf")
    assert http.url("github-raw", "/a/b") == "http://127.0.0.1:9/raw/a/b"
    assert http.base("huggingface") == "http://127.0.0.1:9/hf"


def test_google_drive_files_come_through_gdown(file_server, tmp_path, monkeypatch):
    monkeypatch.setenv("AVVP_BASE_URL_GOOGLE_DRIVE", file_server.url)
    file_server.files["/uc?id=FILE123"] = DATA
    file_server.faults["/uc?id=FILE123"] = [500]
    target = tmp_path / "feats.zip"
    http.download_drive("FILE123", target, Expect(sha256=SHA), progress=False, backoff=0.01)
    assert target.read_bytes() == DATA and not http.part_path(target).exists()
    file_server.files["/uc?id=GONE"] = DATA
    file_server.faults["/uc?id=GONE"] = [404]
    with pytest.raises(FetchError, match="not found"):
        http.download_drive("GONE", tmp_path / "gone.zip", progress=False)


def _serve_hub_file(server, name: str, data: bytes, commit: str = "c" * 40) -> None:
    etag = hashlib.sha256(data).hexdigest()
    for rev in ("main", commit):
        path = f"/datasets/owner/set/resolve/{rev}/{name}"
        server.files[path] = data
        server.headers[path] = {"X-Repo-Commit": commit, "ETag": f'"{etag}"'}


def test_hugging_face_files_come_through_the_hub_client(file_server, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", file_server.url)
    zipped = tmp_path / "src.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        zf.writestr("CLIP/features/a.npy", b"x")
    _serve_hub_file(file_server, "CLIP.zip", zipped.read_bytes())
    target = tmp_path / "out" / "CLIP.zip"
    path, commit = http.hub_download("owner/set", "CLIP.zip", "main", target)
    assert path == target and target.read_bytes() == zipped.read_bytes() and commit == "c" * 40
    bad = tmp_path / "out" / "bad.zip"
    _serve_hub_file(file_server, "bad.zip", b"some bytes")
    file_server.headers["/datasets/owner/set/resolve/main/bad.zip"]["ETag"] = '"' + "0" * 64 + '"'
    file_server.headers["/datasets/owner/set/resolve/" + "c" * 40 + "/bad.zip"]["ETag"] = '"' + "0" * 64 + '"'
    with pytest.raises(FetchError, match="sha256"):
        http.hub_download("owner/set", "bad.zip", "main", bad)
    assert not bad.exists()


def test_offline_mode_opens_no_socket(tmp_path, monkeypatch):
    opened = []

    def no_network(*args, **kwargs):
        opened.append(args)
        raise AssertionError("a socket was opened in offline mode")

    monkeypatch.setattr(socket, "socket", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setenv("AVVP_OFFLINE", "1")
    with pytest.raises(Offline, match="offline mode is on"):
        http.download("http://127.0.0.1:9/x", tmp_path / "x")
    with pytest.raises(Offline):
        http.download_drive("FILE", tmp_path / "y")
    with pytest.raises(Offline):
        http.hub_download("owner/set", "CLIP.zip", "main", tmp_path / "z")
    monkeypatch.setenv("AVVP_OFFLINE", "0")
    with pytest.raises(Offline):
        http.download("http://127.0.0.1:9/x", tmp_path / "x", offline=True)
    assert opened == [] and not (tmp_path / "x").exists()
