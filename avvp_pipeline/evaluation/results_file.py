"""The results file (``metrics.json``) of an evaluated model or a baseline, one owner.

A JSON object: ``model``, ``split``, ``n_videos``, ``f_scores`` (the ten LLP F-scores, percent) and,
for trained models, ``seed``, ``gate``, ``skipped_videos``, ``per_class_segment_f`` (modality -> class
-> F or null), ``selected_epoch``, ``select_on`` (val, test, or null when the last epoch is kept),
``features`` (their provenance); ``avvp_pipeline_version``. Where post-processing protocols were asked for
(``evaluate.protocols``), ``protocols`` maps each protocol's name to its ``f_scores`` and how its predictions
were made (``gate``; for ``tuned`` its ``thresholds``, ``tuned_on`` and ``n_tuning_videos``); ``f_scores``
stay those of the run's own gate.
"""

from __future__ import annotations

from pathlib import Path

from ..fileio import read_json, write_json


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
