"""AVE and AVSDN adapted to weakly-supervised parsing, as the HAN paper and the CM-Co paper did.

Both are audio-visual event *localisation* models (one label per segment for the audio-visual
pair). The papers "add additional audio and visual parsing branches" and train them like HAN;
our reading, on the LLP features (pooled 2048-d ResNet-152 frames, no spatial maps):

- Inputs as HAN: audio 128 -> 512, 2D frames 2048 -> 512 projected before pooling, 3D 512 -> 512,
  2D and 3D fused by Linear(1024 -> 512).
- **AVE** (Tian et al. ECCV 2018): audio-guided visual attention chooses *where* the sound is. With
  pooled frames the only "where" left is *which of the 8 frames of a second*, so the 8 projected
  frames of segment t are pooled with weights ``softmax_j(w_h^T tanh(W_v v_tj + W_g a_t))`` instead
  of a mean. Each modality then has its own bidirectional LSTM (256 per direction -> 512), AVE's
  temporal model; the two LSTM outputs are the audio and visual parsing branches.
- **AVSDN** (Lin et al. ICASSP 2019): a dual-modality sequence-to-sequence network. An LSTM encoder
  per modality reads its sequence; the concatenated final states are the global audio-visual
  feature; one LSTM decoder per modality (the parsing branches) reads, at every segment, its local
  feature concatenated with the global feature.
- Both feed MMIL pooling and train with HAN's loss and recipe; with
  ``cooccurrence`` they score segments with CM-Co instead (the "AVSDN + Ours" row).
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .cmco import CoOccurrence
from .han import AVInputs
from .skeleton import MMILModel


class AudioGuidedInputs(AVInputs):
    """HAN's input projections with AVE's audio-guided attention over the 8 frames of each segment."""

    def __init__(self, d_model: int = 512, att_dim: int = 256, shapes: dict[str, tuple[int, int]] | None = None):
        super().__init__(d_model, shapes)
        self.fc_v.published_rows_factor = 1  # unlike HAN's, this fc_v really projects all 80 frames
        self.att_v = nn.Linear(d_model, att_dim)
        self.att_g = nn.Linear(d_model, att_dim)
        self.att_h = nn.Linear(att_dim, 1)

    def frame_weights(self, x_a: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """``(B, T, d)`` audio and ``(B, T, F, d)`` frames -> ``(B, T, F)`` weights summing to 1 over F."""
        e = self.att_h(torch.tanh(self.att_v(frames) + self.att_g(x_a).unsqueeze(2))).squeeze(-1)
        return torch.softmax(e, dim=-1)

    def forward(self, audio, video_s, video_st) -> tuple[torch.Tensor, torch.Tensor]:
        x_a = self.fc_a(self.segment_audio(audio))
        s = self.fc_v(video_s)
        b, n, d = s.shape
        frames = s.view(b, n // self.frames_per_segment, self.frames_per_segment, d)
        s = (self.frame_weights(x_a, frames).unsqueeze(-1) * frames).sum(dim=2)
        x_v = self.fc_fusion(torch.cat([s, self.fc_st(self.segment_mean(video_st, self.clips_per_segment))], dim=-1))
        return x_a, x_v


class BiLSTMEncoder(nn.Module):
    """AVE's temporal model: one bidirectional LSTM per modality, ``d/2`` units per direction."""

    def __init__(self, d_model: int = 512, dropout: float = 0.1):
        super().__init__()
        self.lstm_audio = nn.LSTM(d_model, d_model // 2, batch_first=True, bidirectional=True)
        self.lstm_visual = nn.LSTM(d_model, d_model // 2, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x_a: torch.Tensor, x_v: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        out_a, out_v = run_lstm(self.lstm_audio, x_a, mask)[0], run_lstm(self.lstm_visual, x_v, mask)[0]
        return self.dropout(out_a), self.dropout(out_v)


class Seq2SeqEncoder(nn.Module):
    """AVSDN's dual-modality sequence-to-sequence model with one decoder per modality."""

    def __init__(self, d_model: int = 512, dropout: float = 0.1):
        super().__init__()
        self.enc_audio = nn.LSTM(d_model, d_model, batch_first=True)
        self.enc_visual = nn.LSTM(d_model, d_model, batch_first=True)
        self.dec_audio = nn.LSTM(3 * d_model, d_model, batch_first=True)
        self.dec_visual = nn.LSTM(3 * d_model, d_model, batch_first=True)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x_a: torch.Tensor, x_v: torch.Tensor, mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        h_a = run_lstm(self.enc_audio, x_a, mask)[1]  # (B, d) final hidden state
        h_v = run_lstm(self.enc_visual, x_v, mask)[1]
        glob = torch.cat([h_a, h_v], dim=-1).unsqueeze(1).expand(-1, x_a.shape[1], -1)
        out_a = run_lstm(self.dec_audio, torch.cat([x_a, glob], dim=-1), mask)[0]
        out_v = run_lstm(self.dec_visual, torch.cat([x_v, glob], dim=-1), mask)[0]
        return self.dropout(out_a), self.dropout(out_v)


def run_lstm(lstm: nn.LSTM, x: torch.Tensor, mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(outputs, final hidden state of the last layer)`` of a batch-first ``lstm`` over ``x`` (B, T, d). With a
    padding ``mask`` each video runs over its real segments only: a backward direction starts at its last
    real segment, the final state is the one after it, and the outputs are 0 at the padding."""
    if mask is None:
        out, (h, _) = lstm(x)
        return out, h[-1]
    lengths = mask.sum(dim=1).cpu()  # packing needs the lengths on the host
    out, (h, _) = lstm(pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0], h[-1]


def _cooccurrence(mode: str | None, num_classes: int, d_model: int, occ_dim: int, occ_dropout: float):
    return None if mode is None else CoOccurrence(d_model, num_classes, occ_dim, occ_dropout, mode)


class AVE(MMILModel):
    """AVE with audio and visual parsing branches + MMIL (CM-Co paper Table 1, "AVE")."""

    def __init__(
        self,
        num_classes: int,
        d_model: int = 512,
        dropout: float = 0.1,
        cooccurrence: str | None = None,
        occ_dim: int = 128,
        occ_dropout: float = 0.25,
        shapes: dict[str, tuple[int, int]] | None = None,
    ):
        super().__init__(
            AudioGuidedInputs(d_model, shapes=shapes),
            BiLSTMEncoder(d_model, dropout),
            num_classes,
            d_model,
            _cooccurrence(cooccurrence, num_classes, d_model, occ_dim, occ_dropout),
        )


class AVSDN(MMILModel):
    """AVSDN with audio and visual parsing branches + MMIL ("AVSDN"; with CM-Co, "AVSDN + Ours")."""

    def __init__(
        self,
        num_classes: int,
        d_model: int = 512,
        dropout: float = 0.1,
        cooccurrence: str | None = None,
        occ_dim: int = 128,
        occ_dropout: float = 0.25,
        shapes: dict[str, tuple[int, int]] | None = None,
    ):
        super().__init__(
            AVInputs(d_model, shapes=shapes),
            Seq2SeqEncoder(d_model, dropout),
            num_classes,
            d_model,
            _cooccurrence(cooccurrence, num_classes, d_model, occ_dim, occ_dropout),
        )
