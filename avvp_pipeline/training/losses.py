"""Training losses: HAN's guided BCE, MA's stage-3 targets, CM-S's term, VALOR's pseudo-label loss."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.mmil import MMILOutput, label_aware_pool
from .cms import cms_loss

EPS = 1e-7


def smooth(labels: torch.Tensor, s: float) -> torch.Tensor:
    """Label smoothing target ``s * y + (1 - s) * 0.5``."""
    return s * labels + (1.0 - s) * 0.5


def _three_bce(out: MMILOutput, t_global: torch.Tensor, t_audio: torch.Tensor, t_visual: torch.Tensor) -> torch.Tensor:
    """Mean BCE of the clamped global, audio and visual probabilities of the first ``len(t_global)`` rows."""
    n = t_global.shape[0]
    pairs = ((out.global_prob, t_global), (out.audio_prob, t_audio), (out.visual_prob, t_visual))
    with torch.autocast(t_global.device.type, enabled=False):  # BCE in fp32 under bf16 autocast
        return sum(F.binary_cross_entropy(p[:n].float().clamp(EPS, 1 - EPS), t) for p, t in pairs)


def guided_loss(
    out: MMILOutput,
    y_global: torch.Tensor,
    y_audio: torch.Tensor,
    y_visual: torch.Tensor,
    audio_smoothing: float,
    visual_smoothing: float,
) -> torch.Tensor:
    """``BCE(global, y) + BCE(p_a, smooth(y_a)) + BCE(p_v, smooth(y_v))`` over the first ``len(y)`` rows
    (a CM-S batch is doubled; its BCE terms use the original half only)."""
    return _three_bce(out, y_global, smooth(y_audio, audio_smoothing), smooth(y_visual, visual_smoothing))


def ma_guided_loss(
    out: MMILOutput,
    y: torch.Tensor,
    y_audio: torch.Tensor,
    y_visual: torch.Tensor,
    audio_smoothing: float,
    visual_smoothing: float,
) -> torch.Tensor:
    """MA's stage-3 targets (as MA's code builds them): global and audio targets are the refined audio label
    (the published code aliases them); the visual target is the smoothed weak label with the
    classes dropped from the visual label set to a hard 0."""
    visual_target = torch.where((y > 0) & (y_visual == 0), torch.zeros_like(y), smooth(y, visual_smoothing))
    return _three_bce(out, y_audio, smooth(y_audio, audio_smoothing), visual_target)


def han_loss(
    out: MMILOutput, labels: torch.Tensor, audio_smoothing: float = 1.0, visual_smoothing: float = 0.9
) -> torch.Tensor:
    """Individual guided learning with one (video-level) label for all three terms."""
    return guided_loss(out, labels, labels, labels, audio_smoothing, visual_smoothing)


def cms_term(
    out: MMILOutput, y_audio2: torch.Tensor, y_visual2: torch.Tensor, temperature: float = 1.0
) -> torch.Tensor:
    """CM-S loss of a doubled batch: label-aware pooling with the pre-softmax MMIL logits, then Eq. 8."""
    f_a = label_aware_pool(out.x_audio, out.frame_att_logits[:, :, 0], y_audio2, out.mask)
    f_v = label_aware_pool(out.x_visual, out.frame_att_logits[:, :, 1], y_visual2, out.mask)
    return cms_loss(f_a, f_v, y_audio2, y_visual2, temperature)


def valor_loss(
    out: MMILOutput, y: torch.Tensor, pseudo_audio: torch.Tensor, pseudo_visual: torch.Tensor, present: torch.Tensor
) -> torch.Tensor:
    """VALOR's loss: ``BCE(global, y)`` plus, per modality, BCE-with-logits between the segment-level logits
    ``(B, T, 25)`` and the pseudo labels, each the mean over the videos that have pseudo labels
    (``present`` (B,) 0/1), their real seconds (``out.mask``) and classes (0 for a batch without any)."""
    if out.frame_logits is None:
        raise ValueError(
            "VALOR's loss needs segment-level logits: the model must score segments with MMIL's own head (not CM-Co)"
        )
    with torch.autocast(y.device.type, enabled=False):  # in fp32 under bf16 autocast
        video = F.binary_cross_entropy(out.global_prob.float().clamp(EPS, 1 - EPS), y)
        logits = out.frame_logits.float()
        weight = present[:, None, None].expand_as(pseudo_audio)
        if out.mask is not None:
            weight = weight * out.mask[:, :, None]
        n = weight.sum().clamp(min=1.0)
        seg = sum(
            (F.binary_cross_entropy_with_logits(logits[:, :, m], target, reduction="none") * weight).sum() / n
            for m, target in ((0, pseudo_audio), (1, pseudo_visual))
        )
    return video + seg
