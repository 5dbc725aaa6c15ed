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
from .plan import DataSource, PlanError
from .teachers.vocabulary import teacher_config

#: The `features` keys both extraction stages read (each adds its own `visual` or `audio` section).
COMMON_FEATURE_KEYS = ("weights", "weights_dir", "seed", "precision", "batch_videos")


def _versioned(cfg: dict, stage: str) -> dict:
    return {**cfg, "version": STAGE_VERSIONS[stage]}


def stage_configs(config: dict, data: DataSource) -> dict[str, dict | None]:
    """Every stage's config, by stage name (the keys of :data:`STAGE_VERSIONS` that take a ``--config``);
    None for a stage this config does not run (``synth`` without the demo, the teachers without
    ``pseudo_labels.source: teachers``)."""
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
        # an lfav set is scored with LFAV's protocol (evaluation/lfav_metrics.py)
        "evaluate": _versioned({**config["evaluate"], **({"scorer": "lfav"} if kind == "lfav" else {})}, "evaluate"),
    }


def _teachers(pseudo_cfg: dict | None) -> dict | None:
    """The teachers' settings with VALOR's captions and thresholds filled in, when they run."""
    if (pseudo_cfg or {}).get("source") != "teachers":
        return None
    settings = teacher_config({k: v for k, v in pseudo_cfg.items() if k not in ("source", "dir")})
    return _versioned(settings, "pseudo_labels_teachers")


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
