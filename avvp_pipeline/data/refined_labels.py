"""The refined-labels file (``refined/labels.h5``): MA's modality-aware training labels, one owner.

Written by computed refinement (``avvp refine``) and by the import of released refined labels
(``avvp import refined``); read by training. Datasets ``video_ids``, ``filenames``, ``audio_labels`` /
``visual_labels`` (N, C) uint8 (LLP: C = 25); attributes ``stats`` and ``dropped_rows`` (JSON: modality ->
class name -> rows, in this file's order, whose weak label lost the class).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import h5py
import numpy as np

from ..fileio import atomic_output, open_hdf5, read_strings, write_strings
from .llp import CLASSES


def write_refined_labels(
    path: str | Path,
    filenames: list[str],
    video_ids: list[str],
    weak: np.ndarray,
    audio_labels: np.ndarray,
    visual_labels: np.ndarray,
    stats: dict,
    classes: Sequence[str] = CLASSES,
) -> None:
    """Write the refined labels of the videos ``video_ids`` (rows in that order; one column per name of
    ``classes``), atomically."""
    weak = np.asarray(weak).astype(np.uint8)
    if weak.shape[1:] != (len(classes),):
        raise ValueError(f"{path}: weak labels of shape {weak.shape} for {len(classes)} classes")
    dropped = {
        m: {
            c: np.flatnonzero(weak[:, i] & (1 - lab[:, i])).tolist()
            for i, c in enumerate(classes)
            if (weak[:, i] & (1 - lab[:, i])).any()
        }
        for m, lab in (("audio", audio_labels), ("visual", visual_labels))
    }
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        write_strings(f, "video_ids", video_ids)
        write_strings(f, "filenames", filenames)
        f.create_dataset("audio_labels", data=audio_labels)
        f.create_dataset("visual_labels", data=visual_labels)
        f.attrs["stats"] = json.dumps(stats)
        f.attrs["dropped_rows"] = json.dumps(dropped)


def read_refined_labels(path: str | Path, video_ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(audio, visual)`` refined labels (N, C) float32 of ``video_ids``, rows matched by id; a
    ValueError naming the file when some video has none."""
    with open_hdf5(path, "a refined-labels file") as f:
        row = {vid: i for i, vid in enumerate(read_strings(f["video_ids"]))}
        missing = [v for v in video_ids if v not in row]
        if missing:
            raise ValueError(f"{path}: no refined labels for {len(missing)} videos, e.g. {missing[:3]}")
        take = [row[v] for v in video_ids]
        return (f["audio_labels"][:][take].astype(np.float32), f["visual_labels"][:][take].astype(np.float32))


def refined_stats(path: str | Path) -> dict:
    """The ``stats`` attribute of a refined-labels file."""
    with open_hdf5(path, "a refined-labels file") as f:
        return json.loads(f.attrs["stats"])
