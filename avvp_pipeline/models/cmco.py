"""CM-Co: cross-modality co-occurrence module (Lin et al. NeurIPS 2021), as the official code does it.

Lin et al., NeurIPS 2021: per modality, a class-level projection ``ReLU(Linear(512 -> 25 * d_c))`` gives 25
class tokens per segment (class-major layout); one class-level HAN layer (d_c, 1 head, FFN
d_c, dropout 0.25) shared by both modalities attends over the 25 tokens of its own modality and
of the other; one shared ``Linear(d_c -> 1)`` per modality scores every class token. The scores
replace HAN's segment head inside MMIL; the attention weights still come from the 512-d features.

Table 3's ablations (our reading of the paper's text): ``a_only`` runs the class-level layer with
self-attention only on the audio tokens (visual tokens are scored as projected), ``v_only`` the
mirror image, ``av`` self-attention on both without cross-modal attention, ``cmco`` both.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from .han import AVInputs, HANEncoder, HANLayer
from .skeleton import MMILModel


class CoOccurrence(nn.Module):
    """Segment probabilities ``(B, T, 2, C)`` from post-HAN features via class-token attention."""

    MODES = ("cmco", "av", "a_only", "v_only")

    def __init__(self, d_model: int, num_classes: int, occ_dim: int = 128, dropout: float = 0.25, mode: str = "cmco"):
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f"co-occurrence mode must be one of {self.MODES}, got {mode!r}")
        self.num_classes, self.occ_dim, self.mode = num_classes, occ_dim, mode
        self.proj_audio = nn.Linear(d_model, num_classes * occ_dim)
        self.proj_visual = nn.Linear(d_model, num_classes * occ_dim)
        self.class_layer = HANLayer(
            d_model=occ_dim, nhead=1, dim_feedforward=occ_dim, dropout=dropout, cross=mode == "cmco"
        )
        self.score_audio = nn.Linear(occ_dim, 1)
        self.score_visual = nn.Linear(occ_dim, 1)

    def class_tokens(self, x: torch.Tensor, proj: nn.Linear) -> torch.Tensor:
        """``(B, T, d)`` -> ``(B*T, C, d_c)``: feature j of the projection belongs to class j // d_c."""
        b, t, _ = x.shape
        return torch.relu(proj(x)).reshape(b * t, self.num_classes, self.occ_dim)

    def forward(self, x_audio: torch.Tensor, x_visual: torch.Tensor) -> torch.Tensor:
        b, t, _ = x_audio.shape
        a = self.class_tokens(x_audio, self.proj_audio)
        v = self.class_tokens(x_visual, self.proj_visual)
        # one layer for both modalities, applied to the un-updated tokens; the Table 3 ablations
        # attend within one modality only (a_only, v_only) or within each (av), never across
        a2 = self.class_layer(a, v) if self.mode != "v_only" else a
        v2 = self.class_layer(v, a) if self.mode != "a_only" else v
        p_a = torch.sigmoid(self.score_audio(a2)).reshape(b, t, self.num_classes)
        p_v = torch.sigmoid(self.score_visual(v2)).reshape(b, t, self.num_classes)
        return torch.stack([p_a, p_v], dim=2)


class HANCoOccurrence(MMILModel):
    """HAN + CM-Co + MMIL (the "HAN + CM-Co" / "Ours" architecture, with the official run.sh recipe)."""

    def __init__(
        self,
        num_classes: int,
        d_model: int = 512,
        dropout: float = 0.4,
        occ_dim: int = 128,
        occ_dropout: float = 0.25,
        num_layers: int = 1,
        stacking: str = "official",
        mode: str = "cmco",
        shapes: dict[str, tuple[int, int]] | None = None,
    ):
        super().__init__(
            AVInputs(d_model, shapes),
            HANEncoder(num_layers, stacking, d_model=d_model, nhead=1, dim_feedforward=d_model, dropout=dropout),
            num_classes,
            d_model,
            CoOccurrence(d_model, num_classes, occ_dim, occ_dropout, mode),
        )
