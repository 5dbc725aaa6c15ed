"""Post-processing protocols: how segment and video-level probabilities become 0/1 predictions.

Published repositories differ here, and the choice moves the numbers, so each protocol is reported
under its own name, never in place of another:

* ``llp``: HAN's (and CM-Co's, VALOR's) gate, the joint video-level probability: a segment counts
  when ``P >= 0.5`` and ``global >= 0.5`` (``binarize_predictions(gate="global")``);
* ``modality``: MA's gate, each modality by its own video-level probability: ``p_a >= 0.5`` for
  audio, ``p_v >= 0.5`` for visual (``gate="modality"``);
* ``tuned``: the modality gate with thresholds chosen on the validation split: one segment
  threshold, one audio video-level threshold and one visual video-level threshold per class (the
  threshold-tuning protocol of later repositories), then applied unchanged to the split scored.

The metric (:mod:`metrics`) is the same for all three; only the 0/1 predictions differ.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..data.llp import CLASSES
from .metrics import binarize_predictions, binarize_probs, llp_f_scores_padded, per_video_scores_padded

__all__ = [
    "PROTOCOLS",
    "PROTOCOL_GATES",
    "GRID",
    "Thresholds",
    "binarize_thresholds",
    "tune_thresholds",
    "protocol_result",
]

PROTOCOLS = ("llp", "modality", "tuned")
#: The fixed-threshold protocols as gates of :func:`metrics.binarize_predictions` (``evaluate.gate``).
PROTOCOL_GATES = {"llp": "global", "modality": "modality"}
#: Candidate thresholds of the tuned protocol: 0.05, 0.10, ..., 0.95.
GRID = tuple(round(0.05 * k, 2) for k in range(1, 20))


@dataclass
class Thresholds:
    """The tuned protocol's thresholds: segment (both modalities), audio video-level, visual video-level
    per class (one per name of ``classes``)."""

    segment: float = 0.5
    audio: float = 0.5
    visual: np.ndarray | None = None  # (C,), 0.5 each when None
    classes: tuple[str, ...] = CLASSES

    def __post_init__(self):
        n = len(self.classes)
        self.visual = np.full(n, 0.5) if self.visual is None else np.asarray(self.visual, float).copy()
        if self.visual.shape != (n,):
            raise ValueError(f"visual thresholds must have shape ({n},), got {self.visual.shape}")

    def as_dict(self) -> dict:
        return {
            "segment": self.segment,
            "audio": self.audio,
            "visual": {c: float(v) for c, v in zip(self.classes, self.visual)},
        }


def binarize_thresholds(probs: dict[str, np.ndarray], th: Thresholds) -> tuple[np.ndarray, np.ndarray]:
    """``(pred_audio, pred_visual)`` uint8 ``(N, C, T)``: ``1[P[t, m, c] >= th.segment]`` gated by
    ``p_a[c] >= th.audio`` (audio) and ``p_v[c] >= th.visual[c]`` (visual); thresholds inclusive."""
    fp = np.asarray(probs["frame_prob"])
    seg_a = (fp[:, :, 0, :] >= th.segment).transpose(0, 2, 1)
    seg_v = (fp[:, :, 1, :] >= th.segment).transpose(0, 2, 1)
    o_a = np.asarray(probs["audio_prob"]) >= th.audio
    o_v = np.asarray(probs["visual_prob"]) >= th.visual[None, :]
    return (seg_a & o_a[:, :, None]).astype(np.uint8), (seg_v & o_v[:, :, None]).astype(np.uint8)


def _check(probs: dict[str, np.ndarray]) -> None:
    """Shapes and NaNs checked as :func:`metrics.binarize_predictions` checks them."""
    binarize_predictions(
        probs["frame_prob"], None, gate="modality", audio_prob=probs["audio_prob"], visual_prob=probs["visual_prob"]
    )


def _best(values, score) -> float:
    """The grid value with the highest ``score(value)``; ties keep the first in ``values``."""
    best_v, best_s = values[0], score(values[0])
    for v in values[1:]:
        s = score(v)
        if s > best_s:
            best_v, best_s = v, s
    return best_v


def tune_thresholds(
    probs: dict[str, np.ndarray],
    gt_audio: np.ndarray,
    gt_visual: np.ndarray,
    grid: tuple[float, ...] = GRID,
    lengths: np.ndarray | None = None,
    classes: tuple[str, ...] = CLASSES,
) -> Thresholds:
    """The tuned protocol's thresholds, chosen on one split (the validation split), one at a time from
    ``grid``, starting from 0.5 everywhere:

    1. the segment threshold, maximising segment-level Type@AV;
    2. the audio video-level threshold, maximising segment-level audio F;
    3. one visual video-level threshold for all classes, maximising segment-level visual F;
    4. then each class's visual threshold in class order, maximising segment-level visual F.

    Every step keeps the others fixed; the current value is tried first, so a threshold moves only
    when another value scores strictly higher (ties go to the current value, then the smaller one).
    Each video is scored over its ``lengths`` (None: the arrays' full length).
    """
    _check(probs)
    th = Thresholds(classes=classes)
    n_classes = len(classes)

    def seg(key: str, cand: Thresholds) -> float:
        pa, pv = binarize_thresholds(probs, cand)
        s = per_video_scores_padded(pa, pv, gt_audio, gt_visual, lengths)["segment"]
        if key == "type":
            return float(np.mean(s["audio"]) + np.mean(s["visual"]) + np.mean(s["av"]))
        return float(np.mean(s[key]))

    def first(current: float) -> tuple[float, ...]:
        return (current, *(v for v in grid if v != current))

    th.segment = _best(first(th.segment), lambda v: seg("type", Thresholds(v, th.audio, th.visual, classes)))
    th.audio = _best(first(th.audio), lambda v: seg("audio", Thresholds(th.segment, v, th.visual, classes)))
    all_v = _best(first(0.5), lambda v: seg("visual", Thresholds(th.segment, th.audio, np.full(n_classes, v), classes)))
    th.visual = np.full(n_classes, all_v)
    for c in range(n_classes):

        def per_class(v, c=c):
            vis = th.visual.copy()
            vis[c] = v
            return seg("visual", Thresholds(th.segment, th.audio, vis, classes))

        th.visual[c] = _best(first(float(th.visual[c])), per_class)
    return th


def protocol_result(
    name: str,
    probs: dict[str, np.ndarray],
    gt_audio: np.ndarray,
    gt_visual: np.ndarray,
    tuning: tuple | None = None,
    lengths: np.ndarray | None = None,
    classes: tuple[str, ...] = CLASSES,
) -> dict:
    """One protocol's entry of ``metrics.json``: ``f_scores`` and how the predictions were made
    (``gate``; for ``tuned`` the ``thresholds``, the split they were chosen on and its size).
    ``tuning`` = (probabilities, audio truth, visual truth, split name[, lengths]) of the tuning split,
    needed by ``tuned``. Each video is scored over its ``lengths`` (None: the arrays' full length);
    ``classes`` names the arrays' classes."""
    if name in PROTOCOL_GATES:
        gate = PROTOCOL_GATES[name]
        pa, pv = binarize_probs(probs, gate)
        return {"gate": gate, "f_scores": llp_f_scores_padded(pa, pv, gt_audio, gt_visual, lengths)}
    if name != "tuned":
        raise ValueError(f"unknown post-processing protocol {name!r}; known: {', '.join(PROTOCOLS)}")
    if tuning is None:
        raise ValueError("protocol tuned needs the validation split's probabilities and truth to tune on")
    tprobs, tga, tgv, tsplit = tuning[:4]
    th = tune_thresholds(tprobs, tga, tgv, lengths=tuning[4] if len(tuning) > 4 else None, classes=classes)
    _check(probs)
    pa, pv = binarize_thresholds(probs, th)
    return {
        "gate": "modality",
        "thresholds": th.as_dict(),
        "tuned_on": tsplit,
        "n_tuning_videos": len(tga),
        "f_scores": llp_f_scores_padded(pa, pv, gt_audio, gt_visual, lengths),
    }
