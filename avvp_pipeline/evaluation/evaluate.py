"""Evaluate a trained model (or the broadcast baseline) on a split with the LLP protocol."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

from .. import __version__
from ..atomic import atomic_output, write_text
from ..data.index import load_split
from ..device import resolve_device
from ..models.rows import keeps_last_epoch
from ..training.data import load_feature_sets
from ..training.trainer import evaluate_probs, load_model, predict
from ..data.llp import CLASSES
from .metrics import binarize_predictions, llp_f_scores, per_class_segment_f

METRIC_KEYS = ("seg_audio", "seg_visual", "seg_av", "seg_type", "seg_event",
               "ev_audio", "ev_visual", "ev_av", "ev_type", "ev_event")


def write_json(obj: dict, path: str | Path) -> None:
    """Write JSON atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def write_predictions(path: str | Path, video_ids: list[str], filenames: list[str], probs: dict[str, np.ndarray]) -> None:
    """Per-video probabilities (global/audio/visual (N,25), frame (N,10,2,25)) and any other arrays in
    ``probs`` (e.g. the aggregated features ``agg_audio``/``agg_visual``) to HDF5, atomically."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        strings = h5py.string_dtype("utf-8")
        f.create_dataset("video_ids", data=np.array(video_ids, dtype=object), dtype=strings)
        f.create_dataset("filenames", data=np.array(filenames, dtype=object), dtype=strings)
        for k, v in probs.items():
            f.create_dataset(k, data=v if v.dtype == np.uint8 else v.astype(np.float32), compression="gzip")
        f.attrs["frame_prob_layout"] = "(video, second, modality 0=audio 1=visual, class)"
        f.attrs["pred_layout"] = ("pred_audio / pred_visual: binarised events, gt_audio / gt_visual: the truth, "
                                  "(video, class, second) uint8; labels: video-level (video, class)")


def features_match(trained: dict, given: dict) -> bool:
    """Whether shards whose provenance is ``given`` hold the features a model trained on ``trained`` expects.

    Exactly equal provenance, except for an extractor whose ``trained`` entry says ``source: released``
    and records no ``config_hash`` (a model trained elsewhere on the released LLP features, e.g.
    ``avvp import-model han-official``): any import of the release fits it, so only ``weights_id``
    (``released:<folder>``) is compared; the config hash and code version of an import say where and
    when it was imported, not what the features are.
    """
    if set(trained) != set(given):
        return False
    for name, t in trained.items():
        g = given[name]
        released = isinstance(t, dict) and t.get("source") == "released" and "config_hash" not in t
        if released and not (isinstance(g, dict) and g.get("weights_id") == t.get("weights_id")):
            return False
        if not released and g != t:
            return False
    return True


def evaluate_model(model_path: str | Path, index_path: str | Path, shards: dict[str, list[str]], split: str,
                   out_dir: str | Path, gate: str | None = None, device: str = "auto") -> dict:
    """Predict ``split`` with a trained model; write ``metrics.json`` and ``predictions.h5``."""
    device = resolve_device(device)
    model, ckpt = load_model(model_path, device)
    sets, provenance = load_feature_sets(index_path, [split], shards, device)
    if not features_match(ckpt["features"], provenance):
        raise ValueError(f"{model_path}: trained on features {ckpt['features']}, but the {split} features "
                         f"were made by {provenance}; re-extract or retrain")
    fs = sets[split]
    gate = gate or ckpt["train_config"].get("gate", "global")
    probs = predict(model, fs, ckpt["train_config"].get("eval_batch_size", 256), aggregate=True)
    scores = evaluate_probs(probs, fs, gate)
    pa, pv = binarize_predictions(probs["frame_prob"], probs["global_prob"], gate=gate,
                                  audio_prob=probs["audio_prob"], visual_prob=probs["visual_prob"])
    per_class = {m: {c: (None if np.isnan(v) else round(float(v), 3)) for c, v in zip(CLASSES, f)}
                 for m, f in per_class_segment_f(pa, pv, fs.gt_audio, fs.gt_visual).items()}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_predictions(out_dir / "predictions.h5", fs.video_ids, fs.filenames,
                      {**probs, "pred_audio": pa, "pred_visual": pv, "gt_audio": fs.gt_audio.astype(np.uint8),
                       "gt_visual": fs.gt_visual.astype(np.uint8),
                       "labels": fs.labels.cpu().numpy().astype(np.uint8)})
    result = {"model": ckpt["model_name"], "seed": ckpt["train_config"].get("seed"), "split": split, "gate": gate,
              "n_videos": len(fs), "skipped_videos": fs.skipped, "f_scores": scores, "per_class_segment_f": per_class,
              "selected_epoch": ckpt["summary"]["selected_epoch"], "select_on": _select_on(ckpt),
              "features": provenance, "avvp_pipeline_version": __version__}
    write_json(result, out_dir / "metrics.json")
    return result


def _select_on(ckpt: dict) -> str | None:
    """The split the model's epoch was selected on, or None when it kept its last epoch."""
    tc = ckpt["train_config"]
    if keeps_last_epoch(ckpt["model_name"], tc.get("select", "auto")):
        return None
    return ckpt["summary"].get("select_on", tc.get("select_on", "val"))


def broadcast_baseline(index_path: str | Path, split: str, out_path: str | Path) -> dict:
    """Baseline: the video-level label is predicted for every second, in both modalities."""
    s = load_split(index_path, split)
    if s.gt_audio is None:
        raise ValueError(f"split {split!r} has no dense labels to evaluate against")
    pred = np.repeat(s.labels[:, :, None], s.gt_audio.shape[-1], axis=2).astype(np.uint8)
    scores = llp_f_scores(pred, pred, s.gt_audio, s.gt_visual)
    result = {"model": "broadcast", "split": split, "n_videos": len(s), "f_scores": scores,
              "description": "video-level label broadcast to every second of both modalities",
              "avvp_pipeline_version": __version__}
    write_json(result, out_path)
    return result
