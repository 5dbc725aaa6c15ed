"""The pseudo-labels file (``pseudo_labels/labels.h5``): per-second, per-modality training labels from
frozen teachers (VALOR: CLIP for the visual track, CLAP for the audio track), one owner.

Datasets ``video_ids`` and ``audio`` / ``visual`` ``(N, 10, 25)`` uint8 0/1 (second, class in LLP
order); attribute ``provenance`` (JSON: where the labels came from). Written by the import of the
released pseudo labels (:func:`import_released`) and by anything that computes them (the teachers,
one file per shard of videos joined by :func:`merge_pseudo_labels`; the planted benchmark's noisy
teacher); read by training (:func:`read_pseudo_labels`).

The release has ``CLIP/segment_pseudo_labels/<id>.npy`` (visual) and
``CLAP/segment_pseudo_labels/<id>.npy`` (audio), one ``(10, 25)`` 0/1 array per video. Each file is
read without unpickling (``features/released.read_npy``) and checked; a bad file is one line of the
failures file and leaves its video out, the rest is imported.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np

from .. import __version__
from ..features.failures import read_failures, write_failures
from ..features.released import BadFeatureFile, read_npy
from ..fileio import atomic_output, open_hdf5, read_strings, sha256_file, write_strings
from .index import load_split
from .llp import CLASSES

log = logging.getLogger(__name__)

NUM_SEGMENTS, NUM_CLASSES = 10, 25
SHAPE = (NUM_SEGMENTS, NUM_CLASSES)
#: Modality -> the release's folder of its pseudo labels.
RELEASE_FOLDERS = {"audio": "CLAP/segment_pseudo_labels", "visual": "CLIP/segment_pseudo_labels"}
_EXPECTED = "the release's pseudo labels are (10, 25) arrays of 0 and 1"


def release_path(released_dir: str, modality: str, vid: str) -> str:
    """The released pseudo-label file of ``vid`` for ``modality`` (audio: CLAP, visual: CLIP)."""
    return os.path.join(released_dir, RELEASE_FOLDERS[modality], f"{vid}.npy")


def read_label_file(path: str) -> tuple[np.ndarray, str]:
    """``(uint8 (10, 25) array, sha256 of the file)`` of one released pseudo-label file;
    :class:`features.released.BadFeatureFile` saying why not."""
    a, digest = read_npy(path, _EXPECTED)
    if a.dtype.kind not in "biuf":
        raise BadFeatureFile(f"{a.dtype} array; {_EXPECTED}")
    if a.shape != SHAPE:
        raise BadFeatureFile(f"shape {a.shape}, expected {SHAPE} (second, class)")
    if a.dtype.kind == "f" and np.isnan(a).any():
        raise BadFeatureFile(f"{int(np.isnan(a).sum())} NaN values; {_EXPECTED}")
    bad = a[(a != 0) & (a != 1)] if a.dtype.kind != "b" else a[:0]
    if bad.size:
        raise BadFeatureFile(f"{bad.size} values other than 0 and 1 (e.g. {bad.ravel()[0]!r}); {_EXPECTED}")
    return a.astype(np.uint8), digest


def write_pseudo_labels(
    path: str | Path, video_ids: list[str], audio: np.ndarray, visual: np.ndarray, provenance: dict
) -> None:
    """Write the pseudo labels of ``video_ids`` (rows in that order), ``(N, 10, 25)`` 0/1 each, atomically."""
    audio, visual = (np.asarray(x) for x in (audio, visual))
    for name, x in (("audio", audio), ("visual", visual)):
        if x.shape != (len(video_ids), *SHAPE):
            raise ValueError(f"{path}: {name} pseudo labels must have shape ({len(video_ids)}, 10, 25), got {x.shape}")
        if not np.isin(x, (0, 1)).all():
            raise ValueError(f"{path}: {name} pseudo labels must be 0 or 1")
    if len(set(video_ids)) != len(video_ids):
        raise ValueError(f"{path}: a video id is given twice")
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as f:
        write_strings(f, "video_ids", list(video_ids))
        f.create_dataset("audio", data=audio.astype(np.uint8), compression="gzip")
        f.create_dataset("visual", data=visual.astype(np.uint8), compression="gzip")
        f.attrs["provenance"] = json.dumps(provenance, sort_keys=True)


def read_pseudo_labels(
    path: str | Path, video_ids: list[str], classes: tuple[str, ...] = CLASSES
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(audio, visual, present)`` for ``video_ids``, rows matched by id: ``(N, 10, 25)`` float32 pseudo
    labels (zeros where absent) and ``present`` ``(N,)`` bool (False for a video the file lacks, e.g.
    one whose released file was bad). A ValueError naming the file when it is not a pseudo-labels file, or
    when the videos' ``classes`` are not LLP's (the labels' columns are LLP's classes, in order)."""
    if tuple(classes) != CLASSES:
        raise ValueError(
            f"{path}: pseudo labels are for LLP's {NUM_CLASSES} classes; these videos have {len(classes)} "
            f"({', '.join(classes[:4])}{', ...' if len(classes) > 4 else ''})"
        )
    try:
        with open_hdf5(path, "a pseudo-labels file") as f:
            if not {"video_ids", "audio", "visual"} <= set(f):
                raise ValueError(f"{path}: not a pseudo-labels file (needs video_ids, audio, visual)")
            row = {vid: i for i, vid in enumerate(read_strings(f["video_ids"]))}
            audio_all, visual_all = f["audio"][:], f["visual"][:]
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read as HDF5 ({exc})") from None
    present = np.array([v in row for v in video_ids], dtype=bool)
    audio = np.zeros((len(video_ids), *SHAPE), np.float32)
    visual = np.zeros_like(audio)
    take = [row[v] for v in video_ids if v in row]
    audio[present], visual[present] = audio_all[take], visual_all[take]
    return audio, visual, present


