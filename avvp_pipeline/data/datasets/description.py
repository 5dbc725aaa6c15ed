"""What a data set is, whatever its files look like: an ordered class list, the segment length, the splits
with their videos, weak labels (joint, and per modality where the data set has them), dense labels per
modality for the evaluated splits, and each video's length in segments where it is known.

Dense labels are kept as events in one internal convention, whatever the source files use: segments
``[onset, offset)``, half-open like a Python slice (LLP's files already are; LFAV's inclusive offsets are
moved one up). Problems in the files are either refused (:class:`DatasetError`, one line per problem
naming the file and line) or, where a data set's handling says so, handled and recorded as a
:class:`DataWarning` (file, line, what was done), which the caller writes with :func:`write_warnings`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...fileio import write_tsv

SPLITS = ("train", "val", "test")
MODALITIES = ("audio", "visual")

#: Offset conventions of dense files: ``exclusive`` (LLP: the event covers segments onset..offset-1) and
#: ``inclusive`` (LFAV: onset..offset).
EXCLUSIVE = "exclusive"
INCLUSIVE = "inclusive"

WARNINGS_HEADER = ["file", "line", "problem", "action"]


class DatasetError(ValueError):
    """A data set's files cannot be read as its kind says. ``problems`` holds one line per problem, each
    naming the file (and line); the message is the first, with the count of the others."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        more = len(self.problems) - 1
        super().__init__(self.problems[0] + (f" (and {more} more problem{'s' * (more > 1)})" if more else ""))


@dataclass(frozen=True)
class DataWarning:
    """A problem in a file that was handled instead of refused: where, what, and what was done."""

    file: str
    line: int
    problem: str
    action: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.problem}; {self.action}"


class Problems:
    """Collects a reading's refused problems and handled warnings; ``lenient`` decides which a
    :meth:`handle` call makes."""

    def __init__(self, lenient: bool = False):
        self.lenient = lenient
        self.errors: list[str] = []
        self.warnings: list[DataWarning] = []

    def refuse(self, where: str | Path, problem: str) -> None:
        self.errors.append(f"{where}: {problem}")

    def handle(self, file: str | Path, line: int, problem: str, action: str) -> None:
        """A problem a lenient reading handles by ``action`` and a strict one refuses."""
        if self.lenient:
            self.warnings.append(DataWarning(str(file), line, problem, action))
        else:
            self.refuse(f"{file}:{line}", f"{problem} (lenient reading: {action})")

    def check(self) -> None:
        """Raise :class:`DatasetError` when anything was refused."""
        if self.errors:
            raise DatasetError(self.errors)


@dataclass(frozen=True)
class Event:
    """One dense label: class index and segments ``[onset, offset)``; ``file`` and ``line`` say where it
    was read."""

    cls: int
    onset: int
    offset: int
    file: str = ""
    line: int = 0


def to_internal(onset: int, offset: int, convention: str) -> tuple[int, int]:
    """``(onset, offset)`` of a file with the given offset convention as half-open segments."""
    if convention == EXCLUSIVE:
        return onset, offset
    if convention == INCLUSIVE:
        return onset, offset + 1
    raise ValueError(f"offset convention {convention!r}: expected {EXCLUSIVE} or {INCLUSIVE}")


@dataclass
class Split:
    """One split: its videos in file order, their weak labels ``(N, C)`` ``uint8`` (joint, and per modality
    where the data set has them) and, for an evaluated split, dense events per modality and video."""

    name: str
    filenames: list[str]  # as the annotation files spell them
    video_ids: list[str]  # the video each names (LLP: the 11-character YouTube id)
    weak: np.ndarray
    weak_audio: np.ndarray | None = None
    weak_visual: np.ndarray | None = None
    dense: dict[str, list[list[Event]]] | None = None  # modality -> events of each video
    lengths: list[int | None] = field(default_factory=list)  # segments per video, None where unknown

    def __post_init__(self) -> None:
        if not self.lengths:
            self.lengths = [None] * len(self.filenames)

    def __len__(self) -> int:
        return len(self.filenames)

    def truth(self, modality: str, i: int) -> np.ndarray:
        """Dense truth ``uint8 (C, T)`` of video ``i`` (``T``: its length, which must be known)."""
        if self.dense is None:
            raise ValueError(f"split {self.name} has no dense labels")
        length = self.lengths[i]
        if length is None:
            raise ValueError(f"split {self.name}: the length of {self.filenames[i]} is not known")
        out = np.zeros((self.weak.shape[1], length), dtype=np.uint8)
        for ev in self.dense[modality][i]:
            out[ev.cls, ev.onset : ev.offset] = 1
        return out

    def truth_array(self, modality: str) -> np.ndarray:
        """Dense truth ``uint8 (N, C, T)`` of a split whose videos all have one known length ``T``."""
        lengths = set(self.lengths)
        if len(lengths) != 1 or None in lengths:
            raise ValueError(f"split {self.name}: videos of different or unknown lengths have no single array")
        out = np.zeros((len(self), self.weak.shape[1], lengths.pop()), dtype=np.uint8)
        for i in range(len(self)):
            out[i] = self.truth(modality, i)
        return out


