"""The ``custom`` data set: a person's own labelled videos, in a folder of hand-written tab-separated files
(docs/datasets.md shows a complete example).

* ``train.tsv``, ``val.tsv``, ``test.tsv`` (required): header ``filename<TAB>labels``, then one row per
  video: its name (the video file's name without extension) and its classes, comma-separated (empty: no event);
* ``dense_audio.tsv`` and ``dense_visual.tsv`` (optional, both or neither): header
  ``filename<TAB>onset<TAB>offset<TAB>label``, one event per row for a val or test video, in seconds with an
  EXCLUSIVE offset like LLP's (``3<TAB>5`` covers seconds 3 and 4); a segment counts when the event covers
  any part of it;
* ``classes.txt`` (optional): one class per line, in index order; without it the classes are the labels of
  the three split files, sorted.

Reading is strict: every problem is refused, one line each naming the file and line. ``lenient=True``
takes LFAV's handling instead where it has one (a label with spaces around it read stripped, an unknown or
repeated weak label ignored, an event whose onset is not before its offset dropped, an event past its
video's end cut, a row for a video in no evaluated split ignored), recording each as a warning.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ...fileio import open_regular, write_text
from .description import EXCLUSIVE, MODALITIES, SPLITS, Dataset, Event, Problems, Split, check_disjoint, to_internal
from .rows import Rows, read_rows

SPLIT_FILES = {s: f"{s}.tsv" for s in SPLITS}
DENSE_FILES = {m: f"dense_{m}.tsv" for m in MODALITIES}
CLASSES_FILE = "classes.txt"
WEAK_HEADER = ["filename", "labels"]
DENSE_HEADER = ["filename", "onset", "offset", "label"]
EVALUATED = ("val", "test")
_SECONDS = re.compile(r"[0-9]+(\.[0-9]+)?")


def read_custom(
    folder: str | Path,
    *,
    lenient: bool = False,
    lengths: Mapping[str, int] | None = None,
    segment_seconds: float = 1.0,
) -> Dataset:
    """A custom data set from its folder; ``lengths`` (segments per video, where known) lets events past a
    video's end be found. :class:`DatasetError` lists every problem refused."""
    root = Path(folder)
    problems = Problems(lenient)
    rows = {s: read_rows(root / SPLIT_FILES[s], WEAK_HEADER, problems) for s in SPLITS}
    classes = _classes(root, rows, problems)
    if not classes:
        problems.check()  # every label would be unknown: the class list's problem is the one to report
    entries = [(s, r[1][0], str(root / SPLIT_FILES[s]), r[0]) for s in SPLITS for r in rows[s] or []]
    check_disjoint(entries, problems)
    index = {c: i for i, c in enumerate(classes)}
    splits = {s: _split(s, root / SPLIT_FILES[s], r, index, problems) for s, r in rows.items() if r is not None}
    if len(splits) == len(SPLITS):  # else a split file could not be read: its problem is recorded
        _add_dense(root, splits, index, segment_seconds, problems)
    problems.check()
    dataset = Dataset("custom", classes, splits, EXCLUSIVE, segment_seconds, lenient, problems.warnings)
    return dataset.with_lengths(lengths) if lengths else dataset


def files(folder: str | Path, every: bool = False) -> list[str]:
    """The files of a custom data set in ``folder`` that a reading opens: the split files, and the dense
    files and the class list where they are (``every``: all of them, as :func:`write_custom` writes)."""
    root = Path(folder)
    optional = [n for n in (*DENSE_FILES.values(), CLASSES_FILE) if every or (root / n).exists()]
    return [str(root / name) for name in [*SPLIT_FILES.values(), *optional]]


