"""The training stages as the workflow runs them: from the index and feature shards on disk to a run folder
(``train``), a refined-labels file (``refine``) or JoMoLD's noise-ratio file (``noise_ratios``)."""

from __future__ import annotations

import logging
from pathlib import Path

from ..data.feature_sets import feature_configs, load_feature_sets, require_shards
from ..data.noise_ratios import noise_ratio_provenance
from ..data.pseudo_labels import pseudo_label_provenance
from ..models.checkpoint import load_trained
from ..models.leap import load_label_embeddings, require_label_embeddings
from ..models.rows import spec
from .config import RunOptions, TrainConfig
from .jomold import AUDIO_THRESHOLD, VISUAL_THRESHOLD, estimate_noise_ratios
from .refine import refine_labels, write_refined
from .trainer import train

log = logging.getLogger(__name__)


def train_stage(
    model_name: str,
    index: str | Path,
    shards: dict[str, list[str]],
    options: dict,
    out_dir: str | Path,
    refined: str | Path | None = None,
    run: RunOptions | None = None,
    progress: bool = True,
    pseudo_labels: str | Path | None = None,
    workflow_results: str | Path | None = None,
    noise_ratios: str | Path | None = None,
    label_embeddings: str | Path | None = None,
) -> dict:
    """Train ``model_name`` with ``options`` (recorded and speed options together) on the train split,
    selecting on the split the options name; write ``out_dir/model.pt`` and ``history.json``.
    ``refined``: MA-refined labels (MA* rows); ``pseudo_labels``: segment-level pseudo labels (VALOR rows);
    ``noise_ratios``: JoMoLD's noise-ratio file (the jomold row);
    ``label_embeddings``: the class-embedding file (LEAP rows).
    ``workflow_results``: the results folder of the workflow running this stage, if any: a damaged shard
    inside it is moved aside to be rebuilt."""
    require_label_embeddings(model_name, bool(label_embeddings))
    cfg, run = TrainConfig.from_dict(options), run or RunOptions.from_dict(options)
    if cfg.select_on == "test":
        log.warning(
            "select_on=test: model selection on the TEST split, as the published CM-Co script did; "
            "test scores are then optimistic"
        )
    kinds = spec(model_name).features
    require_shards(shards, kinds, f"model {model_name}")
    sets, provenance = load_feature_sets(
        index, ["train", cfg.select_on], shards, run.torch_device(), kinds, workflow_results
    )
    if refined:
        sets["train"].with_refined_labels(refined)
    if pseudo_labels:
        sets["train"].with_pseudo_labels(pseudo_labels)
    if noise_ratios:
        sets["train"].with_noise_ratios(noise_ratios)
    embeddings = load_label_embeddings(label_embeddings, len(sets["train"].classes)) if label_embeddings else None
    for name, p in provenance.items():
        if p["weights_id"].startswith("random"):
            log.warning("features %s were made with RANDOM weights (%s)", name, p["weights_id"])
    summary = train(
        model_name,
        sets["train"],
        sets[cfg.select_on],
        cfg,
        out_dir,
        provenance,
        progress=progress,
        feature_configs=feature_configs(shards, kinds),
        run=run,
        labels=pseudo_label_provenance(pseudo_labels) if pseudo_labels else None,
        noise_ratios=noise_ratio_provenance(noise_ratios) if noise_ratios else None,
        embeddings=embeddings,
    )
    log.info(
        "trained %s: best %s %s %.2f at epoch %d",
        model_name,
        cfg.select_on,
        cfg.select_metric,
        summary["best_score"],
        summary["selected_epoch"],
    )
    return summary


def refine_stage(
    model_path: str | Path,
    index: str | Path,
    shards: dict[str, list[str]],
    out: str | Path,
    seed: int,
    device: str = "auto",
    workflow_results: str | Path | None = None,
) -> dict:
    """MA's label refinement of the train split with the trained base model at ``model_path``; write the
    refined-labels file ``out``; return its statistics. ``workflow_results`` as for :func:`train_stage`."""
    run = RunOptions(device=device)
    trained = load_trained(model_path, run.torch_device())
    require_shards(shards, trained.kinds, f"{model_path} (model {trained.name})")
    sets, provenance = load_feature_sets(index, ["train"], shards, run.torch_device(), trained.kinds, workflow_results)
    trained.require_features(provenance, "train")
    audio, visual, stats = refine_labels(trained.net, sets["train"], seed=seed)
    write_refined(out, sets["train"], audio, visual, stats)
    if stats.get("without_partner"):
        log.warning(
            "%d training videos share a label with every other one: no partner to swap tracks with, their labels "
            "are kept as they are",
            stats["without_partner"],
        )
    log.info(
        "refined labels of %d videos: %d of %d labels dropped from audio, %d from visual (%s)",
        stats["videos"],
        stats["dropped_audio"],
        stats["labels"],
        stats["dropped_visual"],
        out,
    )
    return stats


def noise_ratio_stage(
    model_path: str | Path,
    index: str | Path,
    shards: dict[str, list[str]],
    out: str | Path,
    audio_threshold: float = AUDIO_THRESHOLD,
    visual_threshold: float = VISUAL_THRESHOLD,
    batch_size: int = 128,
    device: str = "auto",
    workflow_results: str | Path | None = None,
) -> dict:
    """JoMoLD's stage 2: the per-class noise ratios of the train split by the trained ``jomold-estimator`` at
    ``model_path``, written to ``out``; returns their statistics. ``workflow_results`` as for :func:`train_stage`."""
    run = RunOptions(device=device)
    trained = load_trained(model_path, run.torch_device())
    if spec(trained.name).jomold != "estimator":
        raise ValueError(f"{model_path}: a {trained.name} model; JoMoLD's noise ratios come from a jomold-estimator")
    require_shards(shards, trained.kinds, f"{model_path} (model {trained.name})")
    sets, provenance = load_feature_sets(index, ["train"], shards, run.torch_device(), trained.kinds, workflow_results)
    trained.require_features(provenance, "train")
    estimator = {"source": "computed", "estimator": str(model_path), "estimator_summary": trained.summary}
    stats = estimate_noise_ratios(
        trained.net, sets["train"], out, estimator, audio_threshold, visual_threshold, batch_size
    )
    log.info(
        "noise ratios of %d videos: %d audio and %d visual labels taken for noise (%s)",
        stats["videos"],
        sum(stats["noisy_audio"]),
        sum(stats["noisy_visual"]),
        out,
    )
    return stats
