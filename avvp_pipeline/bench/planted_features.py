"""An LLP-shaped data set made directly at the feature level, with planted per-second events.

It stands in for the LLP features when comparing models without them. Like
LLP: 10,000 / 649 / 1,200 videos of 10 one-second segments, 25 classes, features of LLP's shapes
(VGGish 10x128, ResNet-152 80x2048, R(2+1)D 10x512), weak labels for training and dense
per-second audio / visual truth for val and test. Planted properties the papers' modules target:

- **Modality-specific classes.** Each class has a modality profile: *audio-leaning* classes (like
  Speech) are mostly heard but not seen, *visual-leaning* ones mostly seen and silent, the rest
  usually both. A weak label never says which.
- **Class co-occurrence.** Classes come in lead / companion pairs (like Singing and an
  instrument): a lead class brings its companion along with probability ``companion_prob``, and
  the two share part of their feature signature, so they are easy to confuse.
- **Temporal structure.** Each (class, modality) event is one or two runs of whole seconds;
  an audio-visual class's visual run matches its audio run with probability ``av_sync_prob``.

A feature is a video-specific background, plus the signatures of the classes active in that
modality and second (with a random per-event gain), plus per-second (per-frame for ResNet-152)
noise. Everything is drawn from ``seed``; large arrays are drawn on ``device``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..data.feature_sets import FeatureSet

NUM_CLASSES, T, FRAMES = 25, 10, 8
DIMS = {"audio": 128, "video_s": 2048, "video_st": 512}


@dataclass(frozen=True)
class PlantedFeatureConfig:
    """Sizes and difficulty of the synthetic feature set (defaults: LLP's split sizes)."""

    n_train: int = 10_000
    n_val: int = 649
    n_test: int = 1_200
    seed: int = 0
    audio_leaning: int = 6  # classes 0..5: heard, rarely seen (P(audio only) 0.7)
    visual_leaning: int = 6  # classes 6..11: seen, rarely heard (P(visual only) 0.7)
    pairs: int = 5  # lead / companion pairs among the other classes
    companion_prob: float = 0.7
    shared_signature: float = 0.5  # fraction of a companion's signature copied from its lead
    av_sync_prob: float = 0.6
    signal: float = 1.0  # signature norm relative to ...
    noise: float = 1.6  # ... per-second noise along a signature (128-d audio; other spaces alike)
    background: float = 1.0  # per-video background norm

    def scaled(self, scale: float) -> PlantedFeatureConfig:
        """The same set with every split ``scale`` times as large (at least 2 videos each)."""
        from dataclasses import replace

        return replace(
            self,
            n_train=max(2, round(self.n_train * scale)),
            n_val=max(2, round(self.n_val * scale)),
            n_test=max(2, round(self.n_test * scale)),
        )


def class_profiles(cfg: PlantedFeatureConfig) -> np.ndarray:
    """(25, 3) probabilities of (audio only, visual only, both) per class."""
    prof = np.tile([0.2, 0.2, 0.6], (NUM_CLASSES, 1))
    prof[: cfg.audio_leaning] = [0.7, 0.05, 0.25]
    prof[cfg.audio_leaning : cfg.audio_leaning + cfg.visual_leaning] = [0.05, 0.7, 0.25]
    return prof


def companion_of(cfg: PlantedFeatureConfig) -> dict[int, int]:
    """Lead class -> companion class (leads and companions among the classes after the leaning ones)."""
    first = cfg.audio_leaning + cfg.visual_leaning
    return {first + 2 * i: first + 2 * i + 1 for i in range(cfg.pairs)}


def _runs(rng: np.random.Generator) -> np.ndarray:
    """A (10,) 0/1 mask of one run of whole seconds, or two with probability 0.3."""
    mask = np.zeros(T, dtype=np.uint8)
    for _ in range(1 + (rng.random() < 0.3)):
        length = int(rng.integers(1, T + 1))
        onset = int(rng.integers(0, T - length + 1))
        mask[onset : onset + length] = 1
    return mask


def draw_events(n: int, cfg: PlantedFeatureConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Dense truth ``(gt_audio, gt_visual)``, each (n, 25, 10) uint8; every video has at least one event."""
    prof = class_profiles(cfg)
    comp = companion_of(cfg)
    freq = 1.0 / np.arange(1, NUM_CLASSES + 1) ** 0.8  # long-tailed class frequencies, like LLP
    freq = freq[rng.permutation(NUM_CLASSES)]
    freq[0] = freq.max() * 1.3  # one dominant audio-leaning class (LLP: Speech in 31% of videos)
    for companion in comp.values():
        freq[companion] *= 0.3  # companions mostly arrive with their lead
    freq /= freq.sum()
    gt_a = np.zeros((n, NUM_CLASSES, T), dtype=np.uint8)
    gt_v = np.zeros_like(gt_a)
    for i in range(n):
        k = rng.choice([1, 2, 3], p=[0.4, 0.4, 0.2])
        classes = set(rng.choice(NUM_CLASSES, size=k, replace=False, p=freq).tolist())
        for c in list(classes):
            if c in comp and rng.random() < cfg.companion_prob:
                classes.add(comp[c])
        for c in classes:
            kind = rng.choice(3, p=prof[c])  # 0 audio only, 1 visual only, 2 both
            if kind in (0, 2):
                gt_a[i, c] = _runs(rng)
            if kind in (1, 2):
                gt_v[i, c] = gt_a[i, c] if kind == 2 and rng.random() < cfg.av_sync_prob else _runs(rng)
    return gt_a, gt_v


def _unit(g: torch.Generator, *shape: int, device) -> torch.Tensor:
    x = torch.randn(*shape, generator=g).to(device)
    return x / x.norm(dim=-1, keepdim=True)


def signatures(cfg: PlantedFeatureConfig, device) -> dict[str, torch.Tensor]:
    """Unit-norm class signatures per feature space; companions share ``shared_signature`` of their lead's."""
    g = torch.Generator().manual_seed(cfg.seed + 1)
    out = {}
    for key, dim in DIMS.items():
        sig = _unit(g, NUM_CLASSES, dim, device=device)
        for lead, companion in companion_of(cfg).items():
            mixed = cfg.shared_signature * sig[lead] + (1 - cfg.shared_signature) * sig[companion]
            sig[companion] = mixed / mixed.norm()
        out[key] = sig
    return out


def make_features(
    gt_a: np.ndarray, gt_v: np.ndarray, cfg: PlantedFeatureConfig, sig: dict[str, torch.Tensor], seed: int, device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``audio (n,10,128)``, ``video_s (n,80,2048)``, ``video_st (n,10,512)`` float32 on ``device``."""
    n = len(gt_a)
    dev = torch.device(device)
    g = torch.Generator(device=dev).manual_seed(seed)
    gain_g = torch.Generator().manual_seed(seed + 7)

    def space(gt: np.ndarray, key: str, steps: int) -> torch.Tensor:
        dim = DIMS[key]
        gain = (0.5 + torch.rand(n, NUM_CLASSES, 1, generator=gain_g)).to(dev)  # per-event loudness / size
        active = torch.from_numpy(gt).to(dev).float() * gain  # (n, 25, 10)
        signal = cfg.signal * torch.einsum("nct,cd->ntd", active, sig[key])  # (n, 10, dim)
        if steps != T:
            signal = signal.repeat_interleave(steps // T, dim=1)
        signal = signal * np.sqrt(dim)  # unit-norm signatures scaled so that elements are O(1)
        background = cfg.background * torch.randn(n, 1, dim, generator=g, device=dev)
        # noise grows with sqrt(dim) and per frame, so that a second of every space has the same
        # signal-to-noise ratio along a class signature as the 128-d audio
        noise = (
            cfg.noise * np.sqrt(dim / DIMS["audio"] * steps / T) * torch.randn(n, steps, dim, generator=g, device=dev)
        )
        return (signal + background + noise).float()

    return space(gt_a, "audio", T), space(gt_v, "video_s", T * FRAMES), space(gt_v, "video_st", T)


def make_feature_sets(cfg: PlantedFeatureConfig = PlantedFeatureConfig(), device="cpu") -> dict[str, FeatureSet]:
    """Train / val / test :class:`FeatureSet` s; weak labels are the union of the dense truth."""
    rng = np.random.default_rng(cfg.seed)
    sig = signatures(cfg, device)
    sets = {}
    for k, (split, n) in enumerate((("train", cfg.n_train), ("val", cfg.n_val), ("test", cfg.n_test))):
        gt_a, gt_v = draw_events(n, cfg, rng)
        audio, video_s, video_st = make_features(gt_a, gt_v, cfg, sig, cfg.seed * 10 + k, device)
        weak = torch.from_numpy(((gt_a | gt_v).max(axis=2)).astype(np.float32)).to(device)
        ids = [f"synth-{split}-{i:05d}" for i in range(n)]
        dense = split != "train"
        sets[split] = FeatureSet(
            split,
            [f"{v}.mp4" for v in ids],
            ids,
            audio,
            video_s,
            video_st,
            weak,
            gt_a if dense else None,
            gt_v if dense else None,
        )
        sets[split].truth = (gt_a, gt_v)  # kept for the train split too: the benchmark reports label statistics
    return sets


def noisy_teacher(gt_a: np.ndarray, gt_v: np.ndarray, error_rate: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Segment-level pseudo labels ``(audio, visual)``, each ``(n, 10, 25)`` uint8, from the planted truth
    ``(n, 25, 10)`` through a teacher that is wrong at rate ``error_rate``: within the classes of each
    video's weak label, every (second, class) entry of each modality is flipped with that probability;
    other classes stay 0, as VALOR's teachers' labels are masked to the weak label."""
    if not 0 <= error_rate <= 1:
        raise ValueError(f"error_rate must be in [0, 1], got {error_rate}")
    rng = np.random.default_rng(seed)
    weak = (gt_a | gt_v).max(axis=2).astype(bool)[:, None, :]  # (n, 1, 25)
    out = []
    for gt in (gt_a, gt_v):
        truth = gt.transpose(0, 2, 1).astype(bool)  # (n, 10, 25)
        flip = rng.random(truth.shape) < error_rate
        out.append(((truth ^ flip) & weak).astype(np.uint8))
    return out[0], out[1]
