"""LLP (Look, Listen and Parse) annotation files -> label arrays.

The files are tab-separated with one header row:

* weak (video-level) files ``AVVP_{train,val_pd,test_pd}.csv`` and ``AVVP_dataset_full.csv``:
  ``filename<TAB>event_labels`` with comma-separated class names;
* dense (per-second) evaluation files ``AVVP_eval_{audio,visual}.csv``:
  ``filename<TAB>onset<TAB>offset<TAB>event_labels`` with one class per row.

Dense truth follows the official LLP evaluation exactly: rows are
joined to videos by exact filename string, unmatched rows are ignored, and each row sets
``G[class, onset:offset] = 1`` with Python slice semantics.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from ..fileio import open_regular, write_text

__all__ = [
    "CLASSES",
    "CLASS_INDEX",
    "NUM_CLASSES",
    "NUM_SEGMENTS",
    "SPLIT_FILES",
    "FULL_FILE",
    "EVAL_AUDIO",
    "EVAL_VISUAL",
    "LEGACY_EVAL_AUDIO_DROPPED",
    "YOUTUBE_ID",
    "video_id",
    "read_weak_labels",
    "write_weak_labels",
    "check_splits_disjoint",
    "read_dense_rows",
    "write_dense_rows",
    "dense_labels",
]

#: The 25 LLP classes in index order (HAN's ``dataloader.py``).
CLASSES: tuple[str, ...] = (
    "Speech",
    "Car",
    "Cheering",
    "Dog",
    "Cat",
    "Frying_(food)",
    "Basketball_bounce",
    "Fire_alarm",
    "Chainsaw",
    "Cello",
    "Banjo",
    "Singing",
    "Chicken_rooster",
    "Violin_fiddle",
    "Vacuum_cleaner",
    "Baby_laughter",
    "Accordion",
    "Lawn_mower",
    "Motorcycle",
    "Helicopter",
    "Acoustic_guitar",
    "Telephone_bell_ringing",
    "Baby_cry_infant_cry",
    "Blender",
    "Clapping",
)
CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(CLASSES)}
NUM_CLASSES = 25
NUM_SEGMENTS = 10

SPLIT_FILES: dict[str, str] = {
    "train": "AVVP_train.csv",
    "val": "AVVP_val_pd.csv",
    "test": "AVVP_test_pd.csv",
}
FULL_FILE = "AVVP_dataset_full.csv"
EVAL_AUDIO = "AVVP_eval_audio.csv"
EVAL_VISUAL = "AVVP_eval_visual.csv"

#: Audio rows ``(filename, onset, offset, class)`` that were corrupted in the 2021 copy of
#: ``AVVP_eval_audio.csv`` (used by CM-Co and MA) and therefore never reached the ground truth:
#: the two ``JfZEqeLZqWk_30_40`` Speech rows had their filename replaced by
#: ``Baby_cry_infant_cry``; the ``KvIjsmANkxI_10_20`` Cat [0, 1) row carried a stray back-tick
#: (its other two Cat rows, [3, 7) and [8, 10), were intact). HAN fixed the file on 2024-04-16.
LEGACY_EVAL_AUDIO_DROPPED: frozenset[tuple[str, int, int, str]] = frozenset(
    {
        ("JfZEqeLZqWk_30_40", 0, 4, "Speech"),
        ("JfZEqeLZqWk_30_40", 7, 10, "Speech"),
        ("KvIjsmANkxI_10_20", 0, 1, "Cat"),
    }
)

_WEAK_HEADER = ["filename", "event_labels"]
_DENSE_HEADER = ["filename", "onset", "offset", "event_labels"]


#: A YouTube video id: 11 characters of letters, digits, ``-`` and ``_``.
YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")


def video_id(filename: str) -> str:
    """Return the 11-character YouTube ID of an LLP filename (``<ID>_<start>_<end>``).

    IDs may themselves contain ``_`` and ``-``, so the name is never split on ``_``.
    """
    if len(filename) < 11:
        raise ValueError(f"LLP filename {filename!r} is shorter than an 11-character YouTube ID")
    return filename[:11]


def _rows(csv_path: str | os.PathLike[str], header: list[str]) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, fields)`` of a tab-separated LLP file after checking its header.

    Line numbers are 1-based physical lines (the header is line 1). Blank lines are skipped.
    """
    path = Path(csv_path)
    try:
        fh = open_regular(path, "r", newline="", encoding="utf-8")
    except OSError as exc:
        raise ValueError(f"{path}: cannot open LLP annotation file: {exc}") from exc
    with fh:
        # QUOTE_NONE: LLP files never quote; a stray quote char must stay part of the field
        # (as pandas would keep it in the official code) instead of swallowing lines.
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        try:
            first = next(reader, None)
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}:1: not UTF-8 text: {exc}") from exc
        if first is None:
            raise ValueError(f"{path}:1: empty file, expected header {' '.join(header)!r}")
        if [f.strip().lstrip("\ufeff") for f in first] != header:
            raise ValueError(f"{path}:1: unexpected header {first!r}, expected tab-separated {header!r}")
        try:
            for fields in reader:
                if not fields or all(not f.strip() for f in fields):
                    continue
                yield reader.line_num, fields
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}:{reader.line_num + 1}: not UTF-8 text: {exc}") from exc


