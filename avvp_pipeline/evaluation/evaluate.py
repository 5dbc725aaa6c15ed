"""Evaluate a trained model (or the broadcast baseline) on a split with the LLP protocol."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .. import __version__
from ..data.feature_sets import FeatureSet, load_feature_sets, require_shards
from ..data.index import index_classes, load_split
from ..device import resolve_device
from ..features import store
from ..inference import predict
from ..models.checkpoint import load_trained
from .lfav_metrics import lfav_scores
from .metrics import binarize_probs, llp_f_scores_padded, per_class_segment_f, valid_seconds
from .predictions import write_predictions
from .protocols import PROTOCOLS, protocol_result
from .results_file import classes_entry, write_results

log = logging.getLogger(__name__)


#: The scorers a model's split can be scored with: LLP's ten F-scores, or LFAV's protocol (those ten with
#: LFAV's modality gate, the snippet mAPs and its selection score).
SCORERS = ("llp", "lfav")


def evaluate_probs(
    probs: dict[str, np.ndarray], fs: FeatureSet, gate: str = "global", scorer: str = "llp"
) -> dict[str, float]:
    """Ten LLP F-scores of predicted probabilities against the split's dense truth (each video over its
    own length); with ``scorer`` lfav, LFAV's scores (``lfav_metrics.LFAV_KEYS``: its own gate, ``gate`` unused)."""
    if fs.gt_audio is None:
        raise ValueError(f"split {fs.split!r} has no dense labels to evaluate against")
    if scorer == "lfav":
        lengths = fs.lengths if fs.lengths is not None else np.full(len(fs), fs.segments)
        return lfav_scores(
            probs["frame_prob"], probs["audio_prob"], probs["visual_prob"], fs.gt_audio, fs.gt_visual, lengths
        )
    if scorer != "llp":
        raise ValueError(f"unknown scorer {scorer!r}; known: {', '.join(SCORERS)}")
    pa, pv = binarize_probs(probs, gate)
    return llp_f_scores_padded(pa, pv, fs.gt_audio, fs.gt_visual, fs.lengths)


def require_classes(model_path, model_classes: tuple[str, ...], index_path, index_classes: tuple[str, ...]) -> None:
    """A ValueError unless a model's classes are the index's, in the same order (its outputs are read by position)."""
    if tuple(model_classes) != tuple(index_classes):
        raise ValueError(
            f"{model_path}: the model predicts {len(model_classes)} classes ({', '.join(model_classes[:4])}, ...), "
            f"but {index_path} lists {len(index_classes)} ({', '.join(index_classes[:4])}, ...); evaluate it "
            "on the data set it was trained on"
        )


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
    scorer: str = "llp",
) -> dict:
    """Predict ``split`` with a trained model; write ``metrics.json`` and ``predictions.h5``.

    ``f_scores`` use ``gate`` (the model's own when None). Each post-processing protocol named in
    ``protocols`` (llp, modality, tuned: evaluation/protocols.py) adds its own scores under
    ``protocols.NAME``; ``tuned`` chooses its thresholds on the val split. ``workflow_results``: the results folder of
    the workflow running this stage, if any: a damaged shard inside it is moved aside to be rebuilt.
    ``scorer`` lfav: LFAV's protocol (:func:`evaluate_probs`; its modality gate decides the predictions)."""
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
    require_classes(model_path, trained.classes, index_path, fs.classes)
    gate = "modality" if scorer == "lfav" else gate or trained.gate
    probs = predict(trained.net, fs, batch_size, aggregate=True)
    scores = evaluate_probs(probs, fs, gate, scorer)
    tuning = None
    if tune_on:
        if tune_on == split:
            log.warning(
                "protocol tuned: thresholds chosen on %s, the split being scored: its scores are optimistic", split
            )
        tset = sets[tune_on]
        tprobs = probs if tune_on == split else predict(trained.net, tset, batch_size)
        tuning = (tprobs, tset.gt_audio, tset.gt_visual, tune_on, tset.lengths)
    by_protocol = {
        p: protocol_result(p, probs, fs.gt_audio, fs.gt_visual, tuning, fs.lengths, fs.classes)
        for p in dict.fromkeys(protocols)
    }
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
        fs.classes,
        fs.segment_seconds,
    )
    result = {
        "model": trained.name,
        "seed": trained.seed,
        "split": split,
        "gate": gate,
        **({"scorer": scorer} if scorer != "llp" else {}),
        "n_videos": len(fs),
        "skipped_videos": fs.skipped,
        "f_scores": scores,
        **({"protocols": by_protocol} if by_protocol else {}),
        "per_class_segment_f": per_class,
        **classes_entry(fs.classes),
        "selected_epoch": trained.summary["selected_epoch"],
        "select_on": trained.select_on,
        "features": provenance,
        "avvp_pipeline_version": __version__,
    }
    write_results(result, out_metrics)
    return result


def broadcast_baseline(
    index_path: str | Path, split: str, out_path: str | Path, shards: dict[str, list[str]] | None = None
) -> dict:
    """Baseline: the video-level label is predicted for every second, in both modalities, of the split's
    videos that have features in the shards of every kind given (the videos a model is scored on: a
    clip that could not be had or extracted is left out, as evaluation leaves it out); every video
    of the split when no shards are given."""
    s = load_split(index_path, split)
    if s.gt_audio is None:
        raise ValueError(f"split {split!r} has no dense labels to evaluate against")
    keep = _with_features(s.video_ids, shards) if shards else list(range(len(s)))
    kept = set(keep)
    skipped = [v for i, v in enumerate(s.video_ids) if i not in kept]
    if skipped:
        shown_ids = ", ".join(skipped[:10])
        log.warning("%s: %d of %d videos have no features and are left out: %s", split, len(skipped), len(s), shown_ids)
    if not keep:
        raise ValueError(f"{split}: none of its {len(s)} videos has features")
    labels, gt_audio, gt_visual = s.labels[keep], s.gt_audio[keep], s.gt_visual[keep]
    lengths = s.lengths[keep]
    pred = np.repeat(labels[:, :, None], gt_audio.shape[-1], axis=2).astype(np.uint8)
    scores = llp_f_scores_padded(pred, pred, gt_audio, gt_visual, lengths)
    result = {
        "model": "broadcast",
        "split": split,
        "n_videos": len(keep),
        "skipped_videos": skipped,
        "f_scores": scores,
        "description": "video-level label broadcast to every second of both modalities",
        **classes_entry(index_classes(index_path)[0]),
        "avvp_pipeline_version": __version__,
    }
    write_results(result, out_path)
    return result


def _with_features(video_ids: list[str], shards: dict[str, list[str]]) -> list[int]:
    """The positions of ``video_ids`` that every kind's shards hold."""
    held = None
    for paths in shards.values():
        ids = set()
        for path in paths:
            read = store.read_shard_ids(path)
            if read is None:
                raise ValueError(f"{path}: not a readable feature shard (no video_ids)")
            ids.update(read[0])
        held = ids if held is None else held & ids
    return [i for i, v in enumerate(video_ids) if v in held]
