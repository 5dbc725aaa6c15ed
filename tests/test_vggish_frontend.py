"""The VGGish log-mel front end equals a plain numpy transcription of the published one, sample for sample.

The reference below is written from the published VGGish front end's definition (framing into
400-sample frames every 160 samples, periodic Hann, 512-point rfft magnitude, HTK mel matrix,
log(mel + 0.01), 96-frame examples), in float64 and independently of the package's code.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avvp_pipeline.features import vggish


def _frames(x: np.ndarray, length: int, hop: int) -> np.ndarray:
    n = 1 + (len(x) - length) // hop
    return np.stack([x[i * hop : i * hop + length] for i in range(n)])


def _mel_matrix() -> np.ndarray:
    def mel(f):
        return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)

    bins = mel(np.linspace(0.0, 8000.0, 257))
    edges = np.linspace(mel(125.0), mel(7500.0), 66)
    out = np.zeros((257, 64))
    for band in range(64):
        lo, centre, hi = edges[band : band + 3]
        out[:, band] = np.maximum(0.0, np.minimum((bins - lo) / (centre - lo), (hi - bins) / (hi - centre)))
    out[0, :] = 0.0
    return out


def reference_log_mel(wave: np.ndarray) -> np.ndarray:
    """(frames, 64) log-mel of a 16 kHz waveform, as the published front end computes it."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi / 400 * np.arange(400))  # periodic Hann
    spectrum = np.abs(np.fft.rfft(_frames(wave.astype(np.float64), 400, 160) * window, 512))
    return np.log(spectrum @ _mel_matrix() + 0.01)


def _ours(wave: np.ndarray) -> np.ndarray:
    front = vggish.LogMelFrontEnd()
    return torch.log(front.spectrogram(torch.from_numpy(wave.astype(np.float32))[None]) @ front.mel + 0.01)[0].numpy()


def _signals() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    t = np.arange(160000) / 16000
    clicks = np.zeros(160000)
    clicks[rng.choice(160000, 40, replace=False)] = rng.uniform(-1, 1, 40)
    return {
        "tones": 0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3111 * t),
        "clicks": clicks,
        "noise": 0.1 * rng.standard_normal(160000),
        "chirp": 0.5 * np.sin(2 * np.pi * (200 + 300 * t) * t),
    }


@pytest.mark.parametrize("name", ["tones", "clicks", "noise", "chirp"])
def test_log_mel_equals_the_reference(name):
    wave = _signals()[name]
    ref = reference_log_mel(wave)
    ours = _ours(wave)
    assert ref.shape == ours.shape == (998, 64)  # 1 + (160000 - 400) // 160 frames
    assert np.abs(ours - ref).max() <= 1e-3


def test_a_shift_of_one_sample_would_fail():
    """The comparison is sharp enough to see a frame offset of a single sample."""
    wave = _signals()["clicks"]
    shifted = reference_log_mel(np.concatenate([[0.0], wave[:-1]]))
    assert np.abs(_ours(wave) - shifted).max() > 1e-2


def test_examples_follow_the_reference_framing():
    wave = _signals()["tones"]
    ref = reference_log_mel(wave)
    examples = vggish.LogMelFrontEnd(hop_s=1.0)(torch.from_numpy(wave.astype(np.float32))[None])[0, :, 0].numpy()
    for i in range(10):  # one example per second (the LLP features), 96 frames each
        assert np.abs(examples[i] - ref[100 * i : 100 * i + 96]).max() <= 1e-3
    standard = vggish.LogMelFrontEnd(hop_s=0.96)(torch.from_numpy(wave.astype(np.float32))[None])[0, :, 0].numpy()
    assert np.abs(standard[3] - ref[288:384]).max() <= 1e-3  # VGGish's own 0.96-s examples


def test_real_clip_log_mel_equals_the_reference(real_clip):
    from avvp_pipeline.media.audio import load_audio

    wave, has_audio = load_audio(real_clip, 16000, 10.0)
    assert has_audio
    ref = reference_log_mel(wave)
    ours = _ours(wave)
    assert ours.shape == ref.shape == (998, 64)
    assert np.abs(ours - ref).max() <= 1e-3
