"""Training losses (method.md §1.5)."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..models.mmil import MMILOutput

EPS = 1e-7


def smooth(labels: torch.Tensor, s: float) -> torch.Tensor:
    """Label smoothing target ``s * y + (1 - s) * 0.5``."""
    return s * labels + (1.0 - s) * 0.5


def han_loss(out: MMILOutput, labels: torch.Tensor, audio_smoothing: float = 1.0,
             visual_smoothing: float = 0.9) -> torch.Tensor:
    """Individual guided learning: ``BCE(global, y) + BCE(p_a, s_a y + ..) + BCE(p_v, s_v y + ..)``."""
    g = out.global_prob.clamp(EPS, 1 - EPS)
    a = out.audio_prob.clamp(EPS, 1 - EPS)
    v = out.visual_prob.clamp(EPS, 1 - EPS)
    return (F.binary_cross_entropy(g, labels)
            + F.binary_cross_entropy(a, smooth(labels, audio_smoothing))
            + F.binary_cross_entropy(v, smooth(labels, visual_smoothing)))
