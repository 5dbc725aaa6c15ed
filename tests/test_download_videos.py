"""`avvp download videos`: LLP clips fetched with yt-dlp from a 127.0.0.1 server (its generic extractor
reads direct media URLs), cut to their window as H.264 + AAC mp4; resumable; every clip that cannot be
had is one line of the failures file with its reason, and the others go on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from avvp_pipeline.cli import main
from avvp_pipeline.fileio import read_tsv
from avvp_pipeline.media.clip_download import failure_reason, parse_name
from avvp_pipeline.media.ffmpeg_bin import ffmpeg_exe
from avvp_pipeline.media.probe import probe

pytestmark = pytest.mark.media

GOOD, LATE, GONE, DELETED, FLAKY = "-goodclip01", "late_clip02", "gone_clip03", "deletedcl04", "flakyclip05"


@pytest.fixture(scope="module")
def source_mp4(tmp_path_factory) -> bytes:
    """A 14-second 64x48 mp4 with a tone: a whole "YouTube video" whose 10-second window is cut."""
    path = tmp_path_factory.mktemp("src") / "source.mp4"
    lavfi = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=14", "-f", "lavfi", "-i", "sine=duration=14"]
    cmd = [ffmpeg_exe(), "-loglevel", "error", *lavfi, "-c:v", "mpeg4", "-c:a", "mp2", "-shortest", str(path)]
    subprocess.run(cmd, check=True)
    return path.read_bytes()


def _argv(server, out, *names, retries=1):
    return [
        "-q",
        "download",
        "videos",
        "--out",
        str(out),
        "--url-template",
        server.url + "/{id}.mp4",
        "--jobs",
        "2",
    ] + [
        "--retries",
        str(retries),
        "--backoff",
        "0.01",
        "--",
        *names,
    ]


def test_names_give_the_id_and_window():
    clip = parse_name("-0A9sun15YA_30_40")
    assert (clip.video_id, clip.start, clip.end) == ("-0A9sun15YA", 30.0, 40.0)
    with pytest.raises(ValueError, match="not an LLP file name"):
        parse_name("-0A9sun15YA.mp4")


@pytest.mark.parametrize(
    "message, reason, retried",
    [
        ("ERROR: [youtube] x: Video unavailable. This video has been removed by the uploader", "removed", False),
        ("ERROR: [youtube] x: Private video. Sign in if you've been granted access to this video", "private", False),
        ("ERROR: [youtube] x: Video unavailable. This video is private", "private", False),
        ("ERROR: [youtube] x: The uploader has not made this video available in your country", "geo-blocked", False),
        ("ERROR: [youtube] x: Sign in to confirm your age. This video may be inappropriate", "sign-in", False),
        ("ERROR: unable to download video data: HTTP Error 403: Forbidden", "http 403", False),
        ("ERROR: unable to download video data: HTTP Error 503: Service Unavailable", "http 503", True),
        ("ERROR: [generic] Unable to download webpage: [Errno 104] Connection reset by peer", "network", True),
    ],
)
def test_youtube_messages_give_the_reason(message, reason, retried):
    assert failure_reason(message) == (reason, retried)


def test_clips_are_cut_re_encoded_and_failures_listed(file_server, source_mp4, tmp_path):
    for vid in (GOOD, FLAKY, DELETED, GONE):
        file_server.files[f"/{vid}.mp4"] = source_mp4
    file_server.faults[f"/{FLAKY}.mp4"] = [503]
    file_server.faults[f"/{GONE}.mp4"] = [410]
    file_server.faults[f"/{DELETED}.mp4"] = [404]
    file_server.faults[f"/{LATE}.mp4"] = ["reset"] * 10
    out = tmp_path / "videos"
    names = [f"{GOOD}_2_12", f"{FLAKY}_0_10", f"{DELETED}_0_10", f"{GONE}_0_10", f"{LATE}_0_10"]
    assert main(_argv(file_server, out, *names)) == 0
    info = probe(out / f"{GOOD}.mp4")
    assert (info.video_codec, info.audio_codec) == ("h264", "aac") and abs(info.duration - 10) < 0.3
    assert (out / f"{FLAKY}.mp4").is_file()
    rows = {r[1]: r for r in read_tsv(out / "failures.tsv")[1:]}
    assert {v: r[2] for v, r in rows.items()} == {DELETED: "http 404", GONE: "http 410", LATE: "network"}
    assert rows[LATE][3].endswith("(after 2 tries)")
    assert sorted(p.name for p in out.glob("*.mp4")) == sorted([f"{GOOD}.mp4", f"{FLAKY}.mp4"])
    before = len(file_server.requests)
    assert main(_argv(file_server, out, f"{GOOD}_2_12", f"{FLAKY}_0_10")) == 0  # finished clips: no request
    assert len(file_server.requests) == before


def test_an_interrupted_clip_never_has_its_final_name(file_server, source_mp4, tmp_path):
    file_server.files[f"/{GOOD}.mp4"] = source_mp4 * 6  # the bytes after the first copy are ignored by ffmpeg
    file_server.delay = 0.2
    out = tmp_path / "videos"
    cmd = [sys.executable, "-m", "avvp_pipeline.cli", *_argv(file_server, out, f"{GOOD}_2_12")]
    child = subprocess.Popen(cmd, env={**os.environ, "AVVP_OFFLINE": "0"})
    deadline = time.monotonic() + 30
    while not list(out.glob(".download/*/source.*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert list(out.glob(".download/*/source.*")) and not (out / f"{GOOD}.mp4").exists()
    file_server.delay = 0
    assert main(_argv(file_server, out, f"{GOOD}_2_12")) == 0
    assert probe(out / f"{GOOD}.mp4").video_codec == "h264" and not (out / ".download" / GOOD).exists()


def test_offline_fetches_no_clip(tmp_path, caplog):
    assert main(["-q", "download", "videos", "--out", str(tmp_path), "--", f"{GOOD}_0_10"]) == 1
    assert "offline mode is on" in caplog.text and "https://www.youtube.com/watch?v=-goodclip01" in caplog.text