def read_weak_labels(csv_path: str | os.PathLike[str]) -> tuple[list[str], np.ndarray]:
    """Read a weak (video-level) LLP file.

    Returns ``(filenames, labels)``: filenames in file order and a ``uint8`` multi-hot array
    ``(N, 25)`` in :data:`CLASSES` order. Raises ``ValueError`` naming the file and line for a
    bad header, a wrong column count, an empty filename or label list, an unknown class, a
    duplicated filename or a YouTube id that two filenames share.
    """
    filenames, labels, _lines = _read_weak(csv_path)
    return filenames, labels


def check_splits_disjoint(csv_paths: Iterable[str | os.PathLike[str]]) -> None:
    """Raise ``ValueError`` naming both files and lines when one YouTube id is in two weak files
    (a video in two splits leaks between them)."""
    first: dict[str, tuple[Path, int, str]] = {}
    for csv_path in csv_paths:
        path = Path(csv_path)
        filenames, _labels, lines = _read_weak(path)
        for name, line in zip(filenames, lines):
            vid = name[:11]
            if vid in first:
                other, other_line, other_name = first[vid]
                raise ValueError(
                    f"{path}:{line}: video {vid!r} ({name!r}) is also in {other}:{other_line} "
                    f"({other_name!r}); a video in two splits leaks between them"
                )
            first[vid] = (path, line, name)  # ids within one file are unique (_read_weak)


def _read_weak(csv_path: str | os.PathLike[str]) -> tuple[list[str], np.ndarray, list[int]]:
    """:func:`read_weak_labels` plus the line number of each filename."""
    path = Path(csv_path)
    filenames: list[str] = []
    lines: list[int] = []
    seen: dict[str, tuple[int, str]] = {}  # by video id: (line, filename)
    rows: list[list[int]] = []
    for line, fields in _rows(path, _WEAK_HEADER):
        if len(fields) != 2:
            raise ValueError(
                f"{path}:{line}: expected 2 tab-separated fields (filename, event_labels), "
                f"got {len(fields)}: {fields!r}"
            )
        name, labels = fields  # no stripping: filenames are joined by exact string match
        if not name:
            raise ValueError(f"{path}:{line}: empty filename")
        vid = name[:11]  # video_id(); a shorter name is left to the callers that need an id
        if vid in seen:
            first_line, first_name = seen[vid]
            if name == first_name:
                raise ValueError(f"{path}:{line}: duplicate filename {name!r} (first on line {first_line})")
            raise ValueError(
                f"{path}:{line}: video {vid!r} twice in this file: {name!r} here and "
                f"{first_name!r} on line {first_line}"
            )
        if not labels:
            raise ValueError(f"{path}:{line}: empty event_labels for {name!r}")
        idx = []
        for cls in labels.split(","):
            if cls not in CLASS_INDEX:
                raise ValueError(f"{path}:{line}: unknown class {cls!r} for {name!r}")
            idx.append(CLASS_INDEX[cls])
        seen[vid] = (line, name)
        filenames.append(name)
        lines.append(line)
        rows.append(idx)
    out = np.zeros((len(filenames), NUM_CLASSES), dtype=np.uint8)
    for i, idx in enumerate(rows):
        out[i, idx] = 1
    return filenames, out, lines


def _write_rows(csv_path: str | os.PathLike[str], header: list[str], rows: Iterable[Sequence[object]]) -> None:
    """Write ``rows`` as an LLP file (header, one tab-separated line each), atomically."""
    path = Path(csv_path)
    lines = ["\t".join(header)]
    for fields in rows:
        cells = [str(f) for f in fields]
        for cell in cells:
            if not cell or any(c in cell for c in "\t\r\n"):
                raise ValueError(f"{path}: cannot write LLP field {cell!r} (empty or holds a tab or line break)")
        lines.append("\t".join(cells))
    write_text(path, "".join(line + "\n" for line in lines))


def write_weak_labels(csv_path: str | os.PathLike[str], rows: Iterable[tuple[str, Sequence[str]]]) -> None:
    """Write a weak LLP file from ``(filename, class names)`` pairs, the format
    :func:`read_weak_labels` reads. Raises ``ValueError`` naming the file for an unknown class."""
    path = Path(csv_path)
    out = []
    for name, labels in rows:
        for cls in labels:
            if cls not in CLASS_INDEX:
                raise ValueError(f"{path}: unknown class {cls!r} for {name!r}")
        out.append((name, ",".join(labels)))
    _write_rows(path, _WEAK_HEADER, out)


