"""One planned clip rendered and encoded to an mp4 file (:func:`write_clip`): H.264 yuv420p + AAC."""

from __future__ import annotations

import os
import subprocess
from fractions import Fraction
from pathlib import Path

from avvp_pipeline.data.synth.audio import render_audio
from avvp_pipeline.data.synth.clip_plan import Clip
from avvp_pipeline.data.synth.frames import render_frames
from avvp_pipeline.data.synth.spec import SynthSpec


def _rate(fps: float) -> str:
    fr = Fraction(fps).limit_denominator(100000)
    return str(fr.numerator) if fr.denominator == 1 else f"{fr.numerator}/{fr.denominator}"


def write_clip(spec: SynthSpec, clip: Clip, path: str | os.PathLike[str]) -> None:
    """Render ``clip`` and encode it to the mp4 file ``path`` (H.264 yuv420p + AAC), atomically.

    The file is written under a temporary name in the same folder and renamed when complete;
    an ffmpeg failure raises RuntimeError naming the clip and quoting ffmpeg's stderr.
    """
    from avvp_pipeline.media.ffmpeg_bin import ffmpeg_exe

    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_video = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp_audio = path.with_name(f".{path.name}.{os.getpid()}.f32")
    frames = render_frames(spec, clip)
    audio = render_audio(spec, clip)
    cmd = [
        ffmpeg_exe(),
        "-nostdin",
        "-hide_banner",
        "-loglevel",
        "error",
        "-y",
        "-f",
        "rawvideo",
        "-pix_fmt",
        "rgb24",
        "-s",
        f"{spec.width}x{spec.height}",
        "-r",
        _rate(spec.fps),
        "-i",
        "pipe:0",
        "-f",
        "f32le",
        "-ar",
        str(spec.sample_rate),
        "-ac",
        "1",
        "-i",
        str(tmp_audio),
        "-map",
        "0:v:0",
        "-map",
        "1:a:0",
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-preset",
        "veryfast",
        "-crf",
        "23",
        "-g",
        "48",
        "-c:a",
        "aac",
        "-aac_coder",
        "fast",
        "-b:a",
        "96k",
        "-ar",
        str(spec.sample_rate),
        "-shortest",
        "-t",
        str(clip.duration),
        "-threads",
        "1",
        "-f",
        "mp4",
        str(tmp_video),
    ]
    try:
        audio.astype("<f4").tofile(tmp_audio)
        try:
            proc = subprocess.run(
                cmd, input=frames.tobytes(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
            )
        except OSError as exc:
            raise RuntimeError(f"synth: cannot run ffmpeg for clip {clip.filename}: {exc}") from exc
        if proc.returncode != 0 or not tmp_video.is_file():
            tail = proc.stderr.decode("utf-8", "replace").strip()[-2000:]
            raise RuntimeError(f"synth: ffmpeg failed on clip {clip.filename} (exit {proc.returncode}): {tail}")
        os.replace(tmp_video, path)
    finally:
        for p in (tmp_audio, tmp_video):
            try:
                p.unlink()
            except FileNotFoundError:
                pass
