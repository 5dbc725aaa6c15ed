"""LEAP (Zhou et al., ECCV 2024): the MM-Pyramid encoder and the label-embedding decoder, as LEAP's code builds them.

The inputs are projected as HAN's (``AVInputs``). The encoder (MM-Pyramid) runs four levels; each level is
self- and cross-modal attention limited to a band of segments (half-width 1, 2, 4, 8), gated per stream,
then a dilated temporal convolution block; a per-segment attention over the four levels' outputs fuses them.
The decoder runs the class embeddings (one query per class) through layers of cross-attention to each
stream. A class's probability per modality is ``sigmoid(fc(query))`` of the last layer; its segment-level
probability is the sigmoid of the last layer's pre-softmax attention scores, averaged over heads, of a
second attention call the layer makes with its updated (not normalised) queries. The video-level
probability is the union of the thresholded modality probabilities (it carries no gradient).

Where the official code deep-copies one freshly built module into several places, the copies start equal
here too, built in the same order (the same random draws for the same seed). With a padding mask, padded
segments are never attended to, are zero before every convolution, and every per-segment output is 0 there.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..fileio import sha256_file
from ..torch_files import CheckpointError, read_torch_file
from .han import AVInputs
from .mmil import MMILOutput
from .padding import checked_mask, fill_padding
from .rows import spec

LEVELS = 4  # MM-Pyramid levels (the official --levels)
EMBED_DIM = 300  # GloVe 6B 300d class embeddings (the official release file)
ATTN_DROPOUT = 0.1  # dropout of the attention probabilities (fixed in the official code)
MASKED = -1e9  # the official mask value of a score outside the band


def _band(length: int, half: int, device) -> torch.Tensor:
    """``(T, T)`` True where segment j lies within ``half`` of segment i (the official band mask)."""
    i = torch.arange(length, device=device)
    return (i[:, None] - i[None, :]).abs() <= half


class Attention(nn.Module):
    """Multi-head attention with four ``d x d`` projections (q, k, v, out) that start as copies of one layer."""

    def __init__(self, heads: int, d_model: int, band: int | None = None):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"model width {d_model} is not a multiple of {heads} heads")
        self.heads, self.band = heads, band
        proto = nn.Linear(d_model, d_model)
        self.linears = nn.ModuleList(copy.deepcopy(proto) for _ in range(4))
        self.dropout = nn.Dropout(ATTN_DROPOUT)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, T, d)`` -> ``(B, h, T, d / h)``."""
        return x.view(x.shape[0], x.shape[1], self.heads, -1).transpose(1, 2)

    def scores(self, q, k, keys: torch.Tensor | None = None) -> torch.Tensor:
        """Pre-softmax scores ``(B, h, Tq, Tk)``; ``keys`` (B, Tk) False at keys no query may see."""
        q, k = (self._split(lin(x)) for lin, x in ((self.linears[0], q), (self.linears[1], k)))
        s = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        allowed = None if self.band is None else _band(s.shape[-1], self.band, s.device)
        if keys is not None:
            allowed = keys[:, None, None, :] if allowed is None else allowed & keys[:, None, None, :]
        return s if allowed is None else s.masked_fill(~allowed, MASKED)

    def forward(self, q, k, v, keys: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(output, pre-softmax scores)``."""
        s = self.scores(q, k, keys)
        x = torch.matmul(self.dropout(F.softmax(s, dim=-1)), self._split(self.linears[2](v)))
        return self.linears[3](x.transpose(1, 2).flatten(2)), s


class FeedForward(nn.Module):
    def __init__(self, d_model: int, ffn: int, dropout: float):
        super().__init__()
        self.w_1, self.w_2, self.dropout = nn.Linear(d_model, ffn), nn.Linear(ffn, d_model), nn.Dropout(dropout)

    def forward(self, x):
        return self.w_2(self.dropout(F.relu(self.w_1(x))))


class Residual(nn.Module):
    """``x + dropout(f(LayerNorm(x)))`` (pre-norm)."""

    def __init__(self, d_model: int, dropout: float):
        super().__init__()
        self.norm, self.dropout = nn.LayerNorm(d_model), nn.Dropout(dropout)

    def forward(self, x, f):
        return x + self.dropout(f(self.norm(x)))


class Layer(nn.Module):
    """Attention (normalised queries, raw keys and values) then feed-forward, each a pre-norm residual."""

    def __init__(self, attn: Attention, ffn: FeedForward, d_model: int, dropout: float):
        super().__init__()
        self.attn, self.ffn = attn, ffn
        self.sublayer = nn.ModuleList(Residual(d_model, dropout) for _ in range(2))

    def forward(self, q, kv, keys=None, scores: bool = False):
        q = self.sublayer[0](q, lambda x: self.attn(x, kv, kv, keys)[0])
        s = None
        if scores:  # the official decoder layer calls its attention again on the updated queries for the scores
            s = self.attn.scores(q, kv, keys)
            if self.training and self.attn.dropout.p > 0:  # its dropout draw moves the random stream: draw it too
                self.attn.dropout(F.softmax(s, dim=-1))
        return self.sublayer[1](q, self.ffn), s


class TemporalBlock(nn.Module):
    """Dilated convolution (kernel 3), ReLU, 1x1 convolution, identity residual, ReLU; ``(B, d, T)``."""

    def __init__(self, d_model: int, dilation: int):
        super().__init__()
        self.conv1 = nn.Conv1d(d_model, d_model, 3, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(d_model, d_model, 1)

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))) + x)


class PyramidLevel(nn.Module):
    """One level: banded self-attention per stream and a shared banded cross-attention, mixed by sigmoid gates."""

    def __init__(self, d_model, heads, half, ffn_proto, dropout):
        super().__init__()
        self.v_self, self.a_self, self.cross = (
            Layer(Attention(heads, d_model, half), copy.deepcopy(ffn_proto), d_model, dropout) for _ in range(3)
        )
        self.lv1, self.lv2, self.la1, self.la2 = (nn.Linear(2 * d_model, d_model) for _ in range(4))

    @staticmethod
    def _gate(g1, g2, s, c):
        sc = torch.cat((s, c), -1)
        return torch.sigmoid(g1(sc)) * s + torch.sigmoid(g2(sc)) * c

    def forward(self, v, a, keys=None):
        v_sa, a_sa = self.v_self(v, v, keys)[0], self.a_self(a, a, keys)[0]
        v_ca, a_ca = self.cross(v, a, keys)[0], self.cross(a, v, keys)[0]
        return self._gate(self.lv1, self.lv2, v_sa, v_ca), self._gate(self.la1, self.la2, a_sa, a_ca)


class MMPyramid(nn.Module):
    """MM-Pyramid: ``LEVELS`` pyramid levels, each followed by a temporal block per stream, then the fusion of
    the levels' outputs per segment (self-attention over the levels, sigmoid weights, weighted sum)."""

    def __init__(self, d_model: int = 512, ffn: int = 512, heads: int = 8, dropout: float = 0.2):
        super().__init__()
        Attention(heads, d_model)  # the official capture module builds (and never runs) one: the same draws
        proto = FeedForward(d_model, ffn, dropout)
        self.v_blocks, self.a_blocks, self.levels = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i in range(LEVELS):
            self.v_blocks.append(TemporalBlock(d_model, 2**i))
            self.a_blocks.append(TemporalBlock(d_model, 2**i))
            self.levels.append(PyramidLevel(d_model, heads, 2**i, proto, dropout))
        attn, proto = Attention(heads, d_model), FeedForward(d_model, ffn, dropout)
        self.v_fuse, self.a_fuse = (
            Layer(copy.deepcopy(attn), copy.deepcopy(proto), d_model, dropout) for _ in range(2)
        )
        self.v_select, self.a_select = nn.Linear(d_model, 1), nn.Linear(d_model, 1)

    def forward(self, v, a, mask=None):
        stages_v, stages_a = [], []
        for level, v_block, a_block in zip(self.levels, self.v_blocks, self.a_blocks):
            v, a = level(v, a, mask)
            if mask is not None:  # the convolution reads its neighbours: padding must look like its zeros
                v, a = fill_padding(v, mask), fill_padding(a, mask)
            v = v_block(v.transpose(1, 2)).transpose(1, 2)
            a = a_block(a.transpose(1, 2)).transpose(1, 2)
            stages_v.append(v)
            stages_a.append(a)
        return self._fuse(self.v_fuse, self.v_select, stages_v), self._fuse(self.a_fuse, self.a_select, stages_a)

    @staticmethod
    def _fuse(layer, select, stages):
        b, t, d = stages[0].shape
        x = torch.stack(stages, dim=2).reshape(b * t, len(stages), d)
        x = layer(x, x)[0]
        return torch.bmm(x.transpose(1, 2), torch.sigmoid(select(x))).view(b, t, d)


class LabelDecoder(nn.Module):
    """``layers`` decoder layers per stream, the class queries attending to the stream's segments."""

    def __init__(self, d_model: int = 512, ffn: int = 512, heads: int = 8, layers: int = 2, dropout: float = 0.2):
        super().__init__()
        attn, proto = Attention(heads, d_model), FeedForward(d_model, ffn, dropout)

        def layer():
            return Layer(copy.deepcopy(attn), copy.deepcopy(proto), d_model, dropout)

        pairs = [(layer(), layer()) for _ in range(layers)]
        self.visual = nn.ModuleList(p[0] for p in pairs)
        self.audio = nn.ModuleList(p[1] for p in pairs)

    def forward(self, labels, v, a, keys=None):
        """Last layer's ``(visual queries, visual scores, audio queries, audio scores)``; scores (B, h, C, T)."""
        qv = qa = labels
        for lv, la in zip(self.visual, self.audio):
            qv, sv = lv(qv, v, keys, scores=True)
            qa, sa = la(qa, a, keys, scores=True)
        return qv, sv, qa, sa


class LEAP(nn.Module):
    """LEAP's network: HAN's input projections, MM-Pyramid, the label decoder and one score per class and
    modality. ``label_embeddings`` (C, 300) is a buffer saved with the weights (:func:`read_label_embeddings`)."""

    def __init__(
        self,
        num_classes: int = 25,
        d_model: int = 512,
        ffn: int = 512,
        heads: int = 8,
        decoder_layers: int = 2,
        dropout: float = 0.2,
        shapes: dict[str, tuple[int, int]] | None = None,
    ):
        super().__init__()
        self.inputs = AVInputs(d_model, shapes)
        self.encoder = MMPyramid(d_model, ffn, heads, dropout)
        self.fc_l = nn.Linear(EMBED_DIM, d_model)
        self.decoder = LabelDecoder(d_model, ffn, heads, decoder_layers, dropout)
        self.fc_la, self.fc_lv = nn.Linear(d_model, 1), nn.Linear(d_model, 1)
        self.register_buffer("label_embeddings", torch.zeros(num_classes, EMBED_DIM))

    @property
    def input_shapes(self) -> dict[str, tuple[int, int]]:
        return dict(self.inputs.shapes)

    def set_label_embeddings(self, embeddings: torch.Tensor, source: str = "the label embeddings") -> None:
        """Use ``embeddings`` (C, 300) as the class queries; ValueError naming ``source`` if the shape differs."""
        if tuple(embeddings.shape) != tuple(self.label_embeddings.shape):
            raise ValueError(
                f"{source}: {tuple(embeddings.shape)} label embeddings, the model needs "
                f"{tuple(self.label_embeddings.shape)} (one {EMBED_DIM}-wide row per class of the data set)"
            )
        self.label_embeddings.copy_(embeddings)

    def forward(self, audio, video_s, video_st, mask: torch.Tensor | None = None) -> MMILOutput:
        x_a, x_v = self.inputs(audio, video_s, video_st)
        b, t = x_a.shape[:2]
        if mask is not None:
            mask = checked_mask(mask, b, t)
            if mask is not None and self.inputs.audio_resampling is not None:
                raise ValueError("a padded batch needs audio features per second")
        v_o, a_o = self.encoder(x_v, x_a, mask)
        labels = self.fc_l(self.label_embeddings).expand(b, -1, -1)
        qv, sv, qa, sa = self.decoder(labels, v_o, a_o, mask)
        v_prob = torch.sigmoid(self.fc_lv(qv).squeeze(-1))
        a_prob = torch.sigmoid(self.fc_la(qa).squeeze(-1))
        with torch.no_grad():  # the official video-level prediction: a union of thresholds, no gradient
            a_on, v_on = (a_prob >= 0.5).to(a_prob.dtype), (v_prob >= 0.5).to(v_prob.dtype)
            global_prob = a_on + v_on - a_on * v_on
        logits = torch.stack([sa.mean(dim=1), sv.mean(dim=1)], dim=-1).permute(0, 2, 3, 1)  # (B, T, 2, C)
        if mask is not None:
            logits, a_o, v_o, x_v = (fill_padding(x, mask) for x in (logits, a_o, v_o, x_v))
        frame_prob = torch.sigmoid(logits)
        if mask is not None:
            frame_prob = fill_padding(frame_prob, mask)
        return MMILOutput(
            global_prob, a_prob, v_prob, frame_prob, logits, a_o, v_o, x_v, frame_logits=logits, mask=mask
        )


def read_label_embeddings(path: str | Path, classes: int) -> torch.Tensor:
    """LEAP's released class embeddings (``llp_label_glove_embeddings.pt``: an ordered mapping of ``classes``
    names to 300-wide vectors, in LLP's class order), read as tensors only (never unpickled) and checked;
    :class:`CheckpointError` naming the file and the problem."""
    kind = "LEAP's label embeddings (a mapping of class names to 300-wide vectors)"
    data = read_torch_file(path, kind=kind)
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise CheckpointError(f"{path}: not {kind}: it holds a {type(data).__name__}")
    if len(data) != classes:
        raise CheckpointError(f"{path}: {len(data)} label embeddings, the data set has {classes} classes")
    for name, v in data.items():
        if not isinstance(v, torch.Tensor) or not v.is_floating_point() or tuple(v.shape) != (EMBED_DIM,):
            what = (
                f"a {type(v).__name__}" if not isinstance(v, torch.Tensor) else f"a {v.dtype} {tuple(v.shape)} tensor"
            )
            raise CheckpointError(f"{path}: class {name!r} holds {what}, not a {EMBED_DIM}-wide float vector")
        if not torch.isfinite(v).all():
            raise CheckpointError(f"{path}: class {name!r} holds NaN or infinite values")
    return torch.stack([v.float() for v in data.values()])


@dataclass(frozen=True)
class LabelEmbeddings:
    """A run's class embeddings: the ``(C, 300)`` values and the file they were read from."""

    values: torch.Tensor
    file: str
    sha256: str  # of the file: it enters the run hash, so another file retrains

    @property
    def provenance(self) -> dict:
        return {"file": self.file, "sha256": self.sha256}


def load_label_embeddings(path: str | Path, classes: int) -> LabelEmbeddings:
    """:func:`read_label_embeddings` with the file's name and sha256."""
    values = read_label_embeddings(path, classes)
    return LabelEmbeddings(values, str(path), sha256_file(path))


def require_label_embeddings(model_name: str, given: bool) -> None:
    """ValueError in one line where a LEAP row has no class embeddings, or another row is given some."""
    needs = spec(model_name).label_embeddings
    if needs and not given:
        raise ValueError(
            f"model {model_name} needs LEAP's class embeddings (the release's llp_label_glove_embeddings.pt): "
            "give --label-embeddings FILE (config train.leap.label_embeddings)"
        )
    if given and not needs:
        raise ValueError(f"model {model_name} reads no class embeddings: --label-embeddings is for the LEAP rows")
