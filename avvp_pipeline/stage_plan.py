"""The stage-local configs the rules record as params (so a change reruns only the stages it concerns),
and the planning checks of the stages' inputs that are not training runs (``train_plan.py`` has those).

Each config is the stage's part of the workflow config plus its :data:`STAGE_VERSIONS` entry; the rules
pass it as compact JSON (``--config``), and its bytes are what Snakemake compares between runs.
"""

from __future__ import annotations

import os

from . import STAGE_VERSIONS
from .data.datasets.config import check_keys
from .dataset_plan import synth_config
from .models.rows import spec
from .plan import DataSource, PlanError
from .teachers.vocabulary import teacher_config

#: The `features` keys both extraction stages read (each adds its own `visual` or `audio` section).
COMMON_FEATURE_KEYS = ("weights", "weights_dir", "seed", "precision", "batch_videos")


def _versioned(cfg: dict, stage: str) -> dict:
    return {**cfg, "version": STAGE_VERSIONS[stage]}


def stage_configs(config: dict, data: DataSource) -> dict[str, dict | None]:
    """Every stage's config, by stage name (the keys of :data:`STAGE_VERSIONS` that take a ``--config``);
    None for a stage this config does not run (``synth`` without the demo, the teachers without
    ``pseudo_labels.source: teachers``, the noise ratios without a jomold row)."""
    features = config["features"]
    kind = check_keys(config["dataset"])
    # lfav and custom videos are read whole, whatever their length (LLP's: num_frames / fps seconds)
    common = {k: features[k] for k in COMMON_FEATURE_KEYS} | ({} if kind == "llp" else {"any_length": True})
    return {
        "synth": _versioned(synth_config(data.synth, kind), "synth") if data.synthetic else None,
        "features_visual": _versioned({**common, **features["visual"]}, "features_visual"),
        "features_audio": _versioned({**common, **features["audio"]}, "features_audio"),
        "features_import": _versioned({} if kind != "lfav" else {"release": "lfav"}, "features_import"),
        "pseudo_labels_teachers": _teachers(config.get("pseudo_labels")),
        "noise_ratios": _noise_ratios(config),
        # an lfav set is scored with LFAV's protocol (evaluation/lfav_metrics.py)
        "evaluate": _versioned({**config["evaluate"], **({"scorer": "lfav"} if kind == "lfav" else {})}, "evaluate"),
    }


def _teachers(pseudo_cfg: dict | None) -> dict | None:
    """The teachers' settings with VALOR's captions and thresholds filled in, when they run."""
    if (pseudo_cfg or {}).get("source") != "teachers":
        return None
    settings = teacher_config({k: v for k, v in pseudo_cfg.items() if k not in ("source", "dir")})
    return _versioned(settings, "pseudo_labels_teachers")


def _denoising_rows(train_cfg: dict) -> list[str]:
    """The rows of ``train.models`` that flip labels with JoMoLD's noise ratios."""
    return [m for m in train_cfg.get("models") or [] if spec(m).jomold == "denoise"]


def _noise_ratios(config: dict) -> dict | None:
    """JoMoLD's noise-ratio stage (``noise_ratios.source``: computed from the trained estimator, or the
    official file imported), when a trained row flips labels with them."""
    if not _denoising_rows(config["train"]):
        return None
    return _versioned({"source": (config.get("noise_ratios") or {}).get("source", "computed")}, "noise_ratios")


def check_noise_ratios(train_cfg: dict, noise_cfg: dict | None) -> None:
    """PlanError where a row of ``train.models`` flips labels with noise ratios and ``noise_ratios.source:
    file`` names no file, or one that does not exist (``computed`` trains jomold-estimator for them)."""
    rows, noise_cfg = _denoising_rows(train_cfg), noise_cfg or {}
    if not rows or noise_cfg.get("source", "computed") != "file":
        return
    path = noise_cfg.get("file")
    if not path:
        raise PlanError(
            f"train.models has {', '.join(rows)}, which trains with JoMoLD's noise ratios, but noise_ratios.source "
            "is file and noise_ratios.file is not set: give the path of the official noise_ratios.npz, or set "
            "noise_ratios.source: computed (trains jomold-estimator first; docs/configuration.md)"
        )
    if not os.path.isfile(path):
        raise PlanError(f"noise_ratios.file {path}: no such file (the noise ratios of {', '.join(rows)})")


def check_refine(refine_cfg: dict) -> None:
    """PlanError where ``refine.source: file`` names no file, or one that does not exist."""
    if refine_cfg.get("source") != "file":
        return
    path = refine_cfg.get("file")
    if not path:
        raise PlanError(
            "refine.source is file but refine.file is not set: give the path of the CM-Co "
            "release's need_to_change_cmco.pkl (docs/refined-labels.md)"
        )
    if not os.path.isfile(path):
        raise PlanError(f"refine.file {path}: no such file (docs/refined-labels.md)")
