"""The predictions file (``runs/NAME/predictions.h5``) of an evaluated model, one owner.

Datasets: ``video_ids``, ``filenames``; ``global_prob`` / ``audio_prob`` / ``visual_prob`` (N, 25) and
``frame_prob`` (N, 10, 2, 25) float32 (per second; modality 0 = audio, 1 = visual); ``agg_audio`` /
``agg_visual`` (N, d) label-aware pooled features when computed; ``pred_audio`` / ``pred_visual``
(binarised events) and ``gt_audio`` / ``gt_visual`` (the truth), (N, 25, 10) uint8; ``labels`` (N, 25)
uint8, the video-level labels.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from ..fileio import atomic_output, check_regular, read_strings, write_strings

FRAME_PROB_LAYOUT = "(video, second, modality 0=audio 1=visual, class)"
PRED_LAYOUT = (
    "pred_audio / pred_visual: binarised events, gt_audio / gt_visual: the truth, "
    "(video, class, second) uint8; labels: video-level (video, class)"
)


def write_predictions(
    path: str | Path, video_ids: list[str], filenames: list[str], arrays: dict[str, np.ndarray]
) -> None:
    """Write ``arrays`` (the datasets of the module docstring; uint8 arrays stay uint8, the rest become
    float32) with the videos' ids and file names, atomically."""
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        write_strings(f, "video_ids", video_ids)
        write_strings(f, "filenames", filenames)
        for k, v in arrays.items():
            f.create_dataset(k, data=v if v.dtype == np.uint8 else v.astype(np.float32), compression="gzip")
        f.attrs["frame_prob_layout"] = FRAME_PROB_LAYOUT
        f.attrs["pred_layout"] = PRED_LAYOUT


def read_predictions(
    path: str | Path, names: tuple[str, ...] | None = None
) -> tuple[list[str], list[str], dict[str, np.ndarray]]:
    """``(video_ids, filenames, arrays)`` of a predictions file: the datasets ``names`` (all when None;
    a ValueError naming the file when one is missing)."""
    check_regular(path)
    with h5py.File(path, "r") as f:
        stored = [k for k in f if k not in ("video_ids", "filenames")]
        missing = [k for k in (names or ()) if k not in f]
        if missing:
            raise ValueError(f"{path}: a predictions file without {', '.join(missing)}")
        arrays = {k: f[k][:] for k in (names if names is not None else stored)}
        return read_strings(f["video_ids"]), read_strings(f["filenames"]), arrays
