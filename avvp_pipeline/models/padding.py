"""Padded batches of videos of different lengths: a ``(B, T)`` bool mask, True for a video's real segments.

Each video's real segments come first, then its padding, and every video has at least one real segment.
A mask that is None or all True means a batch of full-length videos: the models and losses then run
exactly the code they run without a mask.
"""

from __future__ import annotations

import torch


def checked_mask(mask: torch.Tensor | None, batch: int, length: int) -> torch.Tensor | None:
    """``mask`` if it is a valid padding mask of ``batch`` videos of ``length`` segments with some padding;
    None when it is None or all True. ValueError naming the problem otherwise."""
    if mask is None:
        return None
    if mask.dtype != torch.bool or tuple(mask.shape) != (batch, length):
        raise ValueError(
            f"padding mask of shape {tuple(mask.shape)} and dtype {mask.dtype}: "
            f"expected ({batch}, {length}) bool, one row per video and one column per segment"
        )
    lengths = mask.sum(dim=1)
    if not bool((lengths > 0).all()):
        raise ValueError("padding mask: a video without any real segment")
    if not torch.equal(mask, first_segments(lengths, length)):
        raise ValueError("padding mask: each video's real segments must come first, then its padding")
    return None if bool(lengths.min() == length) else mask


def first_segments(lengths: torch.Tensor, length: int) -> torch.Tensor:
    """The ``(B, length)`` mask of videos with ``lengths`` real segments."""
    return torch.arange(length, device=lengths.device) < lengths[:, None]


def fill_padding(x: torch.Tensor, mask: torch.Tensor, value: float = 0.0) -> torch.Tensor:
    """``x`` ``(B, T, ...)`` with ``value`` at the padded segments (-inf: no weight in a softmax over T)."""
    return x.masked_fill(~mask.view(*mask.shape, *(1,) * (x.dim() - 2)), value)
