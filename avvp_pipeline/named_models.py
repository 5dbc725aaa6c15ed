"""Models ``avvp parse --model NAME`` gets by name instead of reading a ``model.pt``: ``han-official``,
the HAN authors' released ``MMIL_Net.pt``.

On first use the checkpoint is fetched and checked as ``avvp fetch han-checkpoint`` does (releases.py)
and converted once, as ``avvp import model han-official`` does, into a ``model.pt``; both stay in one
cache folder, :func:`cache_dir`: ``CACHE/han-official/MMIL_Net.pt`` (with its fetch record) and
``CACHE/han-official/model.pt``. The extractors' pretrained weights are fetched on first use into
torch's cache, as ``features.weights: pretrained`` does (features/weights.py).

The released model was trained on the released LLP features, whose extraction cannot be reproduced
exactly; new videos are extracted with this pipeline's LLP recipe and the pretrained weights
(:func:`extraction`, never random ones), and ``events.json`` records which weights made the features.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from .features import weights
from .features.config import ExtractConfig
from .fetch import http
from .releases import SOURCES, fetch_release

NAMES = ("han-official",)
CACHE_ENV = "AVVP_CACHE_DIR"
CHECKPOINT = SOURCES["han-checkpoint"][0].name  # MMIL_Net.pt
EXTRACTORS = ("resnet152", "r2plus1d_18", "vggish")


def cache_dir() -> Path:
    """Where named models are kept: ``$AVVP_CACHE_DIR``, else ``$XDG_CACHE_HOME/avvp``, else ``~/.cache/avvp``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "avvp"


def is_named(model: str) -> bool:
    """Whether ``--model`` names a model (one of :data:`NAMES`, and no file of that name is there)."""
    return model in NAMES and not os.path.exists(model)


def extraction() -> dict[str, dict]:
    """The feature configs new videos are extracted with for ``han-official``: the LLP recipe with the
    pretrained weights (from torch's cache, fetched on first use)."""
    recipe = dataclasses.asdict(ExtractConfig(weights="pretrained"))
    return {name: dict(recipe) for name in EXTRACTORS}


def resolve_model(name: str, *, progress: bool = True) -> tuple[Path, dict[str, dict]]:
    """``(model.pt, feature configs)`` of the named model: fetched, checked and converted on first use;
    offline with something missing, one ValueError line naming what is missing and where to put it."""
    if name not in NAMES:
        raise ValueError(f"unknown model name {name!r}; known: {', '.join(NAMES)} (or give a model.pt path)")
    folder = cache_dir() / name
    model = folder / "model.pt"
    configs = extraction()
    _require_offline_files(name, folder, model, configs)
    if not model.is_file():
        from .models.official import import_official_han

        fetch_release("han-checkpoint", folder, progress=progress)
        import_official_han(folder / CHECKPOINT, model)
    return model, configs


def _missing_weights(configs: dict[str, dict]) -> list[Path]:
    """The pretrained weight files ``configs`` need that are neither in their ``weights_dir`` nor in torch's
    cache, as paths in torch's cache (where they are fetched to)."""
    needed = {(name, cfg.get("weights_dir")) for name, cfg in configs.items()}
    needed |= {("vggish_pca", cfg.get("weights_dir")) for cfg in configs.values() if cfg["postprocess"] != "none"}
    return [
        weights.cache_dir() / weights.WEIGHT_FILES[e][1]
        for e, where in sorted(needed, key=str)
        if not any(p.is_file() for p in weights.candidate_paths(e, where))
    ]


def _require_offline_files(name: str, folder: Path, model: Path, configs: dict[str, dict]) -> None:
    """Offline mode with a file of the named model missing: one line saying which and where it goes."""
    if not http.is_offline():
        return
    problems = []
    if not model.is_file() and not (folder / CHECKPOINT).is_file():
        problems.append(
            f"the HAN checkpoint {folder / CHECKPOINT} is missing (`avvp fetch han-checkpoint --out {folder}` "
            "where there is a network, or copy MMIL_Net.pt there)"
        )
    lacking = _missing_weights(configs)
    if lacking:
        problems.append(
            f"the pretrained weights {', '.join(str(p) for p in lacking)} are missing (`avvp fetch weights --out "
            f"{lacking[0].parent}` where there is a network, or copy the files there)"
        )
    if problems:
        raise ValueError(f"{name}: offline mode is on ({http.OFFLINE_ENV}) and {'; '.join(problems)}")
