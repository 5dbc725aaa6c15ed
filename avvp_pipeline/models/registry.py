"""Build the network of a named row (the rows and their recipes are in ``rows.py``, re-exported here).

``build_model(name, options)`` builds the network of a row; ``describe_models()`` lists every row
with its size and cost.
"""

from __future__ import annotations

import torch.nn as nn

from ..data.llp import CLASSES
from ..features.kinds import default_shapes
from .ave_avsdn import AVE, AVSDN
from .cmco import HANCoOccurrence
from .han import HAN
from .jomold import JoMoLDNet
from .leap import LEAP
from .normalize import Standardized
from .options import DEFAULTS
from .rows import MODELS, full_options, spec

__all__ = [
    "build_model",
    "describe_models",
]


#: (backbone, arch) of the rows whose width (hidden, heads, ffn) an option may change: HAN + MMIL, JoMoLD, LEAP
SIZABLE = {("han", "han"), ("han", "jomold"), ("leap", "leap")}


def build_model(
    name: str, cfg: dict, shapes: dict[str, tuple[int, int]] | None = None, num_classes: int = len(CLASSES)
) -> nn.Module:
    """Build the model called ``name`` with the architecture options in ``cfg`` (options it lacks take
    their :data:`rows.DEFAULTS` / recipe values) for inputs of ``shapes`` (slot -> (rows, width) of one
    10-segment video; default: the table's shapes of the row's feature kinds) and heads of ``num_classes``
    classes (LLP's 25).

    With ``cfg['feature_norm'] == 'standardize'`` the model is wrapped in :class:`Standardized`
    (statistics are fitted by the trainer and saved with the weights).
    """
    s = spec(name)
    cfg = full_options(name, cfg)
    shapes = {**default_shapes(s.features), **(shapes or {})}
    layers = s.num_layers or cfg["num_layers"]
    width = {k: cfg[k] for k in ("hidden", "heads", "ffn")}
    if (s.backbone, s.arch) not in SIZABLE and width != {k: DEFAULTS[k] for k in width}:
        raise ValueError(
            f"model {name}: hidden, heads and ffn can be changed for the HAN + MMIL and LEAP rows only, got {width}"
        )
    if s.backbone == "leap":
        model = LEAP(
            num_classes=num_classes,
            d_model=cfg["hidden"],
            ffn=cfg["ffn"],
            heads=cfg["heads"],
            decoder_layers=layers,
            dropout=cfg["dropout"],
            shapes=shapes,
        )
    elif s.backbone in ("ave", "avsdn"):
        cls = AVE if s.backbone == "ave" else AVSDN
        model = cls(
            num_classes=num_classes,
            dropout=cfg["dropout"],
            cooccurrence=s.cooccurrence if s.arch == "cmco" else None,
            occ_dim=cfg["occ_dim"],
            occ_dropout=cfg["occ_dropout"],
            shapes=shapes,
        )
    elif s.arch == "cmco":
        model = HANCoOccurrence(
            num_classes=num_classes,
            dropout=cfg["dropout"],
            occ_dim=cfg["occ_dim"],
            occ_dropout=cfg["occ_dropout"],
            num_layers=layers,
            stacking=cfg["stacking"],
            mode=s.cooccurrence,
            shapes=shapes,
        )
    else:
        han = dict(
            num_classes=num_classes,
            d_model=cfg["hidden"],
            num_layers=layers,
            nhead=cfg["heads"],
            dim_feedforward=cfg["ffn"],
            dropout=cfg["dropout"],
            stacking=cfg["stacking"],
            shapes=shapes,
        )
        # JoMoLD's estimator never uses the cross-modal attention; the denoised model does (but ranks without)
        model = JoMoLDNet(cross_attention=s.jomold == "denoise", **han) if s.arch == "jomold" else HAN(**han)
    norm = cfg["feature_norm"]
    if norm == "standardize":
        return Standardized(model)
    if norm != "none":
        raise ValueError(f"feature_norm must be 'none' or 'standardize', got {norm!r}")
    return model


def describe_models() -> str:
    """One line per model: name, trainable parameters, GFLOPs per video, Table 4-style counts (each row
    built for its own feature kinds' shapes)."""
    from .complexity import gflops_per_video, table4_gmacs, table4_parameters, trainable_parameters

    lines = [
        f"{'model':<14}{'params':>12}{'GFLOPs/video':>14}{'Table-4 params':>16}{'Table-4 GFLOPs':>16}  description"
    ]
    for name, s in MODELS.items():
        m = build_model(name, {})
        lines.append(
            f"{name:<14}{trainable_parameters(m):>12,}{gflops_per_video(m):>14.3f}"
            f"{table4_parameters(m):>16,}{table4_gmacs(m):>16.3f}  {s.description}"
        )
    lines.append(
        "Table-4 columns use the CM-Co paper's convention: Linear layers only, multiply-accumulates "
        "for a batch of 64 videos."
    )
    return "\n".join(lines)
