"""Where torch work runs: one resolution of the ``auto`` / ``cpu`` / ``cuda[:N]`` option."""

from __future__ import annotations

import torch


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` is CUDA when available, else the CPU; anything else is passed to ``torch.device``."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
