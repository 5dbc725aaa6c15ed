"""Named model configurations (rows of the papers' tables): ``build_model(name, train_cfg)``."""
from __future__ import annotations

import torch.nn as nn

from .han import HAN
from .normalize import Standardized

MODELS = {
    "han": "HAN (1 layer) + MMIL, HAN loss and recipe (method.md §1)",
    "han_2layers": "HAN with 2 layers (Table 4; official stacking: each layer on the inputs)",
    "han_3layers": "HAN with 3 layers (Table 4)",
}
_HAN_LAYERS = {"han": None, "han_2layers": 2, "han_3layers": 3}


def build_model(name: str, cfg: dict) -> nn.Module:
    """Build the model called ``name`` with the architecture options in ``cfg``.

    With ``cfg['feature_norm'] == 'standardize'`` the model is wrapped in :class:`Standardized`
    (statistics are fitted by the trainer and saved with the weights).
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    layers = _HAN_LAYERS[name] or cfg.get("num_layers", 1)
    model = HAN(num_layers=layers, dropout=cfg.get("dropout", 0.1), stacking=cfg.get("stacking", "official"))
    norm = cfg.get("feature_norm", "none")
    if norm == "standardize":
        return Standardized(model)
    if norm != "none":
        raise ValueError(f"feature_norm must be 'none' or 'standardize', got {norm!r}")
    return model


def describe_models() -> str:
    """One line per model: name, trainable parameters, GFLOPs per video, Table 4-style counts."""
    from .complexity import gflops_per_video, table4_gmacs, table4_parameters, trainable_parameters

    lines = [f"{'model':<14}{'params':>12}{'GFLOPs/video':>14}{'Table-4 params':>16}{'Table-4 GFLOPs':>16}  description"]
    for name, text in MODELS.items():
        m = build_model(name, {})
        lines.append(f"{name:<14}{trainable_parameters(m):>12,}{gflops_per_video(m):>14.3f}"
                     f"{table4_parameters(m):>16,}{table4_gmacs(m):>16.3f}  {text}")
    lines.append("Table-4 columns use the CM-Co paper's convention: Linear layers only, multiply-accumulates "
                 "for a batch of 64 videos (method.md §8).")
    return "\n".join(lines)
