"""Load a clip's soundtrack as 16 kHz mono float32 with ffmpeg-python.

ffmpeg resamples every channel to ``sample_rate``; the channels are then averaged with equal
weights, as the VGGish reference front end does with the WAV file the LLP recipe wrote (a plain
mean, not ffmpeg's 5.1 down-mix matrix). Policy for lengths other than ``duration``: shorter
tracks are zero-padded, longer ones cut. A file without an audio stream gives silence and
``has_audio=False`` (the shard records it).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .ffmpeg_bin import ffmpeg_exe
from .probe import MediaError, probe

__all__ = ["MediaError", "load_audio"]


def load_audio(path: str | Path, sample_rate: int = 16000, duration: float = 10.0) -> tuple[np.ndarray, bool]:
    """Return ``(samples, has_audio)``: mono float32 of exactly ``duration`` seconds."""
    import ffmpeg

    path = Path(path)
    info = probe(path, need_video=False)
    n = int(round(sample_rate * duration))
    if info.audio_channels == 0:
        return np.zeros(n, dtype=np.float32), False
    try:
        out, _ = (
            ffmpeg.input(str(path))
            .output("pipe:", format="f32le", acodec="pcm_f32le", ar=sample_rate, ac=info.audio_channels, t=duration,
                    map="0:a:0")
            .run(cmd=ffmpeg_exe(), capture_stdout=True, capture_stderr=True, quiet=True)
        )
    except ffmpeg.Error as exc:
        err = exc.stderr.decode(errors="replace") if exc.stderr else ""
        tail = " | ".join(err.strip().splitlines()[-3:])
        raise MediaError(f"{path}: cannot decode audio ({tail})") from exc
    samples = np.frombuffer(out, dtype="<f4")
    samples = samples[: samples.size - samples.size % info.audio_channels]
    mono = samples.reshape(-1, info.audio_channels).mean(axis=1, dtype=np.float32)
    fixed = np.zeros(n, dtype=np.float32)
    fixed[: min(n, mono.size)] = mono[:n]
    return fixed, True
