"""Planning the data set ``dataset.name`` chooses (docs/datasets.md): its keys, what it can run with, its
files read and checked before any job starts, and what the stages that read it are given.

LLP plans as it always has (``plan.py`` reads its split files; the index job reads the CSVs). An ``lfav`` or
``custom`` set is read whole here, so that a bad file stops planning with one line naming the file and line
(:class:`DatasetError`) and nothing is written; the problems its reading handles are logged here and
written to ``dataset/warnings.tsv`` by the index job, which reads the files again with the videos' lengths
(from the feature shards: videos of any length are extracted whole, ``features/config.py: any_length``).
The demo renders LLP's CSVs or, with ``name: custom``, a custom set's files (``synth`` stage config
``layout``); its files are only read once rendered.
"""

from __future__ import annotations

import logging

from .data.datasets.config import check_keys, dataset_from_config
from .data.datasets.description import Dataset
from .data.synth.annotations import check_layout
from .data.synth.spec import SynthSpec
from .features.kinds import LFAV_KINDS, in_release
from .models.rows import spec
from .plan import DataSource, PlanError, feature_source

log = logging.getLogger(__name__)


def dataset_kind(config: dict) -> str:
    """``dataset.name`` (llp when unset), after checking its keys and what the run asks of it:
    :class:`DatasetError` or :class:`PlanError` naming the key."""
    dataset = config["dataset"]
    kind = check_keys(dataset)
    if kind == "llp":
        return kind
    synth = dataset.get("synth") or {}
    refused = {
        "features.source is released": kind == "custom" and feature_source(config.get("features")) == "released",
        "dataset.download.enabled is true": (dataset.get("download") or {}).get("enabled", False),
        "refine.source is file": (config.get("refine") or {}).get("source") == "file",
        "the demo (dataset.synth) is rendered": kind == "lfav"
        and synth.get("enabled", False)
        and dataset.get("annotations_dir") is None,
    }
    for what, bad in refused.items():
        if bad:
            raise PlanError(f"dataset.name is {kind} but {what}: that is for LLP's files only")
    rows = config["train"].get("models") or []
    if feature_source(config.get("features")) == "released":
        _check_release_rows(rows)
    pseudo = [m for m in rows if spec(m).pseudo_labels]
    if pseudo:
        raise PlanError(
            f"dataset.name is {kind} but train.models has {', '.join(pseudo)}, whose pseudo labels are LLP's "
            "10-s clips and 25 classes: drop them"
        )
    source = (config.get("pseudo_labels") or {}).get("source", "none")
    if source != "none":
        raise PlanError(
            f"dataset.name is {kind} but pseudo_labels.source is {source}: VALOR's pseudo labels (released or "
            "from its teachers' captions) are LLP's 10-s clips and 25 classes: drop pseudo_labels"
        )
    return kind


def _check_release_rows(rows: list[str]) -> None:
    """PlanError naming the first row that reads feature kinds LFAV's release does not have."""
    for row in rows:
        lacking = [k for k in spec(row).features if not in_release(k, "lfav")]
        if lacking:
            held = ", ".join(LFAV_KINDS)
            raise PlanError(
                f"dataset.name is lfav with features.source released but train.models has {row}, which reads "
                f"{', '.join(lacking)} features; LFAV's release has {held}: train han_lfav (its HAN row) instead"
            )


def synth_config(synth: dict, kind: str) -> dict:
    """The synth job's options for the demo of ``kind``: a custom set's files (``layout``) whose vocabulary
    is its classes; ValueError when the layout cannot hold the set (LLP: 10-s clips of LLP classes)."""
    if kind != "custom":
        check_layout(SynthSpec.from_dict(synth), "llp")
        return synth
    cfg = {**synth, "layout": "custom"}
    if "classes" in synth:
        cfg["vocabulary"] = list(synth["classes"])
    SynthSpec.from_dict({k: v for k, v in cfg.items() if k != "layout"})
    return cfg


def read_planned(config: dict, data: DataSource) -> Dataset | None:
    """The lfav or custom data set, read and checked (its warnings logged); None for LLP and for the demo,
    whose files the synth job renders."""
    dataset = config["dataset"]
    if check_keys(dataset) == "llp" or data.synthetic:
        return None
    described = dataset_from_config({**dataset, "annotations_dir": data.annotations_dir})
    for warning in described.warnings:
        log.warning("%s", warning)
    return described


def described_videos(dataset: Dataset | None) -> list[str] | None:
    """The video ids of every split of ``dataset``, sorted; None without one (LLP's split files are read)."""
    if dataset is None:
        return None
    return sorted({vid for split in dataset.splits.values() for vid in split.video_ids})


def index_dataset(config: dict, data: DataSource) -> dict:
    """The ``dataset`` keys the index job of an lfav or custom set reads (``avvp index --dataset``)."""
    dataset = config["dataset"]
    cfg = {"name": check_keys(dataset), "annotations_dir": data.annotations_dir}
    return {**cfg, "lenient": True} if dataset.get("lenient") else cfg
