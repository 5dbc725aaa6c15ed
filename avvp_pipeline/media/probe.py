"""What a media file holds: ffprobe's JSON (``-show_format -show_streams``, the command
``ffmpeg.probe`` of ffmpeg-python runs) when an ffprobe belongs with the ffmpeg in use, else the
stream summary ``ffmpeg -i`` prints (imageio-ffmpeg ships no ffprobe). ffprobe runs through
:func:`run_ffmpeg` rather than ``ffmpeg.probe``, which has no time limit. Probe a file once and pass
the :class:`MediaInfo` on (``iter_frames(..., info=)``, ``load_audio(..., info=)``).

Every ffmpeg subprocess of the media layer runs through :func:`run_ffmpeg`, which stops it after a
timeout: ffmpeg blocks for ever on a pipe nobody writes to or on a stalled network mount. When a
file cannot be opened, the reason is read from what ffmpeg prints: a file whose content matches no
format ("not a media file ffmpeg recognises") is told apart from a recognised container cut short
or damaged ("truncated or damaged media file").
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .ffmpeg_bin import ffmpeg_exe, ffprobe_exe

PROBE_TIMEOUT = 60.0  # seconds for ffprobe or ``ffmpeg -i``, which read only the headers

_LAYOUT_CHANNELS = {
    "mono": 1,
    "stereo": 2,
    "2.1": 3,
    "3.0": 3,
    "3.0(back)": 3,
    "quad": 4,
    "quad(side)": 4,
    "4.0": 4,
    "4.1": 5,
    "5.0": 5,
    "5.0(side)": 5,
    "5.1": 6,
    "5.1(side)": 6,
    "6.0": 6,
    "6.1": 7,
    "7.0": 7,
    "7.1": 8,
    "7.1(wide)": 8,
    "downmix": 2,
}

NOT_MEDIA = "not a media file ffmpeg recognises"
DAMAGED = "truncated or damaged media file"
# ffmpeg's messages for a recognised container that ends early or is broken inside its header
_DAMAGE_SIGNS = (
    "moov atom not found",
    "File ended prematurely",
    "error reading header",
    "partial file",
    "Input/output error",
    "EBML header parsing failed",
)


class MediaError(RuntimeError):
    """A media file that cannot be decoded; the message names the file and the problem."""


@dataclass(frozen=True)
class MediaInfo:
    """First video and audio stream of a file; ``audio_channels`` is 0 without an audio stream.
    The codecs are ffmpeg's names (``None`` without that stream)."""

    width: int
    height: int
    rotation: int  # display rotation, degrees counter-clockwise: 0, 90, 180 or 270
    audio_channels: int
    audio_rate: int
    duration: float = 0.0  # seconds, from the container header (0 when it states none)
    container: str = ""  # ffmpeg's format names, e.g. "mov,mp4,m4a,3gp,3g2,mj2"
    video_codec: str | None = None
    pixel_format: str | None = None
    audio_codec: str | None = None


#: A last part of a segment shorter than this many seconds (a container's rounding, an audio priming frame)
#: adds no segment.
SEGMENT_SLACK = 0.1


def segments_in(duration: float, segment_seconds: float = 1.0) -> int:
    """The segments of ``duration`` seconds: every segment begun counts (the last one padded), but a last
    part under :data:`SEGMENT_SLACK` s, so a "10-s" clip of 10.03 s has 10 one-second segments; at least 1."""
    return max(1, math.ceil((duration - SEGMENT_SLACK) / segment_seconds))


def video_segments(path: str | Path, info: MediaInfo) -> int:
    """The one-second segments of a whole video (:func:`segments_in`); MediaError when the container
    states no duration."""
    if info.duration <= 0:
        raise MediaError(f"{path}: the container states no duration, so its length in segments is not known")
    return segments_in(info.duration)


def check_file(path: Path) -> None:
    """Raise MediaError unless ``path`` is a non-empty regular file (or a link to one).

    Pipes and devices are refused: a file is read several times (probe, frames, soundtrack), and
    opening a pipe that nobody writes to would block."""
    if path.is_symlink() and not path.exists():
        raise MediaError(f"{path}: dangling symbolic link (to {path.readlink()})")
    try:
        st = path.stat()
    except FileNotFoundError:
        raise MediaError(f"{path}: no such file") from None
    except OSError as exc:
        raise MediaError(f"{path}: cannot read it ({exc.strerror})") from exc
    if stat.S_ISDIR(st.st_mode):
        raise MediaError(f"{path}: a folder, not a video file")
    if not stat.S_ISREG(st.st_mode):
        kind = "a named pipe (FIFO)" if stat.S_ISFIFO(st.st_mode) else "a socket or device"
        raise MediaError(f"{path}: {kind}, not a regular file; save the video to a file first")
    if st.st_size == 0:
        raise MediaError(f"{path}: empty file (0 bytes)")


