"""Events from per-second predictions: runs of positive seconds per class, as ``events.json`` lists them.

Torch-free, so the report's pages form their events without loading a model stack."""

from __future__ import annotations

import numpy as np

from ..data.llp import CLASSES


def runs(row: np.ndarray) -> list[tuple[int, int]]:
    """``[(start, end), ...]`` of the runs of non-zero entries of a 1-D array (``end`` exclusive)."""
    padded = np.concatenate([[0], (np.asarray(row) != 0).astype(np.int8), [0]])
    d = np.diff(padded)
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def events_from(pred: np.ndarray, prob: np.ndarray | None, duration: float) -> list[dict]:
    """Runs of ones in ``pred`` (25, S) as ``{label, onset, offset, score}``, sorted by onset then label;
    ``offset`` capped at ``duration``; ``score`` the mean of ``prob`` over the run (None without ``prob``,
    e.g. for the truth)."""
    events = [
        {
            "label": CLASSES[c],
            "onset": float(a),
            "offset": round(min(float(b), duration), 3),
            "score": None if prob is None else round(float(np.clip(prob[c, a:b].mean(), 0.0, 1.0)), 4),
        }
        for c in range(pred.shape[0])
        for a, b in runs(pred[c])
    ]
    return sorted(events, key=lambda e: (e["onset"], e["label"]))
