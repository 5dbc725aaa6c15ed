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
    def fit(self, audio: torch.Tensor, video_s: torch.Tensor, video_st: torch.Tensor, eps: float = 1e-6) -> None:
        """Set the statistics from training features ``(N, T, D)``."""
        for name, x in (("audio", audio), ("video_s", video_s), ("video_st", video_st)):
            flat = x.reshape(-1, x.shape[-1]).float()
            getattr(self, f"{name}_mean").copy_(flat.mean(0))
            getattr(self, f"{name}_std").copy_(flat.std(0).clamp_min(eps))

    def forward(self, audio, video_s, video_st):
        return self.model(
            (audio - self.audio_mean) / self.audio_std,
            (video_s - self.video_s_mean) / self.video_s_std,
            (video_st - self.video_st_mean) / self.video_st_std,
        )
