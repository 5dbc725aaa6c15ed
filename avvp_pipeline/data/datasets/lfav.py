"""The ``lfav`` data set: the LFAV release's annotation folder (``LFAV_dataset/`` of GeWu-Lab/LFAV), read the
way the official code reads it so that published numbers stay reproducible.

Layout (tab-separated, one header row): ``train/train_weakly.csv``, ``train/train_audio_weakly.csv`` and
``train/train_visual_weakly.csv`` (``filename<TAB>event_labels``, comma-separated); for ``val`` and ``test``
``S/S_weak_av.csv``, ``S/S_audio_weakly.csv``, ``S/S_visual_weakly.csv`` and the dense files
``S/S_audio.csv``, ``S/S_visual.csv`` (``filename<TAB>onset<TAB>offset<TAB>event_labels``, integer seconds,
INCLUSIVE offsets: the truth sets segments ``onset..offset``).

The official loader (``ids_to_multinomial``) strips each weak label, ignores ``silent`` and any label that is
not a class, and a repeated label counts once; its evaluation sets ``GT[class, onset:offset + 1]``, so a row
whose onset is after its offset sets nothing and one past the video's end is cut there; dense rows of other
videos are never read. Each of these is handled the same way here and recorded as a warning. What the
official code cannot run with (a dense label that is not a class, a malformed row, weak files that do not
list the same videos in the same order, which its loader pairs by row) is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .description import INCLUSIVE, MODALITIES, SPLITS, Dataset, Event, Problems, Split, check_disjoint, to_internal
from .rows import read_rows

#: The 35 LFAV classes in index order (the official ``utils/constant.py``).
CLASSES: tuple[str, ...] = (
    "accordion",
    "alarm",
    "banjo",
    "bicycle",
    "car",
    "car_alarm",
    "cat",
    "cello",
    "chainsaw",
    "cheering",
    "chicken_rooster",
    "clapping",
    "cry",
    "dance",
    "dog",
    "drum",
    "fixed-wing_aircraft",
    "frisbee",
    "guitar",
    "helicopter",
    "horse",
    "laughter",
    "piano",
    "playing_basketball",
    "playing_badminton",
    "playing_baseball",
    "playing_ping-pong",
    "playing_tennis",
    "playing_soccer",
    "playing_volleyball",
    "rodents",
    "shofar",
    "singing",
    "speech",
    "violin",
)
CLASS_INDEX = {name: i for i, name in enumerate(CLASSES)}

#: Per split: the joint, audio and visual weak files (relative to the LFAV folder).
WEAK_FILES: dict[str, tuple[str, str, str]] = {
    "train": ("train/train_weakly.csv", "train/train_audio_weakly.csv", "train/train_visual_weakly.csv"),
    "val": ("val/val_weak_av.csv", "val/val_audio_weakly.csv", "val/val_visual_weakly.csv"),
    "test": ("test/test_weak_av.csv", "test/test_audio_weakly.csv", "test/test_visual_weakly.csv"),
}
#: Per evaluated split and modality: the dense file.
DENSE_FILES: dict[str, dict[str, str]] = {s: {m: f"{s}/{s}_{m}.csv" for m in MODALITIES} for s in ("val", "test")}
SILENT = "silent"
WEAK_HEADER = ["filename", "event_labels"]
DENSE_HEADER = ["filename", "onset", "offset", "event_labels"]
_AS_OFFICIAL = "as the official code does"
_WHOLE = re.compile(r"[0-9]+")


def files(folder: str | Path) -> list[str]:
    """The files of the LFAV folder a reading opens."""
    names = [n for s in WEAK_FILES for n in WEAK_FILES[s]] + [n for d in DENSE_FILES.values() for n in d.values()]
    return [str(Path(folder) / name) for name in names]


def read_lfav(folder: str | Path, lengths: Mapping[str, int] | None = None) -> Dataset:
    """LFAV from its folder; with ``lengths`` (segments per video id, e.g. from the features) events past
    a video's end are cut there, each with a warning. :class:`DatasetError` lists what was refused."""
    root = Path(folder)
    problems = Problems(lenient=True)
    splits: dict[str, Split] = {}
    entries = []
    for s in SPLITS:
        weak = [_weak_file(root / name, problems) for name in WEAK_FILES[s]]
        if any(w is None for w in weak) or not _aligned(weak, [root / n for n in WEAK_FILES[s]], problems):
            continue
        (names, joint, lines), (_, audio, _), (_, visual, _) = weak
        entries += [(s, name[:11], str(root / WEAK_FILES[s][0]), line) for name, line in zip(names, lines)]
        splits[s] = Split(s, names, [name[:11] for name in names], joint, audio, visual)
        if s in DENSE_FILES:
            splits[s].dense = {m: _dense(root / DENSE_FILES[s][m], names, problems) for m in MODALITIES}
    check_disjoint(entries, problems)
    problems.check()
    dataset = Dataset("lfav", CLASSES, splits, dense_offsets=INCLUSIVE, lenient=True, warnings=problems.warnings)
    return dataset.with_lengths(lengths) if lengths else dataset


