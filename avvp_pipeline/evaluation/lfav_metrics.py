"""LFAV's evaluation protocol, as its official scorer computes it, vectorised (numpy only).

LFAV (GeWu-Lab/LFAV: 35 classes, long videos, one snippet per second) scores with
``src/tools/evaluation.py`` and ``src/utils/eval_metrics.py``. What that code does, per video in the
loader's order (one video per batch):

* **predictions**: ``Pa[c, t] = 1[P_audio[t, c] >= 0.5] * 1[p_a[c] >= 0.5]`` and likewise for
  visual: each modality is gated by its own video-level probability (MA's ``modality`` gate), both
  thresholds inclusive; audio-visual = product of the two. ``T`` is the video's feature length;
* **truth**: its annotation rows ``onset, offset`` are whole seconds and the **offset is inclusive**
  (``GT[c, onset:offset + 1] = 1``, where LLP's files use ``onset:offset``); rows past ``T`` are
  cut, rows with offset < onset set nothing. Building the dense truth is the data readers' job;
  this module takes it dense;
* **segment- and event-level F** are HAN's functions with 10 and 25 replaced by ``T`` and 35, so
  they are :func:`metrics.llp_f_scores_padded` (per-video F averaged over counted classes, 1.0 when
  none, maximal runs, a predicted run a TP if any true run has intersection >= 0.5 x union). The
  code computes segment-level F and Event@AV but prints neither; they are returned here anyway;
* **snippet-level mAP** (``segment_map``), for audio, visual and audio-visual: per class, the
  *raw* snippet probabilities (not thresholded and not gated; audio-visual = ``P_audio * P_visual``,
  truth = product of the truths) of all snippets of all videos are pooled and ranked by the
  reverse of ``np.argsort``'s order (so tied scores come in the order numpy's default sort leaves
  them, reversed); precision and recall are taken after each snippet and the VOC 2011
  interpolated AP is computed (precision made non-increasing from the right, summed over the
  points where recall changes). mAP = mean AP over the classes; ``avg`` = mean of the three.
  A class with no true snippet in a modality gets AP = NaN (recall 0 / 0), which makes that mAP,
  the average and the selection score NaN; kept as the code gives it;
* **model selection** (on the validation split, each epoch): ``(100 * map_avg + ev_type) / 2``,
  where ``ev_type`` is the event-level Type@AV; an epoch is kept when this is strictly greater than
  the best so far (starting from 0, so a NaN score is never kept).

The code asserts 35 classes; nothing here depends on the number. All scores are in percent.
"""

from __future__ import annotations

import numpy as np

from .metrics import METRIC_KEYS, llp_f_scores_padded, valid_seconds

__all__ = ["LFAV_KEYS", "lfav_predictions", "snippet_average_precision", "lfav_scores"]

#: The ten F-scores of the LLP protocol, then the snippet-level mAPs and the model-selection score.
LFAV_KEYS: tuple[str, ...] = METRIC_KEYS + ("map_audio", "map_visual", "map_av", "map_avg", "selection")

THRESHOLD = 0.5


