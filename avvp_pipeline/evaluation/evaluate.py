"""Evaluate a trained model (or the broadcast baseline) on a split with the LLP protocol."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .. import __version__
from ..data.feature_sets import FeatureSet, load_feature_sets, require_shards
from ..data.index import load_split
from ..device import resolve_device
from ..inference import predict
from ..models.checkpoint import load_trained
from .metrics import binarize_probs, llp_f_scores, llp_f_scores_padded, per_class_segment_f, valid_seconds
from .predictions import write_predictions
from .protocols import PROTOCOLS, protocol_result
from .results_file import write_results

log = logging.getLogger(__name__)


def evaluate_probs(probs: dict[str, np.ndarray], fs: FeatureSet, gate: str = "global") -> dict[str, float]:
    """Ten LLP F-scores of predicted probabilities against the split's dense truth (each video over its
    own length)."""
    if fs.gt_audio is None:
        raise ValueError(f"split {fs.split!r} has no dense labels to evaluate against")
    pa, pv = binarize_probs(probs, gate)
    return llp_f_scores_padded(pa, pv, fs.gt_audio, fs.gt_visual, fs.lengths)


def binarized(probs: dict[str, np.ndarray], fs: FeatureSet, gate: str) -> tuple[np.ndarray, np.ndarray]:
    """The 0/1 predictions ``(N, C, T)`` of ``probs`` with ``gate``, 0 past each video's length."""
    pa, pv = binarize_probs(probs, gate)
    if fs.lengths is not None:
        valid = valid_seconds(fs.lengths, len(fs), fs.segments)[:, None, :].astype(np.uint8)
        pa, pv = pa * valid, pv * valid
    return pa, pv


def evaluate_model(
    model_path: str | Path,
    index_path: str | Path,
    shards: dict[str, list[str]],
    split: str,
    out_metrics: str | Path,
    out_predictions: str | Path,
    gate: str | None = None,
    device: str = "auto",
    batch_size: int = 256,
    protocols: list[str] | tuple[str, ...] = (),
    workflow_results: str | Path | None = None,
) -> dict:
    """Predict ``split`` with a trained model; write ``metrics.json`` and ``predictions.h5``.

    ``f_scores`` use ``gate`` (the model's own when None). Each post-processing protocol named in
    ``protocols`` (llp, modality, tuned: evaluation/protocols.py) adds its own scores under
    ``protocols.NAME``; ``tuned`` chooses its thresholds on the val split. ``workflow_results``: the results folder of
    the workflow running this stage, if any: a damaged shard inside it is moved aside to be rebuilt."""
    unknown = [p for p in protocols if p not in PROTOCOLS]
    if unknown:
        raise ValueError(f"unknown post-processing protocols {unknown}; known: {', '.join(PROTOCOLS)}")
    device = resolve_device(device)
    trained = load_trained(model_path, device)
    require_shards(shards, trained.kinds, f"{model_path} (model {trained.name})")
    tune_on = "val" if "tuned" in protocols else None
    sets, provenance = load_feature_sets(
        index_path,
        list(dict.fromkeys([split, tune_on] if tune_on else [split])),
        shards,
        device,
        trained.kinds,
        workflow_results,
    )
    trained.require_features(provenance, split)
    fs = sets[split]
    gate = gate or trained.gate
    probs = predict(trained.net, fs, batch_size, aggregate=True)
    scores = evaluate_probs(probs, fs, gate)
    tuning = None
    if tune_on:
        if tune_on == split:
            log.warning(
                "protocol tuned: thresholds chosen on %s, the split being scored: its scores are optimistic", split
            )
        tset = sets[tune_on]
        tprobs = probs if tune_on == split else predict(trained.net, tset, batch_size)
        tuning = (tprobs, tset.gt_audio, tset.gt_visual, tune_on)
    by_protocol = {p: protocol_result(p, probs, fs.gt_audio, fs.gt_visual, tuning) for p in dict.fromkeys(protocols)}
    pa, pv = binarized(probs, fs, gate)
    per_class = {
        m: {c: (None if np.isnan(v) else round(float(v), 3)) for c, v in zip(fs.classes, f)}
        for m, f in per_class_segment_f(pa, pv, fs.gt_audio, fs.gt_visual).items()
    }
    write_predictions(
        out_predictions,
        fs.video_ids,
        fs.filenames,
        {
            **probs,
            "pred_audio": pa,
            "pred_visual": pv,
            "gt_audio": fs.gt_audio.astype(np.uint8),
            "gt_visual": fs.gt_visual.astype(np.uint8),
            "labels": fs.labels.cpu().numpy().astype(np.uint8),
        },
        fs.lengths,
    )
    result = {
        "model": trained.name,
        "seed": trained.seed,
        "split": split,
        "gate": gate,
        "n_videos": len(fs),
        "skipped_videos": fs.skipped,
        "f_scores": scores,
        **({"protocols": by_protocol} if by_protocol else {}),
        "per_class_segment_f": per_class,
        "selected_epoch": trained.summary["selected_epoch"],
        "select_on": trained.select_on,
        "features": provenance,
        "avvp_pipeline_version": __version__,
    }
    write_results(result, out_metrics)
    return result


def broadcast_baseline(index_path: str | Path, split: str, out_path: str | Path) -> dict:
    """Baseline: the video-level label is predicted for every second, in both modalities."""
    s = load_split(index_path, split)
    if s.gt_audio is None:
        raise ValueError(f"split {split!r} has no dense labels to evaluate against")
    pred = np.repeat(s.labels[:, :, None], s.gt_audio.shape[-1], axis=2).astype(np.uint8)
    scores = llp_f_scores(pred, pred, s.gt_audio, s.gt_visual)
    result = {
        "model": "broadcast",
        "split": split,
        "n_videos": len(s),
        "f_scores": scores,
        "description": "video-level label broadcast to every second of both modalities",
        "avvp_pipeline_version": __version__,
    }
    write_results(result, out_path)
    return result
