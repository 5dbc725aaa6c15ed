"""What a media file holds, from one ``ffmpeg -i`` call (there is no ffprobe in imageio-ffmpeg)."""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .ffmpeg_bin import ffmpeg_exe

_LAYOUT_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "3.0": 3, "3.0(back)": 3, "quad": 4, "quad(side)": 4,
                    "4.0": 4, "4.1": 5, "5.0": 5, "5.0(side)": 5, "5.1": 6, "5.1(side)": 6, "6.0": 6, "6.1": 7,
                    "7.0": 7, "7.1": 8, "7.1(wide)": 8, "downmix": 2}


class MediaError(RuntimeError):
    """A media file that cannot be decoded; the message names the file and the problem."""


@dataclass(frozen=True)
class MediaInfo:
    """First video and audio stream of a file; ``audio_channels`` is 0 without an audio stream."""

    width: int
    height: int
    rotation: int  # display rotation, degrees counter-clockwise: 0, 90, 180 or 270
    audio_channels: int
    audio_rate: int
    duration: float = 0.0  # seconds, from the container header (0 when it states none)


def check_file(path: Path) -> None:
    """Raise MediaError for a missing or empty file."""
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file (0 bytes)")


def probe(path: str | Path, need_video: bool = True) -> MediaInfo:
    """Parse ffmpeg's stream summary of ``path``; MediaError when it is unreadable (or has no video)."""
    path = Path(path)
    check_file(path)
    err = subprocess.run([ffmpeg_exe(), "-hide_banner", "-i", str(path)], capture_output=True, text=True,
                         errors="replace").stderr
    video = re.search(r"Stream #\S+.*?: Video: .*?, (\d{2,5})x(\d{2,5})", err)
    audio = re.search(r"Stream #\S+.*?: Audio: .*?, (\d+) Hz, ([^,\n]+)", err)
    if (need_video and not video) or (not video and not audio):
        tail = " | ".join(err.strip().splitlines()[-2:])
        raise MediaError(f"{path}: no {'video' if need_video else 'audio or video'} stream ({tail})")
    rot = re.search(r"rotation of (-?[\d.]+) degrees", err)
    dur = re.search(r"Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", err)
    channels = 0
    if audio:
        layout = audio.group(2).strip()
        m = re.match(r"(\d+) channels", layout)
        channels = int(m.group(1)) if m else _LAYOUT_CHANNELS.get(layout, 0)
        if channels == 0:
            raise MediaError(f"{path}: unknown audio channel layout {layout!r}")
    return MediaInfo(int(video.group(1)) if video else 0, int(video.group(2)) if video else 0,
                     int(round(float(rot.group(1)))) % 360 if rot else 0, channels,
                     int(audio.group(1)) if audio else 0,
                     int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3)) if dur else 0.0)