def read_all_pseudo_labels(path: str | Path) -> tuple[list[str], np.ndarray, np.ndarray, dict]:
    """``(video_ids, audio, visual, provenance)`` of a whole pseudo-labels file, uint8 labels."""
    try:
        with open_hdf5(path, "a pseudo-labels file") as f:
            if not {"video_ids", "audio", "visual"} <= set(f) or "provenance" not in f.attrs:
                raise ValueError(f"{path}: not a pseudo-labels file (needs video_ids, audio, visual, provenance)")
            return read_strings(f["video_ids"]), f["audio"][:], f["visual"][:], json.loads(f.attrs["provenance"])
    except OSError as exc:
        raise ValueError(f"{path}: cannot be read as HDF5 ({exc})") from None


def merge_pseudo_labels(
    paths: list[str | Path],
    failure_paths: list[str | Path],
    out: str | Path,
    failures_out: str | Path,
    provenance: dict | None = None,
) -> dict:
    """Join pseudo-labels files of disjoint video sets (one per shard) into ``out`` and their failures
    files into ``failures_out``; the provenance is the first file's, without its per-shard counts, plus
    ``provenance``. Files made with other settings (another provenance) are refused, naming the file."""
    ids, audio, visual, first, first_path = [], [], [], None, None
    for p in paths:
        vids, a, v, prov = read_all_pseudo_labels(p)
        common = {k: x for k, x in prov.items() if k not in ("videos", "n_failed")}
        if first is None:
            first, first_path = common, p
        elif common != first:
            diff = sorted(k for k in set(common) | set(first) if common.get(k) != first.get(k))
            raise ValueError(f"{p}: made with other settings than {first_path} (differs in {', '.join(diff)})")
        ids += vids
        audio.append(a)
        visual.append(v)
    failures = [row for fp in failure_paths for row in read_failures(fp)]
    empty = np.zeros((0, *SHAPE), np.uint8)
    merged = {**(first or {}), **(provenance or {}), "videos": len(ids), "n_failed": len(failures)}
    write_pseudo_labels(
        out, ids, np.concatenate(audio) if audio else empty, np.concatenate(visual) if visual else empty, merged
    )
    write_failures(failures_out, failures)
    return {"videos": len(ids), "failed": len(failures)}


