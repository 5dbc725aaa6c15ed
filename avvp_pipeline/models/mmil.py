"""Multimodal multiple-instance learning (MMIL) attentive pooling (HAN, ECCV 2020)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn as nn

from .padding import fill_padding

NO_WEIGHT = float("-inf")  # a padded segment's attention logit: weight 0 in the softmax over time


class MMILOutput(NamedTuple):
    """Outputs of MMIL pooling: video-level and per-segment probabilities."""

    global_prob: torch.Tensor  # (B, C)
    audio_prob: torch.Tensor  # (B, C)  p_a
    visual_prob: torch.Tensor  # (B, C)  p_v
    frame_prob: torch.Tensor  # (B, T, 2, C) segment probabilities, modality 0 audio / 1 visual
    frame_att_logits: torch.Tensor  # (B, T, 2, C) pre-softmax temporal attention (CM-S uses these)
    x_audio: torch.Tensor | None = None  # (B, T, d) post-HAN audio features (CM-S aggregates these)
    x_visual: torch.Tensor | None = None  # (B, T, d) post-HAN visual features
    x_visual_in: torch.Tensor | None = None  # (B, T, d) fused visual features before HAN
    frame_logits: torch.Tensor | None = None  # (B, T, 2, C) fc_prob's logits (MMIL's own head; VALOR's loss)
    mask: torch.Tensor | None = None  # (B, T) True for real segments; None: every segment is real


def mmil_pool(
    frame_prob: torch.Tensor,
    frame_att_logits: torch.Tensor,
    av_att_logits: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> MMILOutput:
    """Pool ``(B, T, 2, C)`` segment probabilities with attention over time and over modalities.

    ``global = sum_t sum_m W * M * P`` with W softmaxed over time (dim 1) and M over the two
    modalities (dim 2); ``p_a``/``p_v`` are the per-modality temporal sums ``sum_t W * P``.
    With a padding ``mask`` (B, T) the softmax over time runs over the real segments only.
    """
    w = torch.softmax(frame_att_logits if mask is None else fill_padding(frame_att_logits, mask, NO_WEIGHT), dim=1)
    m = torch.softmax(av_att_logits, dim=2)
    temporal = w * frame_prob
    global_prob = (temporal * m).sum(dim=2).sum(dim=1)
    return MMILOutput(
        global_prob,
        temporal[:, :, 0].sum(dim=1),
        temporal[:, :, 1].sum(dim=1),
        frame_prob,
        frame_att_logits,
        mask=mask,
    )


def label_aware_pool(
    x: torch.Tensor, att_logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """CM-S label-aware pooling (Lin et al., NeurIPS 2021, Eq. 7):
    ``f[i] = sum_t softmax_t(sum_c Z[i,t,c] y[i,c]) x[i,t]``; ``x`` (N,T,d), ``Z`` (N,T,C), ``y`` (N,C).

    A video with an empty label gets uniform weights (the logits are all 0), i.e. mean pooling; with a
    padding ``mask`` (N, T) the softmax runs over the real segments only.
    """
    scores = (att_logits * labels[:, None, :]).sum(-1)  # (N, T)
    weights = torch.softmax(scores if mask is None else fill_padding(scores, mask, NO_WEIGHT), dim=1)
    return (weights.unsqueeze(-1) * x).sum(dim=1)


class MMILHead(nn.Module):
    """The three Linear(d -> C) heads shared by both modalities: probability, time and modality attention."""

    def __init__(self, d_model: int, num_classes: int, prob_head: bool = True):
        super().__init__()
        # CM-Co scores segments itself: it builds no fc_prob (the published code keeps an unused one)
        self.fc_prob = nn.Linear(d_model, num_classes) if prob_head else None
        self.fc_frame_att = nn.Linear(d_model, num_classes)
        self.fc_av_att = nn.Linear(d_model, num_classes)

    def forward(
        self,
        x_audio: torch.Tensor,
        x_visual: torch.Tensor,
        frame_prob: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> MMILOutput:
        """``x_*`` (B, T, d); ``frame_prob`` replaces ``sigmoid(fc_prob(x))`` when given (CM-Co). With a
        padding ``mask`` (B, T), every per-segment output is 0 at the padded segments."""
        if mask is not None:
            x_audio, x_visual = fill_padding(x_audio, mask), fill_padding(x_visual, mask)
        x = torch.stack([x_audio, x_visual], dim=2)  # (B, T, 2, d)
        logits = None
        if frame_prob is None:
            logits = self.fc_prob(x)
            frame_prob = torch.sigmoid(logits)
        att = self.fc_frame_att(x)
        if mask is not None:
            logits, frame_prob, att = (None if t is None else fill_padding(t, mask) for t in (logits, frame_prob, att))
        out = mmil_pool(frame_prob, att, self.fc_av_att(x), mask)
        return out._replace(x_audio=x_audio, x_visual=x_visual, frame_logits=logits)