def write_dense_rows(csv_path: str | os.PathLike[str], rows: Iterable[tuple[str, int, int, str]]) -> None:
    """Write a dense LLP file from ``(filename, onset, offset, class_name)`` rows, the format
    :func:`read_dense_rows` reads. Raises ``ValueError`` naming the file for an unknown class
    or an onset/offset outside 0..10."""
    path = Path(csv_path)
    out = []
    for name, onset, offset, cls in rows:
        if cls not in CLASS_INDEX:
            raise ValueError(f"{path}: unknown class {cls!r} for {name!r}")
        if not (0 <= onset <= NUM_SEGMENTS and 0 <= offset <= NUM_SEGMENTS):
            raise ValueError(f"{path}: onset/offset must lie in 0..{NUM_SEGMENTS}, got {onset}, {offset} for {name!r}")
        out.append((name, int(onset), int(offset), cls))
    _write_rows(path, _DENSE_HEADER, out)


def read_dense_rows(csv_path: str | os.PathLike[str]) -> list[tuple[int, str, int, int, str]]:
    """Parse a dense LLP file into ``(line, filename, onset, offset, class_name)`` tuples.

    No filtering is done (rows with ``onset >= offset`` are kept). Raises ``ValueError`` naming
    the file and line for a bad header, a wrong column count, a non-integer or out-of-range
    (outside 0..10) onset/offset, or an unknown class.
    """
    path = Path(csv_path)
    out: list[tuple[int, str, int, int, str]] = []
    for line, fields in _rows(path, _DENSE_HEADER):
        if len(fields) != 4:
            raise ValueError(
                f"{path}:{line}: expected 4 tab-separated fields (filename, onset, offset, "
                f"event_labels), got {len(fields)}: {fields!r}"
            )
        name, on_s, off_s, cls = fields  # no stripping: exact string semantics
        if not name:
            raise ValueError(f"{path}:{line}: empty filename")
        try:
            onset, offset = int(on_s), int(off_s)
        except ValueError:
            raise ValueError(f"{path}:{line}: onset/offset must be integer seconds, got {on_s!r}, {off_s!r}") from None
        if not (0 <= onset <= NUM_SEGMENTS and 0 <= offset <= NUM_SEGMENTS):
            raise ValueError(f"{path}:{line}: onset/offset must lie in 0..{NUM_SEGMENTS}, got {onset}, {offset}")
        if cls not in CLASS_INDEX:
            raise ValueError(f"{path}:{line}: unknown class {cls!r} for {name!r}")
        out.append((line, name, onset, offset, cls))
    return out


def _fill(
    csv_path: str | os.PathLike[str],
    index: dict[str, list[int]],
    n: int,
    drop: frozenset[tuple[str, int, int, str]] = frozenset(),
) -> np.ndarray:
    gt = np.zeros((n, NUM_CLASSES, NUM_SEGMENTS), dtype=np.uint8)
    for _line, name, onset, offset, cls in read_dense_rows(csv_path):
        rows = index.get(name)
        if rows is None:  # exact string join; unmatched rows are silently ignored (official)
            continue
        if drop and (name, onset, offset, cls) in drop:
            continue
        # Python slice semantics: onset >= offset sets nothing; overlapping rows merge.
        gt[rows, CLASS_INDEX[cls], onset:offset] = 1
    return gt


def dense_labels(
    audio_csv: str | os.PathLike[str],
    visual_csv: str | os.PathLike[str],
    filenames: Sequence[str] | Iterable[str],
    *,
    legacy_eval_audio: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Dense ground truth ``(gt_audio, gt_visual)``, each ``uint8 (N, 25, 10)``, for ``filenames``.

    Exactly the official protocol: every dense row whose filename equals a video's filename
    (exact string match; other rows are ignored) sets ``G[class, onset:offset] = 1``, so rows with
    ``onset >= offset`` set nothing, overlapping/touching rows merge, and classes outside the
    video's weak label still count. ``legacy_eval_audio=True`` drops the three audio rows that the
    2021 copy of the audio file lost (:data:`LEGACY_EVAL_AUDIO_DROPPED`).
    """
    names = list(filenames)
    index: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise ValueError(f"filenames must be strings, got {type(name).__name__} at position {i}")
        index.setdefault(name, []).append(i)  # a repeated filename gets the same truth
    drop = LEGACY_EVAL_AUDIO_DROPPED if legacy_eval_audio else frozenset()
    gt_audio = _fill(audio_csv, index, len(names), drop)
    gt_visual = _fill(visual_csv, index, len(names))
    return gt_audio, gt_visual
