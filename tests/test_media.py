"""Frame sampling with decord and 16 kHz mono audio with ffmpeg-python, including bad inputs."""

import os
import re
import subprocess

import numpy as np
import pytest

from avvp_pipeline.media.audio import load_audio
from avvp_pipeline.media.decode import frame_indices, sample_frames
from avvp_pipeline.media.ffmpeg_bin import ffmpeg_exe
from avvp_pipeline.media.probe import MediaError, probe

pytestmark = pytest.mark.media  # the decoders: nearly every test here runs ffmpeg or decord


def test_frame_indices_pick_the_frame_on_screen():
    # 25 fps source: frame k starts at k/25; at 8 fps we want the frame shown at t = j/8
    starts = np.arange(250) / 25
    idx = frame_indices(starts, 8, 80)
    assert idx[0] == 0 and idx[1] == 3  # 0.125 s -> frame 3 (0.12 s)
    assert idx[79] == int(79 / 8 * 25)
    # short clip: indices past the end repeat the last frame
    assert frame_indices(np.arange(20) / 25, 8, 80)[-1] == 19


def test_sample_frames_shape_on_synthetic_clip(tiny_set):
    videos, _, spec = tiny_set
    clip = sorted(videos.glob("*.mp4"))[0]
    frames = sample_frames(clip)
    assert frames.shape == (80, spec.height, spec.width, 3) and frames.dtype == np.uint8


def test_sample_frames_real_llp_clip(real_clip):
    frames = sample_frames(real_clip)
    assert frames.shape == (80, 240, 320, 3)
    assert frames.std() > 10  # real content, not a blank


def test_load_audio_real_llp_clip(real_clip):
    samples, has_audio = load_audio(real_clip)
    assert has_audio and samples.shape == (160000,) and samples.dtype == np.float32
    assert 0.01 < np.abs(samples).max() < 4.0  # AAC decoding may overshoot full scale slightly


@pytest.mark.parametrize(
    "content,problem", [(b"", "empty file"), (b"not a video at all" * 100, "not a media file ffmpeg recognises")]
)
def test_bad_files_name_the_file(tmp_path, content, problem):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(content)
    with pytest.raises(MediaError, match="broken.mp4") as info:
        sample_frames(bad)
    assert problem in str(info.value)
    with pytest.raises(MediaError, match="broken.mp4"):
        load_audio(bad)


def test_missing_file(tmp_path):
    with pytest.raises(MediaError, match="no such file"):
        sample_frames(tmp_path / "absent.mp4")


def _mp4(path, *extra):
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=96x64:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=16000",
            "-t",
            "4",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            *extra,
            str(path),
        ],
        check=True,
    )
    return path


def _reasons(path) -> list[str]:
    """What probe, sample_frames and load_audio each say about ``path``."""
    reasons = []
    for fn in (probe, sample_frames, load_audio):
        with pytest.raises(MediaError) as info:
            fn(path)
        reasons.append(str(info.value))
    return reasons


def test_truncated_and_non_media_files_get_distinct_reasons(tmp_path):
    good = _mp4(tmp_path / "good.mp4").read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(good[: int(len(good) * 0.3)])  # the index (moov) comes last: it is cut off
    text = tmp_path / "notes.mp4"
    text.write_text("a shopping list, not a video\n" * 40)
    for reason in _reasons(truncated):
        assert reason.startswith(f"{truncated}: truncated or damaged media file") and "moov atom not found" in reason
    for reason in _reasons(text):
        assert reason.startswith(f"{text}: not a media file ffmpeg recognises")
    as_txt = text.rename(tmp_path / "notes.txt")  # ffmpeg would render a .txt as ANSI art: still not media
    assert all(r.startswith(f"{as_txt}: not a media file ffmpeg recognises (it holds text)") for r in _reasons(as_txt))


def test_an_mp4_cut_after_its_index_is_reported_damaged(tmp_path):
    good = _mp4(tmp_path / "good.mp4", "-movflags", "+faststart").read_bytes()  # index first: it survives
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good[: int(len(good) * 0.3)])
    assert probe(cut).duration == pytest.approx(4.0, abs=0.1)  # the header still promises 4 s
    with pytest.raises(MediaError, match=r"cut\.mp4: truncated or damaged media file: its video data ends"):
        sample_frames(cut)


def test_audio_only_file_has_no_video_stream(tmp_path):
    path = tmp_path / "song.m4a"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=16000",
            "-t",
            "2",
            str(path),
        ],
        check=True,
    )
    with pytest.raises(MediaError, match=r"song\.m4a: no video stream \(it holds audio only\)"):
        sample_frames(path)
    assert load_audio(path)[1]


def test_links_folders_and_pipes_are_refused_before_ffmpeg_runs(tmp_path):
    (tmp_path / "dangling.mp4").symlink_to(tmp_path / "gone.mp4")
    (tmp_path / "folder.mp4").mkdir()
    os.mkfifo(tmp_path / "pipe.mp4")  # opening it would block until someone writes
    for name, reason in [
        ("dangling.mp4", "dangling symbolic link"),
        ("folder.mp4", "a folder, not a video file"),
        ("pipe.mp4", "a named pipe (FIFO), not a regular file"),
    ]:
        with pytest.raises(MediaError, match=f"{name}: {re.escape(reason)}"):
            probe(tmp_path / name)


