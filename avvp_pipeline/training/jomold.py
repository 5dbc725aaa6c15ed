"""JoMoLD (Cheng et al., ECCV 2022): joint-modal label denoising, as its official code computes it.

Stage 1 trains a noise estimator (``jomold-estimator``: HAN without cross-modal attention) on the smoothed
modality labels plus a segment-level audio-visual contrastive loss. Stage 2 counts, per class, the training
videos whose estimated modality probability is small next to the class's mean (:func:`noise_ratios`).
Stage 3 (``jomold``) trains a fresh model; in each batch it ranks the labelled videos of each class by their
audio and visual losses (a forward pass without cross-modal attention, no gradient) and drops a video's
visual label when its visual loss is among the largest and its audio loss among the smallest (and the
reverse for audio), as many as the class's ramped noise ratio allows.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..data.feature_sets import FeatureSet
from ..data.noise_ratios import write_noise_ratios
from ..inference import predict
from ..models.mmil import MMILOutput
from .losses import EPS, guided_loss, smooth

log = logging.getLogger(__name__)

TEMPERATURE = 0.2  # the official model's contrastive temperature
CONTRAST_SMOOTHING = 0.1  # nce_smooth
WARM_UP_EPOCHS = 0.9  # warm_up_epoch
AUDIO_WEIGHT = 2.0  # audio_weight of the denoised model's loss (visual, video and contrastive: 1)
AUDIO_THRESHOLD = 0.6  # a_thres
VISUAL_THRESHOLD = 1.8  # v_thres


def contrastive_loss(
    x_audio: torch.Tensor,
    x_visual: torch.Tensor,
    temperature: float = TEMPERATURE,
    smoothing: float = CONTRAST_SMOOTHING,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """JoMoLD's segment-level contrastive loss between the encoded audio and visual streams.

    ``p[b, t, :] = softmax_t'(cos(x_a[b, t], x_v[b, t']) / temperature)``; the loss is the mean over segments
    of ``-log(sum_t' q[t, t'] p[b, t, t'])`` with ``q`` ``1 - smoothing`` on t and ``smoothing / (T - 1)``
    elsewhere: the log of the smoothed target's probability, not a cross-entropy (MA's loss). With a padding
    ``mask`` (B, T), t' runs over the video's real segments (T is its length) and the mean over real segments.
    """
    sim = F.normalize(x_audio, dim=-1) @ F.normalize(x_visual, dim=-1).transpose(1, 2) / temperature
    b, t, _ = sim.shape
    eye = torch.eye(t, dtype=torch.bool, device=sim.device)
    if mask is None:
        others = torch.full((b, 1, 1), float(max(t - 1, 1)), dtype=sim.dtype, device=sim.device)
        real = torch.ones(b, t, dtype=torch.bool, device=sim.device)
    else:
        others = (mask.sum(dim=1) - 1).clamp(min=1).to(sim.dtype)[:, None, None]
        real, sim = mask, sim.masked_fill(~mask[:, None, :], float("-inf"))
    target = torch.where(eye, 1.0 - smoothing, smoothing / others)
    p = torch.softmax(sim, dim=-1)  # padded t' get probability 0
    term = -torch.log((target * p).sum(dim=-1))  # (B, T)
    return term[real].mean() if mask is not None else term.mean()


def estimator_loss(out: MMILOutput, y: torch.Tensor, audio_smoothing: float, visual_smoothing: float) -> torch.Tensor:
    """Stage 1: ``BCE(p_a, smooth(y, s_a)) + BCE(p_v, smooth(y, s_v)) + BCE(global, y)`` + the contrastive loss."""
    return guided_loss(out, y, y, y, audio_smoothing, visual_smoothing) + contrastive_loss(
        out.x_audio, out.x_visual, mask=out.mask
    )


def denoised_loss(out: MMILOutput, y: torch.Tensor, t_audio: torch.Tensor, t_visual: torch.Tensor) -> torch.Tensor:
    """Stage 3: ``2 BCE(p_a, t_a) + BCE(p_v, t_v) + BCE(global, y)`` + the contrastive loss, with the flipped
    targets ``t_a``, ``t_v`` (:func:`flip_labels`)."""
    with torch.autocast(y.device.type, enabled=False):  # BCE in fp32 under bf16 autocast
        a, v, g = (p.float().clamp(EPS, 1 - EPS) for p in (out.audio_prob, out.visual_prob, out.global_prob))
        bce = AUDIO_WEIGHT * F.binary_cross_entropy(a, t_audio) + F.binary_cross_entropy(v, t_visual)
        bce = bce + F.binary_cross_entropy(g, y)
    return bce + contrastive_loss(out.x_audio, out.x_visual, mask=out.mask)


def ramped_ratios(
    ratios: torch.Tensor, epoch: int, batch: int, batches: int, warm_up: float = WARM_UP_EPOCHS
) -> torch.Tensor:
    """The noise ratios used in batch ``batch`` (0-based) of ``epoch`` (1-based) of ``batches``.

    The official loop rescales the ratios in place at every step, from the epoch's start:
    ``r <- min(r, r * step / (warm_up * batches))`` with ``step`` counted from the first batch of training.
    The scale compounds within an epoch, so with ``warm_up`` 0.9 the first epoch's first step sets every
    ratio to 0 for the whole epoch and later epochs use the full ratios."""
    r = ratios.clone()
    for b in range(batch + 1):  # (r * step) / span, rounded as the official expression
        r = torch.minimum(r, r * ((epoch - 1) * batches + b) / (warm_up * batches))
    return r


def _ranked(loss: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """Indices of the ``candidates`` (B,) bool, by increasing ``loss`` (B,) (ties: batch order)."""
    order = torch.sort(loss, stable=True).indices
    return order[candidates[order]]


def flip_labels(
    ranked: MMILOutput,
    t_audio: torch.Tensor,
    t_visual: torch.Tensor,
    ratio_audio: torch.Tensor,
    ratio_visual: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The targets ``(B, C)`` with JoMoLD's flips, from the probabilities of the ranking pass ``ranked``.

    For class c with ``n`` labelled videos (target > 0.5), ``k = int(ratio[c] * n)``: a video's visual target
    becomes 0 when it is among the k with the largest visual loss and among the k with the smallest audio
    loss; its audio target becomes 0 when among the k largest audio and the k smallest visual losses. The
    losses are per-video BCEs of the clamped probabilities against the unflipped targets."""
    with torch.autocast(t_audio.device.type, enabled=False):
        pa, pv = (p.detach().float().clamp(EPS, 1 - EPS) for p in (ranked.audio_prob, ranked.visual_prob))
        loss_a = F.binary_cross_entropy(pa, t_audio, reduction="none")
        loss_v = F.binary_cross_entropy(pv, t_visual, reduction="none")
    pos_a, pos_v = t_audio > 0.5, t_visual > 0.5
    k_a = (ratio_audio.double() * pos_a.sum(0).double()).to(torch.int64).tolist()
    k_v = (ratio_visual.double() * pos_v.sum(0).double()).to(torch.int64).tolist()
    out_a, out_v = t_audio.clone(), t_visual.clone()
    for c in range(t_audio.shape[1]):
        if k_v[c] > 0:
            quiet = _ranked(loss_a[:, c], pos_v[:, c])[: k_v[c]]
            unseen = _ranked(loss_v[:, c], pos_v[:, c])[-k_v[c] :]
            out_v[_common(quiet, unseen), c] = 0
        if k_a[c] > 0:
            unheard = _ranked(loss_a[:, c], pos_a[:, c])[-k_a[c] :]
            visible = _ranked(loss_v[:, c], pos_a[:, c])[: k_a[c]]
            out_a[_common(unheard, visible), c] = 0
    return out_a, out_v


