"""Load a clip's soundtrack as 16 kHz mono float32 with ffmpeg-python."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .decode import MediaError
from .ffmpeg_bin import ffmpeg_exe

_NO_AUDIO_MARKERS = ("does not contain any stream", "matches no streams", "Output file is empty")


def load_audio(path: str | Path, sample_rate: int = 16000, duration: float = 10.0) -> tuple[np.ndarray, bool]:
    """Return ``(samples, has_audio)``: mono float32 of exactly ``duration`` seconds.

    Channels are down-mixed by ffmpeg; short tracks are zero-padded, long ones cut. A file
    without an audio stream gives silence and ``has_audio=False``.
    """
    import ffmpeg

    path = Path(path)
    if not path.is_file():
        raise MediaError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: empty file (0 bytes)")
    n = int(round(sample_rate * duration))
    try:
        out, _ = (
            ffmpeg.input(str(path))
            .output("pipe:", format="f32le", acodec="pcm_f32le", ac=1, ar=sample_rate, t=duration, map="0:a:0")
            .run(cmd=ffmpeg_exe(), capture_stdout=True, capture_stderr=True, quiet=True)
        )
    except ffmpeg.Error as exc:
        err = exc.stderr.decode(errors="replace") if exc.stderr else ""
        if any(m in err for m in _NO_AUDIO_MARKERS):
            return np.zeros(n, dtype=np.float32), False
        tail = " | ".join(err.strip().splitlines()[-3:])
        raise MediaError(f"{path}: cannot decode audio ({tail})") from exc
    samples = np.frombuffer(out, dtype="<f4")
    if samples.size == 0:
        return np.zeros(n, dtype=np.float32), False
    fixed = np.zeros(n, dtype=np.float32)
    fixed[: min(n, samples.size)] = samples[:n]
    return fixed, True