def test_video_without_audio_track_gives_flagged_silence(tmp_path):
    path = tmp_path / "silent.mp4"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=10:duration=3",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            str(path),
        ],
        check=True,
    )
    samples, has_audio = load_audio(path)
    assert not has_audio and samples.shape == (160000,) and not samples.any()
    # a 3-s clip still gives 80 frames: the last frame repeats
    frames = sample_frames(path)
    assert frames.shape[0] == 80 and np.array_equal(frames[-1], frames[30])


@pytest.mark.parametrize("layout,channels,rate", [("mono", 1, 8000), ("stereo", 2, 44100), ("5.1", 6, 48000)])
def test_any_channel_layout_and_rate_is_averaged_to_16k_mono(tmp_path, layout, channels, rate):
    # a 1 kHz tone in channel 0 only: the equal-weight channel mean scales it by 1/channels
    path = tmp_path / f"{layout}.mp4"
    expr = "|".join(["0.5*sin(2*PI*1000*t)"] + ["0"] * (channels - 1))
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"aevalsrc={expr}:s={rate}:d=4:c={layout}",
            "-f",
            "lavfi",
            "-i",
            "color=c=black:s=64x48:d=4",
            "-shortest",
            "-c:a",
            "pcm_s16le",
            "-c:v",
            "libx264",
            str(path.with_suffix(".mkv")),
        ],
        check=True,
    )
    samples, has_audio = load_audio(path.with_suffix(".mkv"))
    assert has_audio and samples.shape == (160000,)
    rms = np.sqrt(np.mean(samples[1000:60000] ** 2))
    assert rms == pytest.approx(0.5 / np.sqrt(2) / channels, rel=0.05)
    assert not samples[70000:].any()  # a 4-s track is zero-padded to 10 s
    spectrum = np.abs(np.fft.rfft(samples[:64000]))
    assert abs(np.argmax(spectrum) * 16000 / 64000 - 1000) < 5


def test_grayscale_video_gives_rgb_frames(tmp_path):
    path = tmp_path / "gray.mp4"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=10:duration=2",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "gray",
            str(path),
        ],
        check=True,
    )
    frames = sample_frames(path)
    assert frames.shape == (80, 48, 64, 3)
    assert np.array_equal(frames[..., 0], frames[..., 1]) and np.array_equal(frames[..., 1], frames[..., 2])


def test_a_file_is_probed_once_when_the_caller_passes_what_it_holds(real_clip, monkeypatch):
    from avvp_pipeline.media import audio as audio_mod
    from avvp_pipeline.media import decode as decode_mod

    info = probe(real_clip)
    want = sample_frames(real_clip, num_frames=16), load_audio(real_clip)[0]

    def refuse(*args, **kwargs):
        raise AssertionError("probed again")

    monkeypatch.setattr(decode_mod, "probe", refuse)
    monkeypatch.setattr(audio_mod, "probe", refuse)
    np.testing.assert_array_equal(sample_frames(real_clip, num_frames=16, info=info), want[0])
    np.testing.assert_array_equal(load_audio(real_clip, info=info)[0], want[1])


def test_ffprobe_json_gives_the_same_media_info_as_the_ffmpeg_log(tmp_path):
    from avvp_pipeline.media.probe import MediaInfo, info_from_ffmpeg_log, info_from_ffprobe

    log = """Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'x.mp4':
  Duration: 00:00:10.03, start: 0.000000, bitrate: 604 kb/s
  Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 320x240, 458 kb/s, 29.92 fps
      Side data:
        displaymatrix: rotation of -90.00 degrees
  Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, stereo, fltp, 133 kb/s (default)
"""
    doc = {
        "format": {"format_name": "mov,mp4,m4a,3gp,3g2,mj2", "duration": "10.030000"},
        "streams": [
            {
                "codec_type": "video",
                "codec_name": "h264",
                "pix_fmt": "yuv420p",
                "width": 320,
                "height": 240,
                "side_data_list": [{"side_data_type": "Display Matrix", "rotation": -90}],
            },
            {
                "codec_type": "audio",
                "codec_name": "aac",
                "sample_rate": "44100",
                "channels": 2,
                "channel_layout": "stereo",
            },
        ],
    }
    path = tmp_path / "x.mp4"
    want = MediaInfo(320, 240, 270, 2, 44100, 10.03, "mov,mp4,m4a,3gp,3g2,mj2", "h264", "yuv420p", "aac")
    assert info_from_ffprobe(path, doc) == info_from_ffmpeg_log(path, log) == want
    old_tag = {**doc, "streams": [{**doc["streams"][0], "side_data_list": [], "tags": {"rotate": "90"}}]}
    assert info_from_ffprobe(path, old_tag).rotation == 270 and info_from_ffprobe(path, old_tag).audio_channels == 0
    with pytest.raises(MediaError, match=r"x\.mp4: no video stream \(it holds audio only\)"):
        info_from_ffprobe(path, {**doc, "streams": doc["streams"][1:]})
    assert info_from_ffprobe(path, {**doc, "streams": doc["streams"][1:]}, need_video=False).audio_rate == 44100
    with pytest.raises(MediaError, match="holds text"):
        info_from_ffprobe(path, {"format": {"format_name": "tty"}, "streams": []})
