"""The results file (``metrics.json``) of an evaluated model or a baseline, one owner.

A JSON object: ``model``, ``split``, ``n_videos``, ``f_scores`` (the ten LLP F-scores, percent) and,
for trained models, ``seed``, ``gate``, ``skipped_videos``, ``per_class_segment_f`` (modality -> class
-> F or null), ``selected_epoch``, ``select_on`` (val, test, or null when the last epoch is kept),
``features`` (their provenance); ``avvp_pipeline_version``. Where post-processing protocols were asked for
(``evaluate.protocols``), ``protocols`` maps each protocol's name to its ``f_scores`` and how its predictions
were made (``gate``; for ``tuned`` its ``thresholds``, ``tuned_on`` and ``n_tuning_videos``); ``f_scores``
stay those of the run's own gate. ``classes`` (the class list scored) is written when it is not LLP's; a
file without it was scored on LLP's classes.
"""

from __future__ import annotations

from pathlib import Path

from ..data.llp import CLASSES
from ..fileio import read_json, write_json


def classes_entry(classes: tuple[str, ...] | list[str]) -> dict:
    """The ``classes`` entry of a results file scored on ``classes``: none for LLP's."""
    return {} if tuple(classes) == CLASSES else {"classes": list(classes)}


def scored_on_llp(result: dict) -> bool:
    """Whether a run's results are on LLP's classes (those the papers' figures are on)."""
    return tuple(result.get("classes", CLASSES)) == CLASSES


def write_results(result: dict, path: str | Path) -> None:
    """Write one run's results, atomically."""
    if "model" not in result or "f_scores" not in result:
        raise ValueError(f"{path}: results need 'model' and 'f_scores'")
    write_json(result, path)


def read_results(path: str | Path) -> dict:
    """One run's results; a ValueError naming the file when it is not a results file."""
    doc = read_json(path)
    if not isinstance(doc, dict) or "model" not in doc or "f_scores" not in doc:
        raise ValueError(f"{path}: not a metrics.json (no 'model' and 'f_scores')")
    return doc
