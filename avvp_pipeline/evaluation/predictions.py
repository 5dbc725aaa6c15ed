"""The predictions file (``runs/NAME/predictions.h5``) of an evaluated model, one owner.

Datasets: ``video_ids``, ``filenames``; ``global_prob`` / ``audio_prob`` / ``visual_prob`` (N, C) and
``frame_prob`` (N, T, 2, C) float32 (per second; modality 0 = audio, 1 = visual); ``agg_audio`` /
``agg_visual`` (N, d) label-aware pooled features when computed; ``pred_audio`` / ``pred_visual``
(binarised events) and ``gt_audio`` / ``gt_visual`` (the truth), (N, C, T) uint8; ``labels`` (N, C)
uint8, the video-level labels (LLP: C = 25, T = 10). ``lengths`` (N,): each video's seconds, written when
they are not all T (the per-second arrays are 0 past a shorter video's length); a file without it (every
LLP file) reads as every video lasting T.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from ..fileio import atomic_output, open_hdf5, read_strings, write_strings

FRAME_PROB_LAYOUT = "(video, second, modality 0=audio 1=visual, class)"
PRED_LAYOUT = (
    "pred_audio / pred_visual: binarised events, gt_audio / gt_visual: the truth, "
    "(video, class, second) uint8; labels: video-level (video, class)"
)


LENGTHS = "lengths"
_NAMES = ("video_ids", "filenames")


def write_predictions(
    path: str | Path,
    video_ids: list[str],
    filenames: list[str],
    arrays: dict[str, np.ndarray],
    lengths: np.ndarray | None = None,
) -> None:
    """Write ``arrays`` (the datasets of the module docstring; uint8 arrays stay uint8, the rest become
    float32) with the videos' ids and file names and, for videos of different lengths, their ``lengths``,
    atomically."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        write_strings(f, "video_ids", video_ids)
        write_strings(f, "filenames", filenames)
        if lengths is not None:
            f.create_dataset(LENGTHS, data=np.asarray(lengths, dtype=np.int32))
        for k, v in arrays.items():
            f.create_dataset(k, data=v if v.dtype == np.uint8 else v.astype(np.float32), compression="gzip")
        f.attrs["frame_prob_layout"] = FRAME_PROB_LAYOUT
        f.attrs["pred_layout"] = PRED_LAYOUT


def read_predictions(
    path: str | Path, names: tuple[str, ...] | None = None
) -> tuple[list[str], list[str], dict[str, np.ndarray]]:
    """``(video_ids, filenames, arrays)`` of a predictions file: the datasets ``names`` (all when None;
    a ValueError naming the file when one is missing). ``lengths`` is always there to ask for: a file
    without it gives every video the full length."""
    with open_hdf5(path, "a predictions file") as f:
        stored = [k for k in f if k not in _NAMES] + ([] if LENGTHS in f else [LENGTHS])
        missing = [k for k in (names or ()) if k not in stored]
        if missing:
            raise ValueError(f"{path}: a predictions file without {', '.join(missing)}")
        ids = read_strings(f["video_ids"])
        arrays = {
            k: _lengths(f, len(ids)) if k == LENGTHS else f[k][:] for k in (names if names is not None else stored)
        }
        return ids, read_strings(f["filenames"]), arrays


def _lengths(f: h5py.File, n: int) -> np.ndarray:
    """The videos' lengths: stored, or the per-second arrays' full length (10 when there are none)."""
    if LENGTHS in f:
        return f[LENGTHS][:].astype(np.int64)
    full = f["frame_prob"].shape[1] if "frame_prob" in f else f["pred_audio"].shape[2] if "pred_audio" in f else 10
    return np.full(n, full, dtype=np.int64)
