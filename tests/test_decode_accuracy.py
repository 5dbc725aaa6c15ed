"""Frame accuracy: sample_frames returns the frames that ffmpeg itself displays at the sampled times.

Clips are frame-coded: frame k shows k in binary as black/white columns, so the index of any
decoded frame can be read back from its pixels. The reference is ffmpeg's own sequential decode
(all frames, with their presentation timestamps from the showinfo filter), to which the same
timestamp rule is applied.
"""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from avvp_pipeline.media.decode import frame_indices, sample_frames
from avvp_pipeline.media.ffmpeg_bin import ffmpeg_exe
from avvp_pipeline.media.probe import probe

pytestmark = pytest.mark.media  # the decoders: nearly every test here runs ffmpeg or decord

W, H, BITS = 160, 96, 10


def coded_frame(k: int) -> np.ndarray:
    img = np.zeros((H, W, 3), np.uint8)
    bw = W // BITS
    for b in range(BITS):
        if (k >> b) & 1:
            img[:, b * bw : (b + 1) * bw] = 255
    img[:8, :8] = (255, 0, 0)  # a red corner marks the top-left (rotation check)
    return img


def read_index(frame: np.ndarray) -> int:
    bw = frame.shape[1] // BITS
    return sum(int(frame[10:, b * bw + 3 : (b + 1) * bw - 3].mean() > 127) << b for b in range(BITS))


def encode(path, rate: str, n: int, *codec_args: str) -> None:
    cmd = [
        ffmpeg_exe(),
        "-y",
        "-v",
        "error",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{W}x{H}",
        "-r",
        rate,
        "-i",
        "pipe:0",
        *codec_args,
        str(path),
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.communicate(b"".join(coded_frame(k).tobytes() for k in range(n)))
    assert proc.returncode == 0


H264_BFRAMES = (
    "-c:v",
    "libx264",
    "-pix_fmt",
    "yuv420p",
    "-bf",
    "8",
    "-g",
    "300",
    "-x264-params",
    "open_gop=1:b-pyramid=normal",
    "-crf",
    "18",
)


def ffmpeg_reference(path, fps=8.0, num_frames=80) -> list[int]:
    """Indices read from the frames ffmpeg displays at t_0 + k / fps (same rule, ffmpeg's decode)."""
    proc = subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "info",
            "-i",
            str(path),
            "-vf",
            "showinfo",
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:",
        ],
        capture_output=True,
    )
    info = probe(path)
    w, h, rot = info.width, info.height, info.rotation
    if rot in (90, 270):
        w, h = h, w
    frames = np.frombuffer(proc.stdout, np.uint8).reshape(-1, h, w, 3)
    pts = np.array([float(x) for x in re.findall(rb"pts_time:\s*(-?[\d.]+)", proc.stderr)])
    assert len(pts) == len(frames) > 0
    return [read_index(frames[i]) for i in frame_indices(pts, fps, num_frames)]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("coded")
    out = {}
    for name, rate, fps in (
        ("23.976", "24000/1001", 24000 / 1001),
        ("25", "25", 25.0),
        ("29.97", "30000/1001", 30000 / 1001),
        ("60", "60", 60.0),
    ):
        out[name] = d / f"cfr_{name}.mp4"
        encode(out[name], rate, int(round(10 * fps)) + 2, *H264_BFRAMES)
    # a clip cut without re-encoding: an edit list whose first packets (before 1.3 s) are pre-roll
    out["cut"] = d / "cut.mp4"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-y",
            "-v",
            "error",
            "-ss",
            "1.3",
            "-i",
            str(out["29.97"]),
            "-t",
            "10",
            "-c",
            "copy",
            str(out["cut"]),
        ],
        check=True,
    )
    # variable frame rate: every 3rd frame, except all frames in 100..160
    out["vfr"] = d / "vfr.mp4"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-y",
            "-v",
            "error",
            "-i",
            str(out["29.97"]),
            "-vf",
            "select='not(mod(n\\,3))+between(n\\,100\\,160)'",
            "-fps_mode",
            "vfr",
            *H264_BFRAMES,
            str(out["vfr"]),
        ],
        check=True,
    )
    return out


@pytest.mark.parametrize("name", ["23.976", "25", "29.97", "60", "cut", "vfr"])
def test_frames_match_ffmpeg(clips, name):
    got = [read_index(f) for f in sample_frames(clips[name])]
    assert got == ffmpeg_reference(clips[name])


def test_cfr_frames_are_the_ones_on_screen(clips):
    # 29.97 fps: frame k is on screen during [k/29.97, (k+1)/29.97)
    got = [read_index(f) for f in sample_frames(clips["29.97"])]
    assert got == [int(np.floor(k / 8 * 30000 / 1001 + 1e-9)) for k in range(80)]


def test_naive_seeking_decoder_is_wrong_on_the_cut_clip(clips):
    """What the test above guards against: decord's frame table and random access disagree with
    what is displayed on a clip with an edit list (this is why sample_frames never seeks)."""
    import decord

    vr = decord.VideoReader(str(clips["cut"]), num_threads=1)
    table = vr.get_frame_timestamp(np.arange(len(vr)))[:, 0]
    idx = frame_indices(table, 8, 80)
    naive = [read_index(vr[int(i)].asnumpy()) for i in np.random.default_rng(0).permutation(idx)]
    assert sorted(naive) != sorted(ffmpeg_reference(clips["cut"]))


def test_rotation_metadata_is_applied(tmp_path, clips):
    rotated = tmp_path / "rotated.mp4"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-y",
            "-v",
            "error",
            "-display_rotation",
            "90",
            "-i",
            str(clips["25"]),
            "-c",
            "copy",
            str(rotated),
        ],
        check=True,
    )
    assert probe(rotated).rotation == 90
    frames = sample_frames(rotated)
    assert frames.shape[1:3] == (W, H)  # portrait now
    ref = subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-i",
            str(rotated),
            "-frames:v",
            "1",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:",
        ],
        capture_output=True,
    ).stdout
    first = np.frombuffer(ref, np.uint8).reshape(W, H, 3)
    assert np.abs(frames[0].astype(int) - first.astype(int)).mean() < 3  # same orientation as ffmpeg's


def test_huge_frames_are_downscaled_by_the_decoder(tmp_path):
    big = tmp_path / "big.mp4"
    subprocess.run(
        [
            ffmpeg_exe(),
            "-y",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=1920x1080:rate=8:duration=2",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            str(big),
        ],
        check=True,
    )
    assert sample_frames(big, num_frames=8, max_short_side=360).shape == (8, 360, 640, 3)
    assert sample_frames(big, num_frames=8, max_short_side=None).shape == (8, 1080, 1920, 3)


def test_real_llp_clip_matches_ffmpeg(real_clip):
    proc = subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "info",
            "-i",
            str(real_clip),
            "-vf",
            "showinfo",
            "-fps_mode",
            "passthrough",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "pipe:",
        ],
        capture_output=True,
    )
    frames = np.frombuffer(proc.stdout, np.uint8).reshape(-1, 240, 320, 3).astype(np.int16)
    pts = np.array([float(x) for x in re.findall(rb"pts_time:\s*(-?[\d.]+)", proc.stderr)])
    want = frames[frame_indices(pts, 8, 80)]
    got = sample_frames(real_clip).astype(np.int16)
    # the same frames: far closer to ffmpeg's frame than to its neighbours (colour conversion may differ by 1-2)
    assert np.abs(got - want).mean(axis=(1, 2, 3)).max() < 3
