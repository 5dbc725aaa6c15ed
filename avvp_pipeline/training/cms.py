"""CM-S: cross-video shared semantics (Lin et al., NeurIPS 2021, as the official code computes it).

Every step doubles the batch with swapped pairs (audio of video i with the visual stream of a
random other video r[i]); label-aware temporal pooling aggregates each stream with the
pre-softmax MMIL attention logits of the video's own (refined) labels; a supervised contrastive
loss pulls an audio aggregate towards visual aggregates of videos sharing a class.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def swap_partners(batch_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """``r[i]`` uniform over ``{0..B-1} \\ {i}``, drawn independently per i (not a permutation)."""
    if batch_size < 2:
        raise ValueError("CM-S batch doubling needs at least 2 videos per batch")
    offset = torch.randint(1, batch_size, (batch_size,), generator=generator)
    return (torch.arange(batch_size) + offset) % batch_size


def double_batch(audio, video_s, video_st, y_audio, y_visual, partners: torch.Tensor):
    """2B batch: audio ``[a; a]``, visual ``[v; v[r]]``, labels ``[ya; ya]`` and ``[yv; yv[r]]``."""
    r = partners.to(audio.device)
    return (
        torch.cat([audio, audio]),
        torch.cat([video_s, video_s[r]]),
        torch.cat([video_st, video_st[r]]),
        torch.cat([y_audio, y_audio]),
        torch.cat([y_visual, y_visual[r]]),
    )


def doubled_mask(mask: torch.Tensor, partners: torch.Tensor) -> torch.Tensor:
    """The padding mask of :func:`double_batch`'s 2B videos: ``[m; m & m[r]]``. A swapped video is as long as
    the shorter of its two streams: past it, one of them is padding, not a real segment."""
    r = partners.to(mask.device)
    return torch.cat([mask, mask & mask[r]])


def cms_loss(
    f_audio: torch.Tensor,
    f_visual: torch.Tensor,
    y_audio: torch.Tensor,
    y_visual: torch.Tensor,
    temperature: float = 1.0,
) -> torch.Tensor:
    """Eq. 8 as coded: soft-target cross-entropy of audio->visual cosine similarities.

    Positives of audio row i are the visual rows j whose label shares a class with i's (``!= 0``
    tests, clipped to 1), normalised per row; rows without positives add 0; mean over all rows.
    """
    sim = F.normalize(f_audio, dim=-1) @ F.normalize(f_visual, dim=-1).T / temperature
    pos = ((y_audio != 0).float() @ (y_visual != 0).float().T).clamp(max=1.0)
    target = pos / (pos.sum(dim=1, keepdim=True) + 1e-10)
    return -(target * F.log_softmax(sim, dim=1)).sum(dim=1).mean()
