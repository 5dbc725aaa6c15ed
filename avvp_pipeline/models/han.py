"""Hybrid Attention Network (HAN, Tian et al. ECCV 2020), as the official code computes it.

One HAN layer is shared by both streams (same weights, both LayerNorms); each stream attends
to itself and to the other stream, post-norm, scale 1/sqrt(d), no positional encoding.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .skeleton import MMILModel


class HANLayer(nn.Module):
    """Self + cross-modal attention with a summed residual, LayerNorm, FFN, LayerNorm."""

    def __init__(
        self, d_model: int = 512, nhead: int = 1, dim_feedforward: int = 512, dropout: float = 0.1, cross: bool = True
    ):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True)
        # cross=False: self-attention only (the "A Only / V Only / AV" ablations of CM-Co, Table 3)
        self.cm_attn = nn.MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=True) if cross else None
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)
        self.dropout_cm = nn.Dropout(dropout)
        self.dropout_self = nn.Dropout(dropout)
        self.dropout_ffn = nn.Dropout(dropout)

    def forward(self, query: torch.Tensor, other: torch.Tensor | None = None) -> torch.Tensor:
        # same order as the official layer (cross first, then self): dropout draws stay identical
        c = self.cm_attn(query, other, other, need_weights=False)[0] if self.cm_attn is not None else None
        s = self.self_attn(query, query, query, need_weights=False)[0]
        h = query + self.dropout_cm(c) + self.dropout_self(s) if c is not None else query + self.dropout_self(s)
        h = self.norm1(h)
        ffn = self.linear2(self.dropout(F.relu(self.linear1(h))))
        return self.norm2(h + self.dropout_ffn(ffn))


STACKINGS = ("official", "sequential", "valor")


class HANEncoder(nn.Module):
    """``num_layers`` HAN layers. ``stacking='official'`` applies every layer to the original
    inputs and keeps the last output (the published Encoder's behaviour); ``'sequential'`` chains them,
    both streams from the previous layer's outputs; ``'valor'`` chains them with the visual step reading
    the audio stream this layer has just updated (VALOR's encoder; it differs even with one layer)."""

    def __init__(self, num_layers: int = 1, stacking: str = "official", **layer_kwargs):
        super().__init__()
        if stacking not in STACKINGS:
            raise ValueError(f"stacking must be one of {', '.join(STACKINGS)}, got {stacking!r}")
        self.layers = nn.ModuleList(HANLayer(**layer_kwargs) for _ in range(num_layers))
        self.stacking = stacking

    def forward(self, x_a: torch.Tensor, x_v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out_a, out_v = x_a, x_v
        for layer in self.layers:
            src_a, src_v = (x_a, x_v) if self.stacking == "official" else (out_a, out_v)
            out_a = layer(src_a, src_v)
            out_v = layer(src_v, out_a if self.stacking == "valor" else src_a)
        return out_a, out_v


class AVInputs(nn.Module):
    """Project audio (T,128), 2D (8T,2048) and 3D (T,512) features to two (B,T,d) streams."""

    def __init__(
        self,
        d_model: int = 512,
        audio_dim: int = 128,
        video_s_dim: int = 2048,
        video_st_dim: int = 512,
        frames_per_segment: int = 8,
    ):
        super().__init__()
        self.fc_a = nn.Linear(audio_dim, d_model)
        self.fc_v = nn.Linear(video_s_dim, d_model)
        # the published model runs fc_v on every frame: cost counts in its convention scale by this
        self.fc_v.published_rows_factor = frames_per_segment
        self.fc_st = nn.Linear(video_st_dim, d_model)
        self.fc_fusion = nn.Linear(2 * d_model, d_model)
        self.frames_per_segment = frames_per_segment

    def forward(self, audio, video_s, video_st) -> tuple[torch.Tensor, torch.Tensor]:
        x_a = self.fc_a(audio)
        # The published model projects each of the 8 frames of a second, then averages them. A linear
        # layer commutes with the mean, so averaging first is the same function (and gradient) with 8x
        # less work on the largest input; tests/test_models.py checks both agree to 1e-5.
        b, n, d = video_s.shape
        s = self.fc_v(video_s.view(b, n // self.frames_per_segment, self.frames_per_segment, d).mean(dim=2))
        x_v = self.fc_fusion(torch.cat([s, self.fc_st(video_st)], dim=-1))
        return x_a, x_v


class HAN(MMILModel):
    """HAN + MMIL: features -> video-level, modality-level and segment-level probabilities."""

    def __init__(
        self,
        num_classes: int = 25,
        d_model: int = 512,
        num_layers: int = 1,
        nhead: int = 1,
        dim_feedforward: int = 512,
        dropout: float = 0.1,
        stacking: str = "official",
    ):
        super().__init__(
            AVInputs(d_model),
            HANEncoder(
                num_layers, stacking, d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward, dropout=dropout
            ),
            num_classes,
            d_model,
        )
