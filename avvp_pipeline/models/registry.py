"""Named model configurations: ``build_model(name, train_cfg)``."""
from __future__ import annotations

import torch.nn as nn

from .han import HAN
from .normalize import Standardized

MODELS = {
    "han": "HAN (1 layer) + MMIL, HAN loss (method.md §1)",
}


def build_model(name: str, cfg: dict) -> nn.Module:
    """Build the model called ``name`` with the architecture options in ``cfg``.

    With ``cfg['feature_norm'] == 'standardize'`` the model is wrapped in :class:`Standardized`
    (statistics are fitted by the trainer and saved with the weights).
    """
    if name == "han":
        model = HAN(num_layers=cfg.get("num_layers", 1), dropout=cfg.get("dropout", 0.1),
                    stacking=cfg.get("stacking", "official"))
    else:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
    norm = cfg.get("feature_norm", "none")
    if norm == "standardize":
        return Standardized(model)
    if norm != "none":
        raise ValueError(f"feature_norm must be 'none' or 'standardize', got {norm!r}")
    return model