def _check_probs(frame_prob, audio_prob, visual_prob, lengths) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Checked arrays and the ``(N, Tmax)`` mask of valid seconds."""
    fp = np.asarray(frame_prob)
    if fp.ndim != 4 or fp.shape[2] != 2 or 0 in fp.shape[1:]:
        raise ValueError(f"frame_prob must have shape (N, Tmax, 2, C) (video, second, modality, class), got {fp.shape}")
    n, t_max, _, n_cls = fp.shape
    gates = []
    for name, x in (("audio_prob", audio_prob), ("visual_prob", visual_prob)):
        a = np.asarray(x)
        if a.shape != (n, n_cls):
            raise ValueError(f"{name} must have shape ({n}, {n_cls}) (video, class), got {a.shape}")
        gates.append(a)
    valid = valid_seconds(lengths, n, t_max)
    for name, a in (("frame_prob", fp[valid]), ("audio_prob", gates[0]), ("visual_prob", gates[1])):
        if np.isnan(a).any():
            raise ValueError(f"{name} contains NaN")
    return fp, gates[0], gates[1], valid


def _predictions(fp, audio_prob, visual_prob, valid) -> tuple[np.ndarray, np.ndarray]:
    seg = (fp >= THRESHOLD) & valid[:, :, None, None]  # (N, Tmax, 2, C)
    pa = seg[:, :, 0, :].transpose(0, 2, 1) & (audio_prob >= THRESHOLD)[:, :, None]
    pv = seg[:, :, 1, :].transpose(0, 2, 1) & (visual_prob >= THRESHOLD)[:, :, None]
    return pa.astype(np.uint8), pv.astype(np.uint8)


def lfav_predictions(
    frame_prob: np.ndarray, audio_prob: np.ndarray, visual_prob: np.ndarray, lengths: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """LFAV's 0/1 predictions ``(pred_audio, pred_visual)``, uint8 ``(N, C, Tmax)``, zero past each length.

    ``frame_prob`` is ``(N, Tmax, 2, C)`` snippet probabilities (modality 0 audio, 1 visual), padded to
    the longest video; ``audio_prob``, ``visual_prob`` ``(N, C)`` the video-level gates; ``lengths``
    ``(N,)`` the videos' numbers of seconds.
    """
    return _predictions(*_check_probs(frame_prob, audio_prob, visual_prob, lengths))


def _pooled(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """(N, C, Tmax) -> (C, S): per class, every valid snippet, video after video."""
    return np.ascontiguousarray(x.transpose(1, 0, 2)[:, valid])  # row by row, for the sort


def snippet_average_precision(prob: np.ndarray, truth: np.ndarray, lengths: np.ndarray | None = None) -> np.ndarray:
    """Per-class AP ``(C,)`` in [0, 1] of LFAV's ``segment_map``, NaN for a class with no true snippet.

    ``prob`` ``(N, C, Tmax)`` scores, ``truth`` the same shape 0/1; only each video's first
    ``lengths[i]`` snippets count. All snippets of a class are pooled over videos, ranked as the
    official code ranks them (reverse of ``np.argsort``), and scored with VOC 2011 interpolated AP.
    """
    p = np.asarray(prob)
    y = np.asarray(truth)
    if p.ndim != 3 or y.shape != p.shape:
        raise ValueError(f"prob and truth must have one shape (N, C, Tmax), got {p.shape} and {y.shape}")
    valid = valid_seconds(lengths, p.shape[0], p.shape[2])
    scores, labels = _pooled(p, valid), _pooled(y != 0, valid)
    if scores.shape[1] == 0:
        raise ValueError("snippet_average_precision needs at least one snippet")
    # Positives in the official order (the reverse of np.argsort's), class by class: only at a
    # positive does recall change, and the interpolated precision there is the best precision at it
    # or at a later positive (precision only rises at a positive).
    ranked = np.take_along_axis(labels, np.argsort(scores, axis=1), axis=1)[:, ::-1]
    cls, pos = np.nonzero(ranked)
    n_cls = len(scores)
    n_pos = np.bincount(cls, minlength=n_cls)
    hits = np.arange(cls.size) - (np.cumsum(n_pos) - n_pos)[cls] + 1  # j-th positive of its class
    precision = hits / (pos + 1)
    best = np.zeros((n_cls, int(n_pos.max(initial=0))))
    best[cls, hits - 1] = precision
    best = np.maximum.accumulate(best[:, ::-1], axis=1)[:, ::-1]
    m = n_pos[cls].astype(np.float64)
    recall_step = hits / m - (hits - 1) / m  # as the official code computes it, float for float
    ap = np.bincount(cls, weights=recall_step * best[cls, hits - 1], minlength=n_cls).astype(np.float64)
    ap[n_pos == 0] = np.nan  # recall 0 / 0 in the official code
    return ap


def lfav_scores(
    frame_prob: np.ndarray,
    audio_prob: np.ndarray,
    visual_prob: np.ndarray,
    gt_audio: np.ndarray,
    gt_visual: np.ndarray,
    lengths: np.ndarray,
) -> dict[str, float]:
    """LFAV's scores in percent, keys ``LFAV_KEYS``.

    ``frame_prob`` ``(N, Tmax, 2, C)``, ``audio_prob`` and ``visual_prob`` ``(N, C)`` as for
    :func:`lfav_predictions`; ``gt_audio``, ``gt_visual`` the dense 0/1 truth ``(N, C, Tmax)`` (built
    from inclusive offsets); ``lengths`` ``(N,)``. The F-scores are those of the gated predictions,
    the mAPs those of the raw probabilities; ``selection`` is the official model-selection score.
    """
    fp, ap_gate, vp_gate, valid = _check_probs(frame_prob, audio_prob, visual_prob, lengths)
    pa, pv = _predictions(fp, ap_gate, vp_gate, valid)
    out = llp_f_scores_padded(pa, pv, gt_audio, gt_visual, lengths)
    ga, gv = np.asarray(gt_audio) != 0, np.asarray(gt_visual) != 0
    prob_a = fp[:, :, 0, :].transpose(0, 2, 1)
    prob_v = fp[:, :, 1, :].transpose(0, 2, 1)
    pairs = {"audio": (prob_a, ga), "visual": (prob_v, gv), "av": (prob_a * prob_v, ga & gv)}
    for m, (prob, truth) in pairs.items():
        out[f"map_{m}"] = 100.0 * float(np.mean(snippet_average_precision(prob, truth, lengths)))
    out["map_avg"] = (out["map_audio"] + out["map_visual"] + out["map_av"]) / 3.0
    out["selection"] = (out["map_avg"] + out["ev_type"]) / 2.0
    return {k: out[k] for k in LFAV_KEYS}
