"""Optional per-dimension standardisation of the input features (config ``train.feature_norm``).

Off in the published recipe (``none``). ``standardize`` subtracts the training set's mean and
divides by its std per feature dimension; the statistics are buffers of the model, so they
travel inside ``model.pt`` and are applied identically at evaluation and parsing. Useful for
features whose scale is arbitrary, e.g. those of randomly initialised extractors.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from ..features.kinds import SLOTS

#: The model's argument per input slot.
ARGUMENTS = dict(zip(SLOTS, ("audio", "video_s", "video_st")))


class Standardized(nn.Module):
    """Wrap a model taking ``(audio, video_s, video_st)`` with fixed input standardisation (one mean and
    std per feature dimension of each input, widths from the model's ``input_shapes``)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        for slot, (_, dim) in model.input_shapes.items():
            self.register_buffer(f"{ARGUMENTS[slot]}_mean", torch.zeros(dim))
            self.register_buffer(f"{ARGUMENTS[slot]}_std", torch.ones(dim))

    @property
    def input_shapes(self) -> dict[str, tuple[int, int]]:
        return self.model.input_shapes

    @torch.no_grad()
    def fit(
        self,
        audio: torch.Tensor,
        video_s: torch.Tensor,
        video_st: torch.Tensor,
        eps: float = 1e-6,
        mask: torch.Tensor | None = None,
    ) -> None:
        """Set the statistics from training features ``(N, rows, D)``; with a padding ``mask`` (N, T), from
        the rows of real segments only."""
        for name, x in (("audio", audio), ("video_s", video_s), ("video_st", video_st)):
            flat = (x.reshape(-1, x.shape[-1]) if mask is None else real_rows(name, x, mask)).float()
            getattr(self, f"{name}_mean").copy_(flat.mean(0))
            getattr(self, f"{name}_std").copy_(flat.std(0).clamp_min(eps))

    def forward(self, audio, video_s, video_st, mask: torch.Tensor | None = None, **kwargs):
        """The wrapped model on the standardised inputs (with its padding ``mask`` and other ``kwargs``)."""
        return self.model(
            (audio - self.audio_mean) / self.audio_std,
            (video_s - self.video_s_mean) / self.video_s_std,
            (video_st - self.video_st_mean) / self.video_st_std,
            mask,
            **kwargs,
        )


def real_rows(name: str, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The ``(rows, D)`` rows of ``x`` ``(N, rows per video, D)`` that belong to the real segments of ``mask``."""
    n, rows, _ = x.shape
    if rows % mask.shape[1] or n != mask.shape[0]:
        raise ValueError(f"{name} input of shape {tuple(x.shape)} does not split into the mask's {tuple(mask.shape)}")
    return x[mask.repeat_interleave(rows // mask.shape[1], dim=1)]
