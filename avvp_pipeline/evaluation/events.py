"""Events from per-segment predictions: runs of positive segments per class, as ``events.json`` lists them.

Torch-free, so the report's pages form their events without loading a model stack."""

from __future__ import annotations

import numpy as np

from ..data.llp import CLASSES


def runs(row: np.ndarray) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` of the runs of non-zero entries of a 1-D array (``end`` exclusive)."""
    padded = np.concatenate([[0], (np.asarray(row) != 0).astype(np.int8), [0]])
    d = np.diff(padded)
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def events_from(
    pred: np.ndarray,
    prob: np.ndarray | None,
    duration: float,
    classes: tuple[str, ...] = CLASSES,
    segment_seconds: float = 1.0,
) -> list[dict]:
    """Runs of ones in ``pred`` (C, S), one row per name of ``classes``, as ``{label, onset, offset, score}``
    in seconds (``segment_seconds`` per column), sorted by onset then label; ``offset`` capped at
    ``duration``; ``score`` the mean of ``prob`` over the run (None without ``prob``, e.g. for the truth)."""
    if pred.shape[0] != len(classes):
        raise ValueError(f"predictions for {pred.shape[0]} classes, but {len(classes)} class names")
    events = [
        {
            "label": classes[c],
            "onset": round(a * segment_seconds, 3),
            "offset": round(min(b * segment_seconds, duration), 3),
            "score": None if prob is None else round(float(np.clip(prob[c, a:b].mean(), 0.0, 1.0)), 4),
        }
        for c in range(pred.shape[0])
        for a, b in runs(pred[c])
    ]
    return sorted(events, key=lambda e: (e["onset"], e["label"]))
