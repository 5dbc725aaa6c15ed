"""The ``llp`` data set: LLP's annotation folder read through :mod:`avvp_pipeline.data.llp`, giving exactly
the arrays the index has always held (25 classes, 10 one-second segments per clip, joint weak labels,
exclusive offsets, rows with ``onset >= offset`` setting nothing)."""

from __future__ import annotations

from pathlib import Path

from .. import llp
from .description import EXCLUSIVE, SPLITS, Dataset, DatasetError, Event, Split


def read_llp(annotations_dir: str | Path, *, legacy_eval_audio: bool = False) -> Dataset:
    """LLP from its folder (``AVVP_train.csv``, ``AVVP_val_pd.csv``, ``AVVP_test_pd.csv`` and, for the
    val/test truth, ``AVVP_eval_audio.csv`` and ``AVVP_eval_visual.csv``); :class:`DatasetError` naming
    the file (and line) for a missing file or a problem :mod:`..llp` refuses."""
    d = Path(annotations_dir)
    needed = [llp.SPLIT_FILES[s] for s in SPLITS] + [llp.EVAL_AUDIO, llp.EVAL_VISUAL]
    missing = [f"{d / name}: file not found" for name in needed if not (d / name).is_file()]
    if missing:
        raise DatasetError(missing)
    try:
        llp.check_splits_disjoint(d / llp.SPLIT_FILES[s] for s in SPLITS)
        splits = {s: _split(d, s) for s in SPLITS}
        events = {m: _events(d / name, legacy_eval_audio and m == "audio") for m, name in _DENSE.items()}
    except ValueError as exc:
        raise DatasetError([str(exc)]) from None
    for s in ("val", "test"):
        split = splits[s]
        split.dense = {m: [events[m].get(name, []) for name in split.filenames] for m in _DENSE}
    return Dataset("llp", llp.CLASSES, splits, dense_offsets=EXCLUSIVE)


_DENSE = {"audio": llp.EVAL_AUDIO, "visual": llp.EVAL_VISUAL}


def _split(d: Path, split: str) -> Split:
    filenames, labels = llp.read_weak_labels(d / llp.SPLIT_FILES[split])
    ids = [llp.video_id(f) for f in filenames]
    return Split(split, filenames, ids, labels, lengths=[llp.NUM_SEGMENTS] * len(filenames))


def _events(path: Path, legacy: bool) -> dict[str, list[Event]]:
    """Each filename's events; rows that set nothing (``onset >= offset``) and, with ``legacy``, the rows
    the 2021 audio file lost are left out, as the official truth construction does."""
    out: dict[str, list[Event]] = {}
    for line, name, onset, offset, cls in llp.read_dense_rows(path):
        if onset >= offset or (legacy and (name, onset, offset, cls) in llp.LEGACY_EVAL_AUDIO_DROPPED):
            continue
        out.setdefault(name, []).append(Event(llp.CLASS_INDEX[cls], onset, offset, str(path), line))
    return out
