"""JoMoLD's network (Cheng et al., ECCV 2022), as its official code builds it: HAN + MMIL with two changes.

- The cross-modal attention can be switched off per forward pass (``cross``): the noise estimator never
  uses it, the denoised model uses it for its loss and evaluation and ranks its labels without it.
- Dropout (0.5) on the encoded *visual* stream before the segment head; the audio stream has none.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .han import HAN
from .mmil import MMILOutput
from .padding import fill_padding

VISUAL_DROPOUT = 0.5  # the official MMIL_Net's cls_dropout


class JoMoLDNet(HAN):
    """HAN + MMIL with JoMoLD's switchable cross-modal attention and visual dropout before the head.

    ``cross_attention`` is the default of :meth:`forward`'s ``cross`` (what training's loss and evaluation
    use). ``out.x_visual`` holds the encoded visual stream *before* the dropout (JoMoLD's contrastive loss
    compares it with the encoded audio)."""

    def __init__(self, cross_attention: bool = True, visual_dropout: float = VISUAL_DROPOUT, **han_kwargs):
        super().__init__(**han_kwargs)
        self.cross_attention = cross_attention
        self.visual_dropout = nn.Dropout(visual_dropout)

    def forward(
        self,
        audio: torch.Tensor,
        video_s: torch.Tensor,
        video_st: torch.Tensor,
        mask: torch.Tensor | None = None,
        cross: bool | None = None,
    ) -> MMILOutput:
        """As :meth:`MMILModel.forward`; ``cross`` (None: ``cross_attention``) switches the cross-modal attention."""
        x_a, x_v = self.inputs(audio, video_s, video_st)
        if mask is not None:
            mask = self._padding(mask, *x_a.shape[:2])
        out_a, out_v = self.encoder(x_a, x_v, mask, self.cross_attention if cross is None else cross)
        out = self.mmil(out_a, self.visual_dropout(out_v), mask=mask)
        if mask is not None:
            out_v, x_v = fill_padding(out_v, mask), fill_padding(x_v, mask)
        return out._replace(x_visual=out_v, x_visual_in=x_v)
