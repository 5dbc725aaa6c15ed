"""Videos for web pages: whether a browser plays a file as it is, a playable copy when not, a thumbnail.

Browsers play H.264 (8-bit 4:2:0) with AAC or MP3 audio in MP4, and VP8/VP9/AV1 with Opus or Vorbis
in WebM; anything else (HEVC, MPEG-4 Part 2, 10-bit or 4:4:4 H.264, AVI, MKV, ...) gets an H.264/AAC
MP4 copy at its own resolution, its shorter side capped at 720 px. Every ffmpeg call has a time limit
(:func:`avvp_pipeline.media.probe.run_ffmpeg`).
"""

from __future__ import annotations

from pathlib import Path

from ..fileio import atomic_output
from .probe import MediaError, MediaInfo, ffmpeg_lines, run_ffmpeg

MAX_SIDE = 720  # the copy's shorter side, at most
_MP4_EXTENSIONS = (".mp4", ".m4v", ".mov")
_PLAYABLE = {  # container -> (video codecs, audio codecs) browsers decode
    "mp4": ({"h264"}, {"aac", "mp3"}),
    "webm": ({"vp8", "vp9", "av1"}, {"opus", "vorbis"}),
}
_PIXEL_FORMATS = {"yuv420p", "yuvj420p"}


def playable_as_is(path: str | Path, info: MediaInfo) -> bool:
    """Whether browsers play ``path`` (probed as ``info``, :func:`avvp_pipeline.media.probe.probe`) without a copy."""
    suffix = Path(path).suffix.lower()
    kind = (
        "mp4"
        if suffix in _MP4_EXTENSIONS and "mp4" in info.container.split(",")
        else "webm"
        if suffix == ".webm" and "webm" in info.container.split(",")
        else None
    )
    if kind is None or info.video_codec is None:
        return False
    video_ok, audio_ok = _PLAYABLE[kind]
    if info.video_codec not in video_ok or (info.audio_codec is not None and info.audio_codec not in audio_ok):
        return False
    return kind != "mp4" or info.pixel_format in _PIXEL_FORMATS


def browser_copy(src: str | Path, dst: str | Path, duration: float) -> Path:
    """Write an H.264/AAC MP4 of ``src`` to ``dst`` atomically (shorter side at most :data:`MAX_SIDE`,
    index at the front so that playback starts before the whole file is read)."""
    src, dst = Path(src), Path(dst)
    cap = (
        f"scale=w='if(lte(iw,ih),trunc(min(iw,{MAX_SIDE})/2)*2,-2)':h='if(lte(iw,ih),-2,trunc(min(ih,{MAX_SIDE})/2)*2)'"
    )
    with atomic_output(dst, keep_suffix=True) as tmp:
        args = [
            "-v",
            "error",
            "-nostdin",
            "-y",
            "-i",
            str(src),
            "-map",
            "0:v:0",
            "-map",
            "0:a:0?",
            "-vf",
            cap,
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "23",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            str(tmp),
        ]
        # real time on a slow CPU is ample for veryfast at 720p; a stuck decode is stopped
        proc = run_ffmpeg(args, src, 120.0 + 4.0 * duration, "making a browser-playable copy")
        if proc.returncode != 0:
            lines = ffmpeg_lines(proc.stderr.decode(errors="replace"))
            raise MediaError(
                f"{src}: ffmpeg could not make a browser-playable copy "
                f"({lines[-1] if lines else f'exit status {proc.returncode}'})"
            )
    return dst


def thumbnail(src: str | Path, dst: str | Path, at: float, width: int = 160) -> Path:
    """A JPEG of the frame at ``at`` seconds, ``width`` pixels wide, written to ``dst`` atomically."""
    src, dst = Path(src), Path(dst)
    with atomic_output(dst, keep_suffix=True) as tmp:
        args = [
            "-v",
            "error",
            "-nostdin",
            "-y",
            "-ss",
            f"{max(0.0, at):.3f}",
            "-i",
            str(src),
            "-frames:v",
            "1",
            "-vf",
            f"scale={width}:-2",
            "-q:v",
            "4",
            "-f",
            "image2",
            "-c:v",
            "mjpeg",
            str(tmp),
        ]
        proc = run_ffmpeg(args, src, 60.0, "taking a thumbnail")
        if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
            lines = ffmpeg_lines(proc.stderr.decode(errors="replace"))
            raise MediaError(
                f"{src}: ffmpeg could not take a thumbnail at {at:.1f} s ({lines[-1] if lines else 'no frame there'})"
            )
    return dst
