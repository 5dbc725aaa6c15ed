"""Locate the ffmpeg executable: the one on PATH, else the binary that imageio-ffmpeg ships."""
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
        raise RuntimeError(
            "no ffmpeg found: install Debian's ffmpeg or the Python package imageio-ffmpeg"
        ) from exc
    return imageio_ffmpeg.get_ffmpeg_exe()
