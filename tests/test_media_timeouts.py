"""Every decode in the media layer ends: ffmpeg subprocesses are killed after a timeout, and decord's
in-process frame decoding stops once its time budget is spent."""

import errno
import os
import re
import subprocess
import time

import numpy as np
import pytest

from avvp_pipeline.media import audio as audio_mod
from avvp_pipeline.media import decode as decode_mod
from avvp_pipeline.media import probe as probe_mod
from avvp_pipeline.media.audio import load_audio
from avvp_pipeline.media.decode import iter_frames, sample_frames
from avvp_pipeline.media.ffmpeg_bin import ffmpeg_exe
from avvp_pipeline.media.jobs import decode_audio, decode_visual
from avvp_pipeline.media.pool import decoded as _decoded
from avvp_pipeline.media.probe import MediaError, probe


@pytest.fixture
def clip(tmp_path):
    path = tmp_path / "clip.mp4"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=16000",
            "-t",
            "10",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            str(path),
        ],
        check=True,
    )
    return path


@pytest.fixture
def hanging_ffmpeg(tmp_path, monkeypatch):
    """Make ffmpeg hang when it decodes (writes to ``pipe:``), as on a stalled network mount; ``ffmpeg -i``
    (probing) still runs the real binary. Returns a function that makes probing hang too."""
    real = ffmpeg_exe()
    script = tmp_path / "ffmpeg"

    def install(hang_on_probe: bool = False) -> None:
        test = "true" if hang_on_probe else '[ "$a" = pipe: ]'
        script.write_text(f'#!/bin/sh\nfor a in "$@"; do if {test}; then exec sleep 60; fi; done\nexec "{real}" "$@"\n')
        script.chmod(0o755)

    install()
    monkeypatch.setenv("AVVP_FFMPEG", str(script))
    ffmpeg_exe.cache_clear()
    yield install
    ffmpeg_exe.cache_clear()


def _no_reader_left(fifo) -> bool:
    """True when nobody has ``fifo`` open for reading (opening it to write without blocking fails)."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        return exc.errno == errno.ENXIO
    os.close(fd)
    return False


def test_probe_of_a_pipe_nobody_writes_to_is_stopped(tmp_path, monkeypatch):
    fifo = tmp_path / "stalled.mp4"
    os.mkfifo(fifo)
    # check_file refuses pipes before ffmpeg starts; let this one through to see the real ffmpeg block on it
    monkeypatch.setattr(probe_mod, "check_file", lambda path: None)
    monkeypatch.setattr(probe_mod, "PROBE_TIMEOUT", 1.0)
    t0 = time.monotonic()
    with pytest.raises(MediaError, match=r"stalled\.mp4: ffmpeg did not finish within 1 s"):
        probe(fifo)
    assert time.monotonic() - t0 < 10
    assert _no_reader_left(fifo)  # ffmpeg was killed, not left blocked


def test_probe_of_a_file_whose_ffmpeg_hangs_is_stopped(clip, hanging_ffmpeg):
    hanging_ffmpeg(hang_on_probe=True)
    t0 = time.monotonic()
    with pytest.raises(MediaError, match=r"clip\.mp4: ffmpeg did not finish within 0\.5 s"):
        probe(clip, timeout=0.5)
    assert time.monotonic() - t0 < 10


def test_audio_decode_that_hangs_is_stopped(clip, hanging_ffmpeg, monkeypatch):
    assert probe(clip).audio_channels == 1  # probing still works: only the decode hangs
    with pytest.raises(MediaError, match=r"clip\.mp4: ffmpeg did not finish within 1 s \(decoding the soundtrack"):
        load_audio(clip, timeout=1.0)
    monkeypatch.setattr(audio_mod, "AUDIO_TIMEOUT_BASE", 0.5)
    monkeypatch.setattr(audio_mod, "AUDIO_TIMEOUT_PER_SECOND", 0.1)  # 0.5 + 0.1 * 10 s
    t0 = time.monotonic()
    with pytest.raises(MediaError, match=r"within 1\.5 s"):
        load_audio(clip)
    assert time.monotonic() - t0 < 10


def test_audio_timeout_scales_with_the_duration():
    assert audio_mod.audio_timeout(10.0) == 80.0 and audio_mod.audio_timeout(3600.0) == 7260.0


def test_frame_decoding_stops_when_its_budget_is_spent(clip, monkeypatch):
    import decord

    real = decord.VideoReader.next

    def slow(self):  # a decoder that crawls: 0.03 s per frame read
        time.sleep(0.03)
        return real(self)

    monkeypatch.setattr(decord.VideoReader, "next", slow)
    t0 = time.monotonic()
    with pytest.raises(MediaError, match=r"clip\.mp4: decoding frames did not finish within 1 s") as info:
        sample_frames(clip, timeout=1.0)  # 80 frames kept: 2.4 s of decoding
    assert time.monotonic() - t0 < 2.5
    done = int(re.search(r"stopped after (\d+) of 80 frames", str(info.value)).group(1))
    assert 0 < done < 80  # stopped between chunks, not after the last one


def test_time_the_caller_spends_between_frames_does_not_count(clip):
    frames = iter_frames(clip, 8.0, 80, timeout=1.0)
    got = []
    for frame in frames:
        got.append(frame)
        time.sleep(0.02)  # 1.6 s in all, more than the budget: only decoding counts
    np.testing.assert_array_equal(np.stack(got), sample_frames(clip))


def test_default_budgets_apply_when_extraction_decodes_inline(clip, hanging_ffmpeg, monkeypatch):
    # `avvp extract --threads 1` runs the decode jobs inline (no pool timeout): the media layer's own limits apply
    monkeypatch.setattr(decode_mod, "FRAMES_TIMEOUT_BASE", 0.0)
    monkeypatch.setattr(decode_mod, "FRAMES_TIMEOUT_PER_SECOND", 0.0)
    monkeypatch.setattr(audio_mod, "AUDIO_TIMEOUT_BASE", 0.5)
    monkeypatch.setattr(audio_mod, "AUDIO_TIMEOUT_PER_SECOND", 0.0)
    [(path, frames, reason)] = list(_decoded(decode_visual, [(str(clip), 8.0, 80)], workers=0))
    assert frames is None and "decoding frames did not finish within 0 s" in reason
    [(path, samples, reason)] = list(_decoded(decode_audio, [(str(clip), 16000, 10.0)], workers=0))
    assert samples is None and "ffmpeg did not finish within 0.5 s" in reason
