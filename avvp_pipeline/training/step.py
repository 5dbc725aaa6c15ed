"""One training step of a row: its loss on a batch, and the backward pass and optimiser update after it.

The eager loop (:func:`training.trainer.train_epoch`) and the CUDA-graph step (:mod:`training.graphed`) both
run these functions, so the two compute the same thing by construction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from ..models.rows import spec
from .cms import double_batch, doubled_mask, swap_partners
from .config import TrainConfig
from .jomold import denoised_loss, estimator_loss, flip_labels, ramped_ratios
from .losses import cms_term, guided_loss, leap_loss, ma_guided_loss, smooth, valor_loss
from .refine import ma_contrastive_loss

if TYPE_CHECKING:
    from ..data.feature_sets import FeatureSet

__all__ = ["batch_partners", "step_loss", "backward_step"]


def batch_partners(name: str, batch_size: int, generator: torch.Generator) -> torch.Tensor | None:
    """The CM-S swap partners of one batch of ``batch_size`` videos of the row ``name``, drawn from
    ``generator``; None when the row has no CM-S or the batch has a single video (no partner to swap with)."""
    return swap_partners(batch_size, generator) if spec(name).cms and batch_size >= 2 else None


def step_loss(
    model: torch.nn.Module,
    name: str,
    fs: FeatureSet,
    idx: torch.Tensor,
    epoch: int,
    cfg: TrainConfig,
    partners: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    position: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Loss of the batch ``idx`` of ``fs`` for the row ``name``: guided BCE, plus CM-S on a batch doubled
    with ``partners`` (:func:`batch_partners`) when the row has it. ``mask`` (B, T): the real segments of a
    padded batch, whose features are cut to its T segments (None: every video is full length). ``position``:
    (0-based index of the batch, batches in the epoch), which JoMoLD's label flips ramp in with."""
    s = spec(name)
    audio, video_s, video_st = fs.batch(idx, None if mask is None else mask.shape[1])
    y = fs.labels[idx]
    if s.jomold:
        return _jomold_loss(model, name, fs, (audio, video_s, video_st), y, epoch, cfg, mask, position)
    if s.pseudo_labels:  # VALOR: video-level BCE + segment-level BCE against the pseudo labels
        if fs.pseudo_audio is None:
            raise ValueError(
                f"model {name} trains on segment-level pseudo labels: pass them (avvp train --pseudo-labels)"
            )
        out = model(audio, video_s, video_st, mask)
        if s.arch == "leap":
            pseudo = (fs.pseudo_audio[idx], fs.pseudo_visual[idx], fs.pseudo_present[idx])
            return leap_loss(out, y, *pseudo, s.video_loss)
        return valor_loss(out, y, fs.pseudo_audio[idx], fs.pseudo_visual[idx], fs.pseudo_present[idx])
    if s.labels == "refined":
        if fs.labels_audio is None:
            raise ValueError(f"model {name} trains on MA-refined labels: pass them (avvp train --refined)")
        y_audio, y_visual = fs.labels_audio[idx], fs.labels_visual[idx]
    else:
        y_audio = y_visual = y
    y_global = torch.maximum(y_audio, y_visual)
    s_a, s_v = cfg.smoothing(epoch)
    if s.cms and len(idx) >= 2 and partners is None:
        raise ValueError(f"model {name} doubles each batch for CM-S: pass its swap partners (batch_partners)")
    if not s.cms or len(idx) < 2:  # a last batch of one video has no partner to swap with
        out = model(audio, video_s, video_st, mask)
        if s.ma_targets:  # MA: global target aliases the audio label; dropped visual classes get a hard 0
            loss = ma_guided_loss(out, y, y_audio, y_visual, s_a, s_v)
        else:
            loss = guided_loss(out, y_global, y_audio, y_visual, s_a, s_v)
        return loss + ma_contrastive_loss(out.x_audio, out.x_visual_in, mask=out.mask) if s.ma_loss else loss
    audio, video_s, video_st, y_audio2, y_visual2 = double_batch(audio, video_s, video_st, y_audio, y_visual, partners)
    out = model(audio, video_s, video_st, None if mask is None else doubled_mask(mask, partners))
    loss = guided_loss(out, y_global, y_audio, y_visual, s_a, s_v)
    if epoch > cfg.init_epoch:
        loss = loss + cfg.cms_weight * cms_term(out, y_audio2, y_visual2, cfg.temperature)
    return loss


def _jomold_loss(model, name, fs, inputs, y, epoch, cfg, mask, position) -> torch.Tensor:
    """JoMoLD's stage-1 loss, or stage 3's: labels flipped after a gradient-free ranking pass without
    cross-modal attention (in training mode, as the official loop runs it), then the loss with it."""
    s_a, s_v = cfg.smoothing(epoch)
    if spec(name).jomold == "estimator":
        return estimator_loss(model(*inputs, mask), y, s_a, s_v)
    if fs.noise_ratios is None:
        raise ValueError(f"model {name} flips labels at per-class noise ratios: pass them (avvp train --noise-ratios)")
    if position is None:
        raise ValueError(f"model {name} ramps its label flips in per batch: pass the batch's position in the epoch")
    ratios = (ramped_ratios(r, epoch, *position) for r in fs.noise_ratios)
    with torch.no_grad():
        ranked = model(*inputs, mask, cross=False)
    t_audio, t_visual = flip_labels(ranked, smooth(y, s_a), smooth(y, s_v), *ratios)
    return denoised_loss(model(*inputs, mask), y, t_audio, t_visual)


def backward_step(
    model: torch.nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor, cfg: TrainConfig
) -> None:
    """Backward pass of ``loss``, gradient clipping (``grad_clip`` > 0) and one optimiser step (the gradients
    must have been cleared before)."""
    loss.backward()
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
    optimizer.step()
