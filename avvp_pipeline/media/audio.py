"""Load a clip's soundtrack as 16 kHz mono float32 with ffmpeg-python.

ffmpeg resamples every channel to ``sample_rate``; the channels are then averaged with equal
weights, as the VGGish reference front end does with the WAV file the LLP recipe wrote (a plain
mean, not ffmpeg's 5.1 down-mix matrix). Policy for lengths other than ``duration``: shorter
tracks are zero-padded, longer ones cut. A file without an audio stream gives silence and
``has_audio=False`` (the shard records it). A soundtrack that ffmpeg reports cut short (a
truncated file) is padded the same way, with a warning. ffmpeg is stopped after
:func:`audio_timeout` seconds.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .probe import DAMAGED, MediaError, MediaInfo, ffmpeg_lines, probe, run_ffmpeg, utf8_path

__all__ = ["audio_timeout", "load_audio"]

log = logging.getLogger(__name__)

AUDIO_TIMEOUT_BASE = 60.0  # seconds allowed to decode a soundtrack: this much ...
AUDIO_TIMEOUT_PER_SECOND = 2.0  # ... plus this much per second of audio (ffmpeg decodes far faster)
_CUT_SHORT = ("partial file", "File ended prematurely")


def audio_timeout(duration: float) -> float:
    """Seconds allowed for decoding ``duration`` seconds of audio."""
    return AUDIO_TIMEOUT_BASE + AUDIO_TIMEOUT_PER_SECOND * duration


def load_audio(
    path: str | Path,
    sample_rate: int = 16000,
    duration: float = 10.0,
    timeout: float | None = None,
    info: MediaInfo | None = None,
) -> tuple[np.ndarray, bool]:
    """Return ``(samples, has_audio)``: mono float32 of exactly ``duration`` seconds. ``timeout``
    (seconds, for the decode; default :func:`audio_timeout`) stops an ffmpeg that hangs; ``info``: the
    file's :func:`~.probe.probe`, when the caller has it already."""
    import ffmpeg

    path = Path(path)
    info = probe(path, need_video=False) if info is None else info
    n = int(round(sample_rate * duration))
    if info.audio_channels == 0:
        return np.zeros(n, dtype=np.float32), False
    timeout = audio_timeout(duration) if timeout is None else timeout
    with utf8_path(path) as readable:  # ffmpeg-python hashes its arguments as UTF-8
        args = (
            ffmpeg.input(str(readable))
            .output(
                "pipe:",
                format="f32le",
                acodec="pcm_f32le",
                ar=sample_rate,
                ac=info.audio_channels,
                t=duration,
                map="0:a:0",
            )
            .get_args()
        )
        proc = run_ffmpeg(args, path, timeout, "decoding the soundtrack")
    err = ffmpeg_lines(proc.stderr.decode(errors="replace"))
    if proc.returncode != 0:
        raise MediaError(f"{path}: cannot decode audio ({' | '.join(err[-3:])})")
    cut = next((line for line in err if any(s in line for s in _CUT_SHORT)), None)
    if cut:
        log.warning("%s: %s: the soundtrack stops early and is padded with silence (ffmpeg: %s)", path, DAMAGED, cut)
    samples = np.frombuffer(proc.stdout, dtype="<f4")
    samples = samples[: samples.size - samples.size % info.audio_channels]
    mono = samples.reshape(-1, info.audio_channels).mean(axis=1, dtype=np.float32)
    fixed = np.zeros(n, dtype=np.float32)
    fixed[: min(n, mono.size)] = mono[:n]
    return fixed, True