def pseudo_label_provenance(path: str | Path) -> dict:
    """The ``provenance`` attribute of a pseudo-labels file."""
    with open_hdf5(path, "a pseudo-labels file") as f:
        return json.loads(f.attrs["provenance"])


def import_released(
    video_ids: list[str], released_dir: str, out: str | Path, failures_path: str | Path, threads: int = 2
) -> list[tuple[str, str, str]]:
    """Import the released pseudo labels of ``video_ids`` into ``out`` and write the failures file
    (one line per bad file; its video is left out); return the failures."""
    if len(set(video_ids)) != len(video_ids):
        raise ValueError("a video id is given twice")
    for modality, folder in RELEASE_FOLDERS.items():
        if not os.path.isdir(os.path.join(released_dir, folder)):
            raise ValueError(f"{released_dir}: no {folder}/ folder (the released {modality} pseudo labels)")

    def read(vid: str):
        got, fails = {}, []
        for modality in RELEASE_FOLDERS:
            path = release_path(released_dir, modality, vid)
            try:
                got[modality] = read_label_file(path)
            except BadFeatureFile as exc:
                fails.append((vid, path, str(exc)))
        return vid, got, fails

    ids, audio, visual, failures, lines = [], [], [], [], []
    with ThreadPoolExecutor(max(1, threads)) as pool:
        for vid, got, fails in pool.map(read, video_ids):
            for _, path, reason in fails:
                log.error("skipping %s: %s", path, reason)
            failures += fails
            if fails:
                continue
            ids.append(vid)
            audio.append(got["audio"][0])
            visual.append(got["visual"][0])
            lines.append(f"{vid}\t{got['audio'][1]}\t{got['visual'][1]}\n")
    empty = np.zeros((0, *SHAPE), np.uint8)
    provenance = {
        "source": "released",
        "released_dir": str(released_dir),
        "folders": RELEASE_FOLDERS,
        "files": 2 * len(ids),
        "n_failed": len(video_ids) - len(ids),
        "released_sha256": hashlib.sha256("".join(sorted(lines)).encode()).hexdigest(),
        "avvp_pipeline_version": __version__,
    }
    write_pseudo_labels(
        out, ids, np.stack(audio) if audio else empty, np.stack(visual) if visual else empty, provenance
    )
    write_failures(failures_path, failures)
    return failures


def _sha_lines(released_dir: str, ids: list[str]) -> str | None:
    """The ``released_sha256`` of the released files of ``ids`` as :func:`import_released` records it,
    or None when one cannot be read."""
    lines = []
    for vid in ids:
        try:
            audio, visual = (sha256_file(release_path(released_dir, m, vid)) for m in ("audio", "visual"))
        except (OSError, ValueError):
            return None
        lines.append(f"{vid}\t{audio}\t{visual}\n")
    return hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()


def labels_hold(labels_path: str | Path, released_dir: str, changed: set[str]) -> bool:
    """Whether the imported pseudo labels still hold the content of the released files (``changed``: the
    paths whose size, time or inode changed): they are all files of its videos, no video was left out,
    and the files hash to its recorded sha256. Read by planning, for the import's manifest."""
    try:
        ids, _, _, prov = read_all_pseudo_labels(labels_path)
    except (OSError, ValueError):
        return False
    if prov.get("source") != "released" or prov.get("released_dir") != str(released_dir) or prov.get("n_failed"):
        return False
    if not changed <= {release_path(released_dir, m, vid) for vid in ids for m in RELEASE_FOLDERS}:
        return False
    return _sha_lines(released_dir, ids) == prov.get("released_sha256")


def import_for_index(
    released_dir: str, index_path: str | Path, out: str | Path, failures_path: str | Path, threads: int = 2
) -> dict:
    """Import the released pseudo labels of the index's training videos (the only ones trained on);
    return ``{"videos", "imported", "failed"}``."""
    ids = load_split(index_path, "train").video_ids
    failures = import_released(list(ids), released_dir, out, failures_path, threads)
    failed = len({vid for vid, _, _ in failures})
    return {"videos": len(ids), "imported": len(ids) - failed, "failed": failed}
