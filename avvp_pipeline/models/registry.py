"""Named model configurations: ``build_model(name, train_cfg)``."""
from __future__ import annotations

import torch.nn as nn

from .han import HAN

MODELS = {
    "han": "HAN (1 layer) + MMIL, HAN loss (method.md §1)",
}


def build_model(name: str, cfg: dict) -> nn.Module:
    """Build the model called ``name`` with the architecture options in ``cfg``."""
    if name == "han":
        return HAN(num_layers=cfg.get("num_layers", 1), dropout=cfg.get("dropout", 0.1),
                   stacking=cfg.get("stacking", "official"))
    raise ValueError(f"unknown model {name!r}; known: {', '.join(sorted(MODELS))}")
