"""Locate the ffmpeg executable (the one on PATH, else the binary that imageio-ffmpeg ships) and the
ffprobe that belongs with it (imageio-ffmpeg ships none)."""

from __future__ import annotations

import functools
import os
import shutil


@functools.lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Return the path of an ffmpeg binary (``$AVVP_FFMPEG``, then PATH, then imageio-ffmpeg's)."""
    explicit = os.environ.get("AVVP_FFMPEG")
    if explicit:
        return explicit
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError as exc:  # pragma: no cover - set-up installs it
        raise RuntimeError("no ffmpeg found: install Debian's ffmpeg or the Python package imageio-ffmpeg") from exc
    return imageio_ffmpeg.get_ffmpeg_exe()


def ffprobe_exe() -> str | None:
    """Return ``$AVVP_FFPROBE``, else the ffprobe in the same folder as :func:`ffmpeg_exe` (Debian's
    ffmpeg package has both), else None: probing then reads ``ffmpeg -i``'s summary."""
    explicit = os.environ.get("AVVP_FFPROBE")
    return explicit or _ffprobe_beside(ffmpeg_exe())


@functools.lru_cache(maxsize=4)
def _ffprobe_beside(ffmpeg: str) -> str | None:
    for folder in (os.path.dirname(ffmpeg), os.path.dirname(os.path.realpath(ffmpeg))):
        candidate = os.path.join(folder, "ffprobe")
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None
