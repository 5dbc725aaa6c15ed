"""The dataset index: splits, weak labels and dense truth in one HDF5 file (``dataset/index.h5``).

Built from an annotations folder in the official LLP layout (``AVVP_train.csv``,
``AVVP_val_pd.csv``, ``AVVP_test_pd.csv``, ``AVVP_eval_audio.csv``, ``AVVP_eval_visual.csv``).
Per split ``S``: ``S/filenames``, ``S/video_ids`` (first 11 characters), ``S/labels`` (N, 25)
and, for val and test, ``S/gt_audio`` / ``S/gt_visual`` (N, 25, 10). A YouTube id may appear in
one split only, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ..fileio import atomic_output, check_regular, read_strings, write_strings
from . import llp

SPLITS = ("train", "val", "test")


@dataclass
class Split:
    """One split of the index: filenames, ids, weak labels and (val/test) dense truth."""

    name: str
    filenames: list[str]
    video_ids: list[str]
    labels: np.ndarray
    gt_audio: np.ndarray | None = None
    gt_visual: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.filenames)


def read_split(annotations_dir: str | Path, split: str, *, legacy_eval_audio: bool = False) -> Split:
    """Read one split straight from the annotation CSVs (val/test dense truth only where both eval files
    exist; :func:`build_index` requires them)."""
    d = Path(annotations_dir)
    filenames, labels = llp.read_weak_labels(d / llp.SPLIT_FILES[split])
    out = Split(split, filenames, [llp.video_id(f) for f in filenames], labels)
    if split != "train" and (d / llp.EVAL_AUDIO).is_file() and (d / llp.EVAL_VISUAL).is_file():
        out.gt_audio, out.gt_visual = llp.dense_labels(
            d / llp.EVAL_AUDIO, d / llp.EVAL_VISUAL, filenames, legacy_eval_audio=legacy_eval_audio
        )
    return out


def check_annotations(annotations_dir: str | Path) -> None:
    """Raise ``ValueError`` when a split or dense evaluation file is missing or a video is in two splits."""
    d = Path(annotations_dir)
    if not d.is_dir():
        raise ValueError(f"{d}: annotations folder not found")
    splits = [llp.SPLIT_FILES[split] for split in SPLITS]
    missing = [name for name in splits if not (d / name).is_file()]
    if missing:
        raise ValueError(
            f"{d}: missing {' and '.join(missing)}: the index needs the three split files ({', '.join(splits)})"
        )
    missing = [name for name in (llp.EVAL_AUDIO, llp.EVAL_VISUAL) if not (d / name).is_file()]
    if missing:
        raise ValueError(
            f"{d}: missing {' and '.join(missing)}: the index needs the dense evaluation "
            "files for the val/test ground truth"
        )
    llp.check_splits_disjoint(d / llp.SPLIT_FILES[split] for split in SPLITS)


def build_index(annotations_dir: str | Path, out_path: str | Path, *, legacy_eval_audio: bool = False) -> dict:
    """Check the annotations (:func:`check_annotations`), write the index file atomically; return counts
    per split."""
    check_annotations(annotations_dir)
    counts = {}
    with atomic_output(out_path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["classes"] = ",".join(llp.CLASSES)
            f.attrs["annotations_dir"] = str(annotations_dir)
            f.attrs["legacy_eval_audio"] = int(legacy_eval_audio)
            for split in SPLITS:
                s = read_split(annotations_dir, split, legacy_eval_audio=legacy_eval_audio)
                g = f.create_group(split)
                write_strings(g, "filenames", s.filenames)
                write_strings(g, "video_ids", s.video_ids)
                g.create_dataset("labels", data=s.labels)
                if s.gt_audio is not None:
                    g.create_dataset("gt_audio", data=s.gt_audio)
                    g.create_dataset("gt_visual", data=s.gt_visual)
                counts[split] = len(s)
    return counts


def load_split(index_path: str | Path, split: str) -> Split:
    """Load one split from an index file."""
    check_regular(index_path)
    with h5py.File(index_path, "r") as f:
        if split not in f:
            raise ValueError(f"{index_path}: no split {split!r}")
        g = f[split]
        return Split(
            split,
            read_strings(g["filenames"]),
            read_strings(g["video_ids"]),
            g["labels"][:],
            g["gt_audio"][:] if "gt_audio" in g else None,
            g["gt_visual"][:] if "gt_visual" in g else None,
        )
