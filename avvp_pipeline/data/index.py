"""The dataset index: splits, weak labels and dense truth in one HDF5 file (``dataset/index.h5``).

Built from an annotations folder in the official LLP layout (``AVVP_train.csv``,
``AVVP_val_pd.csv``, ``AVVP_test_pd.csv``, ``AVVP_eval_audio.csv``, ``AVVP_eval_visual.csv``).
Per split ``S``: ``S/filenames``, ``S/video_ids`` (first 11 characters), ``S/labels`` (N, C),
``S/lengths`` (N,) each video's duration in segments (10 for LLP; an index written before it was
recorded reads as every video lasting the dense truth's length, or 10) and, for val and test,
``S/gt_audio`` / ``S/gt_visual`` (N, C, T), padded with zeros past a shorter video's length to the
longest. The attributes ``classes`` (the C classes, LLP's 25) and ``segment_seconds`` (1 for LLP) describe
the data set. A YouTube id may appear in one split
only, once. :func:`write_index` writes splits of any data set; :func:`build_index` LLP's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from ..fileio import atomic_output, open_hdf5, read_strings, write_strings
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
    lengths: np.ndarray | None = None  # (N,) segments per video; None: all as long as the dense truth, or 10

    def __post_init__(self) -> None:
        if self.lengths is None:
            full = llp.NUM_SEGMENTS if self.gt_audio is None else self.gt_audio.shape[-1]
            self.lengths = np.full(len(self.filenames), full, dtype=np.int64)
        self.lengths = np.asarray(self.lengths, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.filenames)

    def check(self) -> None:
        """ValueError unless the lengths are one whole number >= 1 per video, within the dense truth."""
        n = len(self)
        if self.lengths.shape != (n,) or (n and self.lengths.min() < 1):
            raise ValueError(f"split {self.name}: lengths must be {n} numbers of segments >= 1")
        if self.gt_audio is not None and n and self.lengths.max() > self.gt_audio.shape[-1]:
            raise ValueError(
                f"split {self.name}: a video of {self.lengths.max()} segments, but the dense truth covers "
                f"{self.gt_audio.shape[-1]}"
            )


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
    splits = [read_split(annotations_dir, split, legacy_eval_audio=legacy_eval_audio) for split in SPLITS]
    attrs = {"annotations_dir": str(annotations_dir), "legacy_eval_audio": int(legacy_eval_audio)}
    return write_index(out_path, splits, llp.CLASSES, attrs)


def write_index(
    out_path: str | Path,
    splits: list[Split],
    classes: Sequence[str],
    attrs: dict | None = None,
    segment_seconds: float = 1.0,
) -> dict:
    """Write ``splits`` (each with its videos' lengths) of a data set of ``classes`` and segments of
    ``segment_seconds`` as an index file, atomically; return the counts per split."""
    for s in splits:
        s.check()
        if s.labels.shape[1:] != (len(classes),):
            raise ValueError(f"split {s.name}: labels of shape {s.labels.shape} for {len(classes)} classes")
    with atomic_output(out_path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["classes"] = ",".join(classes)
            f.attrs["segment_seconds"] = float(segment_seconds)
            for key, value in (attrs or {}).items():
                f.attrs[key] = value
            for s in splits:
                g = f.create_group(s.name)
                write_strings(g, "filenames", s.filenames)
                write_strings(g, "video_ids", s.video_ids)
                g.create_dataset("labels", data=s.labels)
                g.create_dataset("lengths", data=s.lengths.astype(np.int32))
                if s.gt_audio is not None:
                    g.create_dataset("gt_audio", data=s.gt_audio)
                    g.create_dataset("gt_visual", data=s.gt_visual)
    return {s.name: len(s) for s in splits}


def index_classes(index_path: str | Path) -> tuple[tuple[str, ...], float]:
    """The classes of an index file, in label order, and its segment length in seconds (1 in an index
    written before it was recorded)."""
    with open_hdf5(index_path, "an index file (avvp index)") as f:
        classes = tuple(str(f.attrs["classes"]).split(",")) if "classes" in f.attrs else llp.CLASSES
        return classes, float(f.attrs.get("segment_seconds", 1.0))


def load_split(index_path: str | Path, split: str) -> Split:
    """Load one split from an index file."""
    with open_hdf5(index_path, "an index file (avvp index)") as f:
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
            g["lengths"][:] if "lengths" in g else None,
        )
