"""The shape every parsing model here shares: inputs -> temporal encoder -> segment scores -> MMIL.

HAN, AVE and AVSDN differ in how the two (B, T, 512) streams are built and contextualised;
all of them score segments either with MMIL's own head (``sigmoid(fc_prob(x))``) or with the
CM-Co module, and pool with the same attentive MMIL pooling.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .mmil import MMILHead, MMILOutput


class MMILModel(nn.Module):
    """``inputs(audio, video_s, video_st) -> (x_a, x_v)``, ``encoder(x_a, x_v) -> (x_a', x_v')``, then
    MMIL over segment probabilities from ``cooccurrence`` (CM-Co, models/cmco.py) when given, else from ``fc_prob``."""

    def __init__(
        self,
        inputs: nn.Module,
        encoder: nn.Module,
        num_classes: int = 25,
        d_model: int = 512,
        cooccurrence: nn.Module | None = None,
    ):
        super().__init__()
        self.inputs = inputs
        self.encoder = encoder
        if cooccurrence is not None:
            self.cooccurrence = cooccurrence
        self.mmil = MMILHead(d_model, num_classes, prob_head=cooccurrence is None)

    @property
    def input_shapes(self) -> dict[str, tuple[int, int]]:
        """Slot -> the (rows, width) of one video's input the network was built for."""
        return dict(self.inputs.shapes)

    def forward(self, audio: torch.Tensor, video_s: torch.Tensor, video_st: torch.Tensor) -> MMILOutput:
        x_a, x_v = self.inputs(audio, video_s, video_st)
        out_a, out_v = self.encoder(x_a, x_v)
        cooc = getattr(self, "cooccurrence", None)
        out = self.mmil(out_a, out_v, frame_prob=cooc(out_a, out_v) if cooc is not None else None)
        return out._replace(x_visual_in=x_v)  # MA's contrastive loss uses the pre-encoder visual features
