"""VGGish (AudioSet) built in the package, with its log-mel front end in torch.

Front end as Google's VGGish: 16 kHz mono framed into 400-sample (25 ms) frames every 160 samples
(10 ms), frame t covering samples [160t, 160t + 400), periodic-Hann windowed, zero-padded to a
512-point FFT, magnitude (998 frames for 10 s; not ``torch.stft``, which would centre the 400-sample
window inside each 512-sample frame and start every frame 56 samples late), 64 mel bands 125-7500 Hz (HTK mel,
triangles in mel space, DC bin zeroed),
``log(mel + 0.01)``, examples of 96 frames (0.96 s). One example starts every ``hop_s``
seconds (1.0: example t covers [t, t+0.96) s as the LLP features; 0.96: standard framing).
The network mirrors the widely used PyTorch port's state-dict layout (``features.*``,
``embeddings.*``) so its AudioSet weight file loads unchanged; the embedding keeps the
final ReLU. The LLP features are the raw embedding (``postprocess: none``); VGGish's PCA
whitening (``pca``) and its 8-bit quantisation (``pca_quantized``) are options.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn

SAMPLE_RATE = 16000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
N_FFT = 512
N_MELS = 64
FMIN, FMAX = 125.0, 7500.0
EXAMPLE_FRAMES = 96
LOG_OFFSET = 0.01
QUANTIZE_MIN, QUANTIZE_MAX = -2.0, 2.0
POSTPROCESS = ("none", "pca", "pca_quantized")


def _hz_to_mel(f):
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def vggish_mel_matrix(
    n_freqs: int = N_FFT // 2 + 1,
    n_mels: int = N_MELS,
    sample_rate: int = SAMPLE_RATE,
    fmin: float = FMIN,
    fmax: float = FMAX,
) -> np.ndarray:
    """``(n_freqs, n_mels)`` weights: triangles linear in HTK mel, DC bin zeroed (as VGGish)."""
    bins_mel = _hz_to_mel(np.linspace(0.0, sample_rate / 2.0, n_freqs))
    edges = np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (center - lower)
    falling = (upper - bins_mel[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return weights.astype(np.float32)


class LogMelFrontEnd(nn.Module):
    """Waveform ``(B, samples)`` at 16 kHz -> examples ``(B, n_examples, 1, 96, 64)``."""

    def __init__(self, hop_s: float = 1.0, n_examples: int = 10):
        super().__init__()
        self.register_buffer(
            "window", torch.hann_window(WINDOW, periodic=True, dtype=torch.float64).float(), persistent=False
        )
        self.register_buffer("mel", torch.from_numpy(vggish_mel_matrix()), persistent=False)
        self.hop_frames = hop_s * SAMPLE_RATE / HOP
        self.n_examples = n_examples

    def spectrogram(self, wave: torch.Tensor) -> torch.Tensor:
        """``(B, samples)`` -> magnitude ``(B, frames, 257)``: frame t is samples [160t, 160t + 400)."""
        frames = wave.unfold(-1, WINDOW, HOP) * self.window
        return torch.fft.rfft(frames, n=N_FFT).abs()

    def forward(self, wave: torch.Tensor, n_examples: int | None = None) -> torch.Tensor:
        """``n_examples``: this many instead of the front end's own (a video of another length)."""
        n_examples = self.n_examples if n_examples is None else n_examples
        logmel = torch.log(self.spectrogram(wave) @ self.mel + LOG_OFFSET)  # (B, frames, 64)
        starts = [int(round(i * self.hop_frames)) for i in range(n_examples)]
        need = starts[-1] + EXAMPLE_FRAMES
        if logmel.shape[1] < need:
            raise ValueError(f"audio too short for {n_examples} examples: {logmel.shape[1]} < {need} frames")
        return torch.stack([logmel[:, s : s + EXAMPLE_FRAMES] for s in starts], dim=1).unsqueeze(2)


class VGGish(nn.Module):
    """VGGish network: ``(N, 1, 96, 64)`` log-mel examples -> ``(N, 128)`` embeddings."""

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        channels = 1
        for block in ((64,), (128,), (256, 256), (512, 512)):
            for out in block:
                layers += [nn.Conv2d(channels, out, 3, padding=1), nn.ReLU(inplace=True)]
                channels = out
            layers.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 4 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, 128),
            nn.ReLU(inplace=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (N, 512, 6, 4)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # TF's NHWC flattening order
        return self.embeddings(x)


def build_vggish(weights) -> VGGish:
    """VGGish with seeded random or loaded AudioSet weights (PCA parameters in the file are ignored)."""
    if weights.is_random:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(weights.seed)
            model = VGGish()
            # variance-preserving init: PyTorch's default shrinks activations ~1000x over 9 layers
            for m in model.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                    nn.init.zeros_(m.bias)
    else:
        state = {k: v for k, v in weights.state_dict.items() if not k.startswith("pproc")}
        model = weights.load_into(VGGish(), state)
    return model.eval()


class PCAPostprocess(nn.Module):
    """VGGish's post-processing: PCA whitening, optionally clipped to [-2, 2] and quantised to 0..255."""

    def __init__(self, eigen_vectors: torch.Tensor, means: torch.Tensor, quantize: bool):
        super().__init__()
        self.register_buffer("eigen_vectors", eigen_vectors.float().reshape(128, 128))
        self.register_buffer("means", means.float().reshape(1, 128))
        self.quantize = quantize

    def forward(self, emb: torch.Tensor) -> torch.Tensor:
        x = (emb.float() - self.means) @ self.eigen_vectors.T
        if self.quantize:  # as the reference: scale to 0..255 and truncate to integers
            x = torch.floor(
                (x.clamp(QUANTIZE_MIN, QUANTIZE_MAX) - QUANTIZE_MIN) * (255.0 / (QUANTIZE_MAX - QUANTIZE_MIN))
            )
        return x


def build_postprocess(kind: str, weights) -> PCAPostprocess | None:
    """``None`` for ``none``; else the PCA step with parameters from ``weights`` (seeded random orthogonal if
    random)."""
    if kind not in POSTPROCESS:
        raise ValueError(f"postprocess must be one of {POSTPROCESS}, got {kind!r}")
    if kind == "none":
        return None
    if weights.is_random:
        g = torch.Generator().manual_seed(weights.seed)
        eigen = torch.linalg.qr(torch.randn(128, 128, generator=g))[0]
        means = torch.zeros(128)
    else:
        eigen, means = weights.tensors("pca_eigen_vectors", "pca_means")
    return PCAPostprocess(eigen, means, quantize=kind == "pca_quantized").eval()
