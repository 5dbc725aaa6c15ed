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


LEAP_EPS = 0.01  # the official run script's eps: the floor of the similarity target


def leap_loss(
    out: MMILOutput,
    y: torch.Tensor,
    pseudo_audio: torch.Tensor,
    pseudo_visual: torch.Tensor,
    present: torch.Tensor,
    video_loss: str = "code",
) -> torch.Tensor:
    """LEAP's loss as its code computes it (weights 1, as its run script): BCE of ``p_a`` / ``p_v`` against the
    video-level pseudo labels (a class present in some second), BCE of the video-level prediction against the
    weak label ``y``, BCE of the segment probabilities against the pseudo labels, and the audio-visual semantic
    similarity loss (:func:`avss_loss`). ``video_loss='code'``: the video-level prediction is the thresholded
    union the model outputs, so its term adds a value and no gradient; ``'soft'``: ``p_a + p_v - p_a p_v``.
    Each term but the weak-label one is a mean over the videos with pseudo labels (``present`` (B,) 0/1)
    and their real seconds (``out.mask``)."""
    mask = out.mask if out.mask is not None else torch.ones(pseudo_audio.shape[:2], device=y.device, dtype=torch.bool)
    seconds = mask[:, :, None].float()
    pa, pv = pseudo_audio * seconds, pseudo_visual * seconds
    with torch.autocast(y.device.type, enabled=False):  # in fp32 under bf16 autocast
        p_a, p_v = (p.float().clamp(EPS, 1 - EPS) for p in (out.audio_prob, out.visual_prob))
        if video_loss == "soft":
            p_global = (
                out.audio_prob.float() + out.visual_prob.float() - out.audio_prob.float() * out.visual_prob.float()
            )
        elif video_loss == "code":
            p_global = out.global_prob.float()
        else:
            raise ValueError(f"LEAP's video_loss must be 'code' or 'soft', got {video_loss!r}")
        loss = F.binary_cross_entropy(p_global.clamp(EPS, 1 - EPS), y)
        videos = present[:, None]
        n_videos = (videos.sum() * y.shape[1]).clamp(min=1.0)
        for p, target in ((p_a, pa.amax(dim=1)), (p_v, pv.amax(dim=1))):
            loss = loss + (F.binary_cross_entropy(p, target, reduction="none") * videos).sum() / n_videos
        weight = present[:, None, None] * seconds
        n_items = (weight.sum() * y.shape[1]).clamp(min=1.0)
        frame = out.frame_prob.float().clamp(EPS, 1 - EPS)
        for m, target in ((1, pv), (0, pa)):
            loss = loss + (F.binary_cross_entropy(frame[:, :, m], target, reduction="none") * weight).sum() / n_items
        return loss + avss_loss(out.x_audio.float(), out.x_visual.float(), pa, pv, present, mask)


def avss_loss(
    x_audio: torch.Tensor,
    x_visual: torch.Tensor,
    pseudo_audio: torch.Tensor,
    pseudo_visual: torch.Tensor,
    present: torch.Tensor,
    mask: torch.Tensor,
    eps: float = LEAP_EPS,
) -> torch.Tensor:
    """LEAP's audio-visual semantic similarity loss: the mean squared error between ``relu(cos(a_t, v_s))`` of the
    encoder's outputs and ``sigmoid(log(k_ts)) + eps``, where ``k_ts`` counts the classes the audio pseudo labels
    of second t share with the visual ones of second s, over the most classes either modality has in any second
    of the video; a mean over the pairs of real seconds of the videos with pseudo labels."""
    most = torch.maximum(pseudo_audio.sum(-1).amax(-1), pseudo_visual.sum(-1).amax(-1))
    most = torch.where(most == 0, torch.full_like(most, 1e-8), most)
    target = (
        torch.sigmoid(torch.log(torch.bmm(pseudo_audio, pseudo_visual.transpose(1, 2)) / most[:, None, None])) + eps
    )
    pred = F.relu(torch.bmm(F.normalize(x_audio, dim=-1), F.normalize(x_visual, dim=-1).transpose(1, 2)))
    pairs = (mask[:, :, None] & mask[:, None, :]).float() * present[:, None, None]
    return (F.mse_loss(pred, target, reduction="none") * pairs).sum() / pairs.sum().clamp(min=1.0)