@contextmanager
def utf8_path(path: Path) -> Iterator[Path]:
    """``path`` itself when its name is valid UTF-8, else a symbolic link to it with an ASCII name in a
    temporary folder, removed afterwards: decord and ffmpeg-python accept only UTF-8 paths, while a
    Linux file name can be any bytes."""
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        yield path
        return
    suffix = path.suffix if path.suffix.isascii() and path.suffix.isprintable() else ""
    with tempfile.TemporaryDirectory(prefix="avvp-name-") as tmp:
        link = Path(tmp) / f"video{suffix}"
        link.symlink_to(path.absolute())
        yield link


def run_ffmpeg(
    args: list[str], path: Path, timeout: float, what: str, exe: str | None = None
) -> subprocess.CompletedProcess:
    """Run ``ffmpeg ARGS`` (or ``exe ARGS``) capturing its output (bytes); MediaError naming ``path``
    when it has not finished ``what`` within ``timeout`` seconds (it is killed)."""
    cmd = [exe or ffmpeg_exe(), *args]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        raise MediaError(
            f"{path}: {'ffprobe' if exe else 'ffmpeg'} did not finish within {timeout:g} s ({what}); stopped it "
            "(is the file on a network mount that stalled?)"
        ) from None
    except BaseException:
        _stop(proc)
        raise
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def _stop(proc: subprocess.Popen) -> None:
    """Kill ``proc`` and reap it, waiting a few seconds at most: a process blocked in the kernel (I/O on
    a dead mount) dies only when its I/O returns, and is then left behind rather than waited for."""
    proc.kill()
    try:
        proc.communicate(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def ffmpeg_lines(err: str) -> list[str]:
    """ffmpeg's stderr lines without the ``[in#0 @ 0x...]`` prefixes, blank lines dropped."""
    lines = (re.sub(r"^(\[[^\]]*@ 0x[0-9a-f]+\] )+", "", line).strip() for line in err.splitlines())
    return [line for line in lines if line]


def open_failure(path: Path, err: str) -> MediaError:
    """The MediaError for a file ffmpeg could not open, from what it printed."""
    lines = [
        line.removeprefix("Error opening input: ")
        for line in ffmpeg_lines(err)
        if not line.startswith("Error opening input file")
    ]
    damage = next((line for line in lines if any(s in line for s in _DAMAGE_SIGNS)), None)
    last = lines[-1] if lines else "no message"
    if any("detected only with low score" in line for line in lines):  # a guess from the extension alone
        return MediaError(f"{path}: {NOT_MEDIA} (its content matches no known format; ffmpeg: {last})")
    if damage and "moov atom not found" in damage:
        return MediaError(
            f"{path}: {DAMAGED}: the MP4 index (moov atom) is missing, as when a download "
            f"or recording stopped early (ffmpeg: {damage})"
        )
    if damage:
        return MediaError(f"{path}: {DAMAGED}: its header is cut short or broken (ffmpeg: {damage})")
    if "Invalid data found when processing input" in last:
        return MediaError(f"{path}: {NOT_MEDIA} (ffmpeg: {last})")
    return MediaError(f"{path}: ffmpeg cannot open it ({last})")


def probe(path: str | Path, need_video: bool = True, timeout: float | None = None) -> MediaInfo:
    """What ``path`` holds; MediaError when it is unreadable (or has no video). ``timeout`` defaults to
    :data:`PROBE_TIMEOUT` seconds."""
    path = Path(path)
    check_file(path)
    timeout = PROBE_TIMEOUT if timeout is None else timeout
    ffprobe = ffprobe_exe()
    if ffprobe:
        proc = run_ffmpeg(
            ["-hide_banner", "-show_format", "-show_streams", "-of", "json", str(path)],
            path,
            timeout,
            "reading the stream summary",
            exe=ffprobe,
        )
        if proc.returncode != 0:
            raise open_failure(path, proc.stderr.decode(errors="replace"))
        return info_from_ffprobe(path, json.loads(proc.stdout.decode(errors="replace")), need_video)
    proc = run_ffmpeg(["-hide_banner", "-i", str(path)], path, timeout, "reading the stream summary")
    return info_from_ffmpeg_log(path, proc.stderr.decode(errors="replace"), need_video)


def _no_stream(path: Path, need_video: bool, streams: list[str]) -> MediaError:
    held = f"it holds {', '.join(sorted(set(streams)))} only" if streams else "it holds no streams"
    return MediaError(f"{path}: no {'video' if need_video else 'audio or video'} stream ({held})")


def info_from_ffprobe(path: Path, doc: dict, need_video: bool = True) -> MediaInfo:
    """:class:`MediaInfo` from ffprobe's ``-show_format -show_streams -of json`` document."""
    fmt = doc.get("format") or {}
    if fmt.get("format_name") == "tty":  # ffmpeg's fallback for text: it would render it as ANSI art
        raise MediaError(f"{path}: {NOT_MEDIA} (it holds text)")
    streams = doc.get("streams") or []
    video = next(
        (s for s in streams if s.get("codec_type") == "video" and not (s.get("disposition") or {}).get("attached_pic")),
        None,
    )
    audio = next((s for s in streams if s.get("codec_type") == "audio"), None)
    if (need_video and not video) or (not video and not audio):
        raise _no_stream(path, need_video, [str(s.get("codec_type", "unknown")) for s in streams])
    rotation = 0
    if video:
        # display matrix side data: degrees clockwise-negative as ffmpeg's "rotation of -90 degrees" says;
        # older files carry a "rotate" tag (degrees clockwise)
        side = next((d for d in video.get("side_data_list") or [] if "rotation" in d), None)
        if side is not None:
            rotation = int(round(float(side["rotation"]))) % 360
        elif "rotate" in (video.get("tags") or {}):
            rotation = -int(round(float(video["tags"]["rotate"]))) % 360
    channels = int(audio.get("channels") or 0) if audio else 0
    if audio and channels == 0:
        raise MediaError(f"{path}: unknown audio channel layout {audio.get('channel_layout')!r}")
    duration = fmt.get("duration")
    return MediaInfo(
        int(video["width"]) if video else 0,
        int(video["height"]) if video else 0,
        rotation,
        channels,
        int(audio.get("sample_rate") or 0) if audio else 0,
        float(duration) if duration not in (None, "N/A") else 0.0,
        str(fmt.get("format_name") or ""),
        video.get("codec_name") if video else None,
        video.get("pix_fmt") if video else None,
        audio.get("codec_name") if audio else None,
    )


def info_from_ffmpeg_log(path: Path, err: str, need_video: bool = True) -> MediaInfo:
    """:class:`MediaInfo` from the stream summary ``ffmpeg -i`` prints (when there is no ffprobe)."""
    opened = re.search(r"^Input #0, (\S+?),? from", err, re.MULTILINE)
    if not opened:
        raise open_failure(path, err)
    if opened.group(1).split(",")[0] == "tty":  # ffmpeg's fallback for text: it would render it as ANSI art
        raise MediaError(f"{path}: {NOT_MEDIA} (it holds text)")
    video = re.search(r"Stream #\S+.*?: Video: .*?, (\d{2,5})x(\d{2,5})", err)
    audio = re.search(r"Stream #\S+.*?: Audio: .*?, (\d+) Hz, ([^,\n]+)", err)
    if (need_video and not video) or (not video and not audio):
        raise _no_stream(path, need_video, [s.lower() for s in re.findall(r"Stream #\S+.*?: (\w+):", err)])
    codecs = re.search(r"Stream #\S+.*?: Video: (\w+)[^,]*(?:, (\w+))?", err)
    audio_codec = re.search(r"Stream #\S+.*?: Audio: (\w+)", err)
    rot = re.search(r"rotation of (-?[\d.]+) degrees", err)
    dur = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", err)
    channels = 0
    if audio:
        layout = audio.group(2).strip()
        m = re.match(r"(\d+) channels", layout)
        channels = int(m.group(1)) if m else _LAYOUT_CHANNELS.get(layout, 0)
        if channels == 0:
            raise MediaError(f"{path}: unknown audio channel layout {layout!r}")
    return MediaInfo(
        int(video.group(1)) if video else 0,
        int(video.group(2)) if video else 0,
        int(round(float(rot.group(1)))) % 360 if rot else 0,
        channels,
        int(audio.group(1)) if audio else 0,
        int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3)) if dur else 0.0,
        opened.group(1),
        codecs.group(1) if codecs else None,
        codecs.group(2) if codecs else None,
        audio_codec.group(1) if audio_codec else None,
    )