def write_custom(
    folder: str | Path,
    classes: Sequence[str],
    weak: Mapping[str, Sequence[tuple[str, Sequence[str]]]],
    dense: Mapping[str, Sequence[tuple[str, float, float, str]]],
) -> list[str]:
    """Write a custom data set's files into ``folder``: ``classes.txt``, each split's ``(video, labels)``
    and each modality's ``(video, onset, offset, label)`` events (seconds, exclusive offsets); return
    their paths."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    out = {CLASSES_FILE: "".join(f"{c}\n" for c in classes)}
    for split, rows in weak.items():
        out[SPLIT_FILES[split]] = _lines(WEAK_HEADER, [(name, ",".join(labels)) for name, labels in rows])
    for modality, rows in dense.items():
        out[DENSE_FILES[modality]] = _lines(DENSE_HEADER, [(n, f"{on:g}", f"{off:g}", c) for n, on, off, c in rows])
    for name, text in out.items():
        write_text(root / name, text)
    return [str(root / name) for name in out]


def _lines(header: list[str], rows: list[tuple[str, ...]]) -> str:
    return "".join("\t".join(fields) + "\n" for fields in [header, *rows])


def _classes(root: Path, rows: dict[str, Rows | None], problems: Problems) -> tuple[str, ...]:
    """The class list: ``classes.txt`` when there, else the sorted labels of the split files."""
    path = root / CLASSES_FILE
    if not path.exists():
        labels = {label.strip() for r in rows.values() for _, (_, text) in r or [] for label in text.split(",")}
        classes = tuple(sorted(label for label in labels if label))
        if not classes and all(r is not None for r in rows.values()):
            problems.refuse(root, f"no classes: the split files hold no labels and there is no {CLASSES_FILE}")
        return classes
    try:
        with open_regular(path, "r", encoding="utf-8-sig") as fh:
            lines = fh.read().splitlines()
    except (OSError, ValueError) as exc:
        problems.refuse(path, f"cannot read it ({exc})")
        return ()
    seen: dict[str, int] = {}
    errors = len(problems.errors)
    for number, text in enumerate(lines, start=1):
        name = text.strip()
        if not name:
            continue
        if name != text or "," in name or "\t" in name:
            problems.refuse(f"{path}:{number}", f"class {text!r}: a class name has no comma, tab or spaces around it")
        elif name in seen:
            problems.refuse(f"{path}:{number}", f"duplicate class {name!r} (first on line {seen[name]})")
        else:
            seen[name] = number
    if not lines or not any(t.strip() for t in lines):
        problems.refuse(path, "empty class list")
    return () if len(problems.errors) > errors else tuple(seen)


def _split(name: str, path: Path, rows: Rows, index: dict[str, int], problems: Problems) -> Split:
    """A split's videos and weak labels."""
    if not rows:
        problems.refuse(path, "no videos")
    out = np.zeros((len(rows), len(index)), dtype=np.uint8)
    for i, (line, (video, text)) in enumerate(rows):
        if not video:
            problems.refuse(f"{path}:{line}", "empty filename")
        for label in text.split(",") if text else []:
            cls = index.get(label.strip())
            if cls is None:
                problems.handle(path, line, f"label {label!r} of {video} is not a class", "ignored")
                continue
            if label != label.strip():
                problems.handle(path, line, f"label {label!r} has spaces around it", f"read as {label.strip()!r}")
            if out[i, cls]:
                problems.handle(path, line, f"label {label.strip()!r} repeated for {video}", "counted once")
            out[i, cls] = 1
    videos = [video for _, (video, _) in rows]
    return Split(name, videos, list(videos), out)


def _add_dense(root: Path, splits: dict[str, Split], index: dict[str, int], seconds: float, problems: Problems) -> None:
    """The dense files' events added to the evaluated splits, when there are dense files."""
    dense = [m for m in MODALITIES if (root / DENSE_FILES[m]).exists()]
    if len(dense) == 1:
        other = DENSE_FILES[next(m for m in MODALITIES if m not in dense)]
        problems.refuse(root / DENSE_FILES[dense[0]], f"found without {other}: dense labels need both modalities")
    elif dense:
        for s in EVALUATED:
            splits[s].dense = {m: [[] for _ in splits[s].filenames] for m in MODALITIES}
        for m in MODALITIES:
            _dense(root / DENSE_FILES[m], m, splits, index, seconds, problems)


def _dense(
    path: Path, modality: str, splits: dict[str, Split], index: dict[str, int], seconds: float, problems: Problems
) -> None:
    """Add the events of one dense file to the evaluated splits' videos."""
    where_is = {v: (s, i) for s in EVALUATED for i, v in enumerate(splits[s].filenames)}
    train = set(splits["train"].filenames)
    for line, (video, on_s, off_s, label) in read_rows(path, DENSE_HEADER, problems) or []:
        onset, offset = _seconds(on_s), _seconds(off_s)
        if onset is None or offset is None:
            problems.refuse(f"{path}:{line}", f"onset and offset must be seconds (0 or more), got {on_s!r}, {off_s!r}")
            continue
        if label not in index:
            problems.refuse(f"{path}:{line}", f"label {label!r} is not a class")
            continue
        if video not in where_is:
            problem = (
                f"video {video!r} is in train, not in val or test" if video in train else f"unknown video {video!r}"
            )
            problems.handle(path, line, problem, "ignored")
            continue
        if onset >= offset:
            problems.handle(path, line, f"onset {on_s} is not before offset {off_s}", "dropped: it sets nothing")
            continue
        first, end = to_internal(math.floor(onset / seconds), math.ceil(offset / seconds), EXCLUSIVE)
        s, i = where_is[video]
        splits[s].dense[modality][i].append(Event(index[label], first, end, str(path), line))


def _seconds(text: str) -> float | None:
    """A time in seconds (``12`` or ``12.5``), or None when ``text`` is not one."""
    return float(text) if _SECONDS.fullmatch(text) else None
