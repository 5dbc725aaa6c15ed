"""Frame sampling with decord and 16 kHz mono audio with ffmpeg-python, including bad inputs."""
import subprocess

import numpy as np
import pytest

from avvp_pipeline.media.audio import load_audio
from avvp_pipeline.media.decode import MediaError, frame_indices, sample_frames
from avvp_pipeline.media.ffmpeg_bin import ffmpeg_exe


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


@pytest.mark.parametrize("content,problem", [(b"", "empty file"), (b"not a video at all" * 100, "no video stream")])
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


def test_video_without_audio_track_gives_flagged_silence(tmp_path):
    path = tmp_path / "silent.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=3",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)], check=True)
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
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", f"aevalsrc={expr}:s={rate}:d=4:c={layout}",
                    "-f", "lavfi", "-i", "color=c=black:s=64x48:d=4", "-shortest", "-c:a", "pcm_s16le", "-c:v",
                    "libx264", str(path.with_suffix(".mkv"))], check=True)
    samples, has_audio = load_audio(path.with_suffix(".mkv"))
    assert has_audio and samples.shape == (160000,)
    rms = np.sqrt(np.mean(samples[1000:60000] ** 2))
    assert rms == pytest.approx(0.5 / np.sqrt(2) / channels, rel=0.05)
    assert not samples[70000:].any()  # a 4-s track is zero-padded to 10 s
    spectrum = np.abs(np.fft.rfft(samples[:64000]))
    assert abs(np.argmax(spectrum) * 16000 / 64000 - 1000) < 5


def test_grayscale_video_gives_rgb_frames(tmp_path):
    path = tmp_path / "gray.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48:rate=10:duration=2",
                    "-c:v", "libx264", "-pix_fmt", "gray", str(path)], check=True)
    frames = sample_frames(path)
    assert frames.shape == (80, 48, 64, 3)
    assert np.array_equal(frames[..., 0], frames[..., 1]) and np.array_equal(frames[..., 1], frames[..., 2])