def _weak_file(path: Path, problems: Problems) -> tuple[list[str], np.ndarray, list[int]] | None:
    """Filenames, multi-hot labels and line numbers of a weak file, labels read as the official loader does."""
    rows = read_rows(path, WEAK_HEADER, problems)
    if rows is None:
        return None
    names, lines = [], []
    out = np.zeros((len(rows), len(CLASSES)), dtype=np.uint8)
    for i, (line, (name, labels)) in enumerate(rows):
        names.append(name)
        lines.append(line)
        if not name or not labels:
            problems.refuse(f"{path}:{line}", "empty filename or event_labels")
            continue
        for label in labels.split(","):
            cls = CLASS_INDEX.get(label.strip())
            if cls is None:
                problem = "the 'silent' token" if label == SILENT else f"label {label!r} is not an LFAV class"
                problems.handle(path, line, f"{problem} for {name}", f"ignored, {_AS_OFFICIAL}")
                continue
            if label != label.strip():
                problems.handle(path, line, f"label {label!r} has spaces around it", f"read as {label.strip()!r}")
            if out[i, cls]:
                problems.handle(path, line, f"label {label.strip()!r} repeated for {name}", "counted once")
            out[i, cls] = 1
    return names, out, lines


def _aligned(weak: list, paths: list[Path], problems: Problems) -> bool:
    """Whether the joint, audio and visual weak files list the same videos in the same order (the official
    loader pairs them by row); refused otherwise, at the first row that differs."""
    names, _, lines = weak[0]
    ok = True
    for path, (other, _, other_lines) in zip(paths[1:], weak[1:]):
        if other == names:
            continue
        ok = False
        i = next((i for i, (a, b) in enumerate(zip(names, other)) if a != b), min(len(names), len(other)))
        if i < min(len(names), len(other)):
            problems.refuse(
                f"{path}:{other_lines[i]}",
                f"video {other[i]!r} where {paths[0]}:{lines[i]} has {names[i]!r}: the weak files of a split "
                "must list the same videos in the same order (the official loader pairs them by row)",
            )
        else:
            problems.refuse(path, f"{len(other)} videos, {paths[0]} has {len(names)}: they must list the same videos")
    return ok


def _dense(path: Path, names: list[str], problems: Problems) -> list[list[Event]]:
    """Each video's events from a dense file (inclusive offsets), handled as the official evaluation does."""
    row_of = {name: i for i, name in enumerate(names)}
    out: list[list[Event]] = [[] for _ in names]
    for line, (name, on_s, off_s, label) in read_rows(path, DENSE_HEADER, problems) or []:
        where = f"{path}:{line}"
        if not (_WHOLE.fullmatch(on_s) and _WHOLE.fullmatch(off_s)):
            problems.refuse(where, f"onset and offset must be whole seconds (0 or more), got {on_s!r}, {off_s!r}")
            continue
        if label not in CLASS_INDEX:
            problems.refuse(where, f"label {label!r} is not an LFAV class (the official evaluation stops on it)")
            continue
        if name not in row_of:
            problems.handle(
                path, line, f"video {name!r} is not in this split", "ignored: the official code never reads it"
            )
            continue
        onset, offset = int(on_s), int(off_s)
        if onset > offset:
            problems.handle(
                path, line, f"onset {onset} after offset {offset}", f"dropped: it sets nothing, {_AS_OFFICIAL}"
            )
            continue
        onset, offset = to_internal(onset, offset, INCLUSIVE)
        out[row_of[name]].append(Event(CLASS_INDEX[label], onset, offset, str(path), line))
    return out
