"""The shape every parsing model here shares: inputs -> temporal encoder -> segment scores -> MMIL.

HAN, AVE and AVSDN differ in how the two (B, T, 512) streams are built and contextualised;
all of them score segments either with MMIL's own head (``sigmoid(fc_prob(x))``) or with the
CM-Co module, and pool with the same attentive MMIL pooling.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .mmil import MMILHead, MMILOutput
from .padding import checked_mask, fill_padding


class MMILModel(nn.Module):
    """``inputs(audio, video_s, video_st) -> (x_a, x_v)``, ``encoder(x_a, x_v) -> (x_a', x_v')``, then
    MMIL over segment probabilities from ``cooccurrence`` (CM-Co, models/cmco.py) when given, else from ``fc_prob``."""

    def __init__(
        self,
        inputs: nn.Module,
        encoder: nn.Module,
        num_classes: int,
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

    def forward(
        self, audio: torch.Tensor, video_s: torch.Tensor, video_st: torch.Tensor, mask: torch.Tensor | None = None
    ) -> MMILOutput:
        """Inputs of ``T`` segments (``T`` times each input's rows per second); ``mask`` (B, T) True for the real
        segments of a padded batch (models/padding.py). Padding changes no real output, and every per-segment
        output is 0 at the padded segments."""
        x_a, x_v = self.inputs(audio, video_s, video_st)
        if mask is not None:
            mask = self._padding(mask, *x_a.shape[:2])
        out_a, out_v = self.encoder(x_a, x_v, mask)
        cooc = getattr(self, "cooccurrence", None)  # scores each segment on its own: padding cannot reach it
        out = self.mmil(out_a, out_v, frame_prob=cooc(out_a, out_v) if cooc is not None else None, mask=mask)
        # MA's contrastive loss uses the pre-encoder visual features
        return out._replace(x_visual_in=x_v if mask is None else fill_padding(x_v, mask))

    def _padding(self, mask: torch.Tensor, batch: int, length: int) -> torch.Tensor | None:
        """The checked ``mask`` (None if all real); ValueError for a model that cannot take padding."""
        mask = checked_mask(mask, batch, length)
        if mask is not None and self.inputs.audio_resampling is not None:
            rows = self.inputs.shapes["audio"][0]
            raise ValueError(
                f"a padded batch needs audio features per second: this model resamples a {rows}-row audio "
                "feature map of a whole clip to its segments"
            )
        return mask