@dataclass
class Dataset:
    """A data set: ``kind`` (llp, lfav, custom), its classes in index order, its splits, the offset
    convention its dense files use, and the warnings its reading recorded."""

    kind: str
    classes: tuple[str, ...]
    splits: dict[str, Split]
    dense_offsets: str = EXCLUSIVE
    segment_seconds: float = 1.0
    lenient: bool = False  # how problems found later (events past a video's end) are handled
    warnings: list[DataWarning] = field(default_factory=list)

    @property
    def weak_per_modality(self) -> bool:
        """Whether every split has weak labels per modality (LFAV) besides the joint ones."""
        return all(s.weak_audio is not None and s.weak_visual is not None for s in self.splits.values())

    def with_lengths(self, lengths: Mapping[str, int]) -> Dataset:
        """This data set with the videos' lengths in segments (by video id) recorded and each event past
        its video's end handled: cut at the end (dropped when it starts there or later) with a warning
        when :attr:`lenient`, else a :class:`DatasetError` naming the event's file and line."""
        problems = Problems(self.lenient)
        splits = {name: _fit(split, lengths, self.classes, problems) for name, split in self.splits.items()}
        problems.check()
        return dataclasses.replace(self, splits=splits, warnings=self.warnings + problems.warnings)


def _fit(split: Split, lengths: Mapping[str, int], classes: Sequence[str], problems: Problems) -> Split:
    known = [lengths.get(vid, old) for vid, old in zip(split.video_ids, split.lengths)]
    if split.dense is None:
        return dataclasses.replace(split, lengths=known)
    dense = {
        m: [_cut(evs, n, split.video_ids[i], classes, problems) for i, (evs, n) in enumerate(zip(videos, known))]
        for m, videos in split.dense.items()
    }
    return dataclasses.replace(split, lengths=known, dense=dense)


def _cut(
    events: list[Event], length: int | None, video: str, classes: Sequence[str], problems: Problems
) -> list[Event]:
    if length is None:
        return events
    out = []
    for ev in events:
        if ev.offset <= length:
            out.append(ev)
            continue
        what = f"{classes[ev.cls]} event of {video} (segments {ev.onset} to {ev.offset - 1}) runs past the video's end"
        if ev.onset >= length:
            problems.handle(ev.file, ev.line, f"{what} ({length} segments)", "dropped: it sets nothing")
        else:
            problems.handle(ev.file, ev.line, f"{what} ({length} segments)", f"cut at segment {length - 1}")
            out.append(dataclasses.replace(ev, offset=length))
    return out


def check_disjoint(entries: Iterable[tuple[str, str, str, int]], problems: Problems) -> None:
    """Refuse a video listed twice, in one split or two: ``entries`` are ``(split, video id, file, line)``."""
    first: dict[str, tuple[str, str, int]] = {}
    for split, vid, file, line in entries:
        if vid in first:
            other_split, other_file, other_line = first[vid]
            where = "twice in split " + split if other_split == split else f"in splits {other_split} and {split}"
            problems.refuse(f"{file}:{line}", f"video {vid!r} is {where} (also {other_file}:{other_line})")
        else:
            first[vid] = (split, file, line)


def write_warnings(path: str | Path, warnings: Iterable[DataWarning]) -> None:
    """Write the warnings of a reading as a tab-separated file (``file, line, problem, action``)."""
    write_tsv(path, WARNINGS_HEADER, [(w.file, str(w.line), w.problem, w.action) for w in warnings])
