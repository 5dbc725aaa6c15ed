"""Hybrid Attention Network (HAN, Tian et al. ECCV 2020), as the official code computes it.

One HAN layer is shared by both streams (same weights, both LayerNorms); each stream attends
to itself and to the other stream, post-norm, scale 1/sqrt(d), no positional encoding.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..features.kinds import SEGMENTS, SLOTS, default_shapes
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

    def forward(
        self,
        query: torch.Tensor,
        other: torch.Tensor | None = None,
        padding: torch.Tensor | None = None,
        cross: bool = True,
    ) -> torch.Tensor:
        """``padding`` (B, T) True at padded segments: no query attends to them (both streams share it).
        ``cross=False`` skips the cross-modal attention of a layer that has one (JoMoLD's ``with_ca``)."""
        # same order as the official layer (cross first, then self): dropout draws stay identical
        c = None
        if self.cm_attn is not None and cross:
            c = self.cm_attn(query, other, other, key_padding_mask=padding, need_weights=False)[0]
        s = self.self_attn(query, query, query, key_padding_mask=padding, need_weights=False)[0]
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

    def forward(
        self, x_a: torch.Tensor, x_v: torch.Tensor, mask: torch.Tensor | None = None, cross: bool = True
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``mask`` (B, T): True for real segments (None: all real); padded segments are never attended to.
        ``cross=False``: self-attention only in every layer."""
        padding = None if mask is None else ~mask
        out_a, out_v = x_a, x_v
        for layer in self.layers:
            src_a, src_v = (x_a, x_v) if self.stacking == "official" else (out_a, out_v)
            out_a = layer(src_a, src_v, padding, cross)
            out_v = layer(src_v, out_a if self.stacking == "valor" else src_a, padding, cross)
        return out_a, out_v


def _segment_groups(slot: str, rows: int) -> int:
    """How many rows of a ``slot`` input make one second (a multiple of the 10 segments); ValueError if none."""
    if rows % SEGMENTS or rows <= 0:
        raise ValueError(f"{slot} input with {rows} rows: expected a multiple of {SEGMENTS} (rows per second)")
    return rows // SEGMENTS


def feature_map_resampling(rows: int, points: int = 1024) -> torch.Tensor:
    """The ``(10, rows)`` matrix that takes a ``(rows, D)`` audio feature map to 10 segments as VALOR does
    with CLAP's (64, 768) map: the rows as a 2 x ``rows/2`` map, bicubic to 2 x ``points``, the mean of
    the 2 rows, an adaptive average to 10. Every step is linear in the rows, so it is computed once on
    the identity (in float64) and applied as a matrix; its rows sum to 1."""
    if rows % 2 or rows < 4:
        raise ValueError(f"audio feature map with {rows} rows: expected an even number, at least 4 (2 x T)")
    eye = torch.eye(rows, dtype=torch.float64).unsqueeze(0)  # (1, rows as the feature dim, rows)
    x = eye.view(1, rows, 2, rows // 2)
    x = F.interpolate(x, size=(2, points), mode="bicubic").mean(dim=2)  # (1, rows, points)
    return F.adaptive_avg_pool1d(x, SEGMENTS)[0].T.contiguous()  # (10, rows)


class AVInputs(nn.Module):
    """Project the three inputs to two ``(B, 10, d)`` streams; ``shapes`` (slot -> (rows, width), default
    the HAN features: audio (10,128), 2D (80,2048), 3D (10,512)) sets the layers' widths and how rows
    become the 10 segments:

    - audio with 10 rows: one per segment; any other (even) row count is a feature map (CLAP's 64 =
      2 x 32) resampled as VALOR does (:func:`feature_map_resampling`), then ``fc_a``;
    - 2D / 3D visual: ``rows / 10`` rows per second, averaged (ResNet-152's 8 frames; CLIP's 1), then
      ``fc_v`` / ``fc_st``; then ``fc_fusion`` of the two, as HAN.
    """

    def __init__(self, d_model: int = 512, shapes: dict[str, tuple[int, int]] | None = None):
        super().__init__()
        shapes = {**default_shapes(), **(shapes or {})}
        self.shapes = {slot: (int(shapes[slot][0]), int(shapes[slot][1])) for slot in SLOTS}
        (a_rows, a_dim), (s_rows, s_dim), (st_rows, st_dim) = (self.shapes[slot] for slot in SLOTS)
        self.fc_a = nn.Linear(a_dim, d_model)
        if a_rows != SEGMENTS:
            # not in the state dict: a fixed function of the shape, rebuilt with the model
            self.register_buffer("audio_resampling", feature_map_resampling(a_rows).float(), persistent=False)
            # the published model runs fc_a on the 2 x 1024 resampled points: count it so
            self.fc_a.published_rows_factor = 2 * 1024 / SEGMENTS
        else:
            self.audio_resampling = None
        self.fc_v = nn.Linear(s_dim, d_model)
        self.frames_per_segment = _segment_groups("visual_2d", s_rows)
        # the published model runs fc_v on every frame: cost counts in its convention scale by this
        self.fc_v.published_rows_factor = self.frames_per_segment
        self.fc_st = nn.Linear(st_dim, d_model)
        self.clips_per_segment = _segment_groups("visual_3d", st_rows)
        self.fc_fusion = nn.Linear(2 * d_model, d_model)

    def segment_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio features ``(B, rows, D)`` as ``(B, 10, D)``."""
        if self.audio_resampling is None:
            return audio
        return torch.matmul(self.audio_resampling.to(audio.dtype), audio)

    @staticmethod
    def segment_mean(x: torch.Tensor, per_segment: int) -> torch.Tensor:
        """``(B, 10 * per_segment, D)`` -> the mean of each second's rows, ``(B, 10, D)``."""
        if per_segment == 1:
            return x
        b, n, d = x.shape
        return x.view(b, n // per_segment, per_segment, d).mean(dim=2)

    def forward(self, audio, video_s, video_st) -> tuple[torch.Tensor, torch.Tensor]:
        # The published models project every row, then average (or resample) them. A linear layer commutes
        # with any weighting whose weights sum to 1, so averaging first is the same function (and gradient)
        # with less work on the largest inputs; tests/test_models.py checks both orders agree to 1e-5.
        x_a = self.fc_a(self.segment_audio(audio))
        s = self.fc_v(self.segment_mean(video_s, self.frames_per_segment))
        st = self.fc_st(self.segment_mean(video_st, self.clips_per_segment))
        x_v = self.fc_fusion(torch.cat([s, st], dim=-1))
        return x_a, x_v


class HAN(MMILModel):
    """HAN + MMIL: features -> video-level, modality-level and segment-level probabilities."""

    def __init__(
        self,
        num_classes: int,
        d_model: int = 512,
        num_layers: int = 1,
        nhead: int = 1,
        dim_feedforward: int = 512,
        dropout: float = 0.1,
        stacking: str = "official",
        shapes: dict[str, tuple[int, int]] | None = None,
    ):
        super().__init__(
            AVInputs(d_model, shapes),
            HANEncoder(
                num_layers, stacking, d_model=d_model, nhead=nhead, dim_feedforward=dim_feedforward, dropout=dropout
            ),
            num_classes,
            d_model,
        )