def _common(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The indices in both ``a`` and ``b``."""
    return a[torch.isin(a, b)]


def noise_ratios(
    p_audio: np.ndarray,
    p_visual: np.ndarray,
    labels: np.ndarray,
    audio_threshold: float = AUDIO_THRESHOLD,
    visual_threshold: float = VISUAL_THRESHOLD,
    audio_smoothing: float = 1.0,
    visual_smoothing: float = 0.9,
    batch_size: int = 128,
) -> dict[str, np.ndarray]:
    """Per-class noise ratios from the estimator's ``p_audio`` / ``p_visual`` (N, C) over the training set.

    A labelled (video, class) is audio noise when ``p_a * smooth(y, s_a)`` is below ``audio_threshold`` times
    the class's mean ``p_a``, visual noise when ``p_v * smooth(y, s_v)`` is below ``visual_threshold`` times
    the mean ``p_v``; the ratio is the count over the videos labelled with the class (0 for a class none has).
    As the official loop computes it, the class mean is the mean of the per-batch means over batches of
    ``batch_size`` videos (a short last batch weighs as much as a full one)."""
    y = np.asarray(labels, dtype=np.float64)
    out: dict[str, np.ndarray] = {"events": y.sum(axis=0)}
    for name, p, s, thr in (
        ("audio", p_audio, audio_smoothing, audio_threshold),
        ("visual", p_visual, visual_smoothing, visual_threshold),
    ):
        p = torch.as_tensor(np.asarray(p, dtype=np.float32))
        means = torch.stack([p[i : i + batch_size].mean(dim=0) for i in range(0, len(p), batch_size)])
        mean = means.numpy().mean(axis=0)  # float32, as numpy averages the batch means
        scaled = p * torch.from_numpy(smooth(y, s)).float()
        noisy = (scaled / torch.from_numpy(mean)) < thr
        count = (noisy & torch.from_numpy(y > 0)).sum(dim=0).double().numpy()
        out[f"noisy_{name}"] = count
        out[name] = np.divide(count, out["events"], out=np.zeros_like(count), where=out["events"] > 0)
    return out


def estimate_noise_ratios(
    model: torch.nn.Module,
    fs: FeatureSet,
    out: str | Path,
    provenance: dict,
    audio_threshold: float = AUDIO_THRESHOLD,
    visual_threshold: float = VISUAL_THRESHOLD,
    batch_size: int = 128,
) -> dict:
    """Stage 2: :func:`noise_ratios` of the trained estimator ``model`` over the training set ``fs``, written
    to ``out`` (data/noise_ratios.py) with ``provenance`` and the settings; returns the statistics."""
    probs = predict(model, fs, batch_size)  # each video seen alone: a padded batch runs with its mask
    labels = fs.labels.cpu().numpy()
    p_a, p_v = probs["audio_prob"], probs["visual_prob"]
    r = noise_ratios(p_a, p_v, labels, audio_threshold, visual_threshold, batch_size=batch_size)
    stats = {
        "videos": len(fs),
        **{k: r[k].astype(int).tolist() for k in ("events", "noisy_audio", "noisy_visual")},
    }
    settings = {"audio_threshold": audio_threshold, "visual_threshold": visual_threshold, "batch_size": batch_size}
    write_noise_ratios(out, list(fs.classes), r["audio"], r["visual"], {**provenance, **settings}, stats)
    return stats
