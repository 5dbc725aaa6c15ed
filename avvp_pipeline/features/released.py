"""Import released features (LLP's or LFAV's) as feature shards, as if this pipeline had extracted them.

Each feature kind (``kinds.KINDS``) has a folder in a release (``kinds.release_folder``) with one
``<11-character YouTube id>.npy`` per video. LLP's: the HAN authors' ``vggish/`` (10, 128), ``res152/``
(80, 2048) and ``r2plus1d_18/`` (10, 512), float32 (the VGGish files hold the raw post-ReLU 128-d
embedding, no PCA, not 8-bit), and VALOR's ``CLIP/features/`` (10, 768) and ``CLAP/features/`` (64, 768).
LFAV's: ``audio-feat-vggish-align/`` (T, 128), ``visual-feat-res18-align/`` (T, 512) and
``visual-feat-r2plus1d-align/`` (T, 512), one row per second of a video of T seconds, T of any length;
its shards store each video's length. Each file is read without unpickling and checked against its
kind's shape; a bad file is one line of the shard's failures file and leaves its video out of every
shard the import writes, the rest of the shard is imported. The shards are written by
:func:`store.write_shard`, with the datasets extraction writes, so everything downstream reads them
unchanged.

The releases do not say whether a video had an audio track: ``has_audio`` is true for every video.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import platform
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from .. import __version__
from ..data import llp
from ..fileio import NotRegularFile, open_regular, sha256_file
from . import store
from .failures import write_failures
from .kinds import KINDS, RELEASES, release_folder

log = logging.getLogger(__name__)

#: Feature kind -> LLP's release folder for it (below the released folder).
RELEASE_FOLDERS = {name: k.release_folder for name, k in KINDS.items() if k.release_folder}
#: Shape of one (10-second) LLP video's features per kind.
SHAPES = {name: k.shape for name, k in KINDS.items()}
HAS_AUDIO_NOTE = "the released features do not record whether a clip had an audio track: has_audio is 1 for every video"
_NPY_MAGIC = b"\x93NUMPY"


class BadFeatureFile(ValueError):
    """A released .npy file that cannot be imported; the message is the reason (no path)."""


def release_path(released_dir: str, extractor: str, vid: str, release: str = "llp") -> str:
    """The released file of ``vid`` for ``extractor`` (a shard extractor name) in ``release``'s layout."""
    return os.path.join(released_dir, release_folder(extractor, release), f"{vid}.npy")


def read_feature_file(path: str, extractor: str, release: str = "llp") -> tuple[np.ndarray, str, str]:
    """``(float32 array, sha256 of the file, dtype in the file)`` of one released file;
    :class:`BadFeatureFile` saying why not (:func:`read_npy`, then the extractor's shape and values)."""
    array, digest = read_npy(path, "the release's features are float32")
    return _checked(array, extractor, release), digest, str(array.dtype)


def read_npy(path: str, expected: str) -> tuple[np.ndarray, str]:
    """``(array, sha256 of the file)`` of one released ``.npy`` file; :class:`BadFeatureFile` saying why not.

    ``np.load(file, allow_pickle=False)`` reads the array (an object array, which would need
    unpickling, is refused, the reason ending with ``expected``: what the release holds); the file's
    sha256 is that of its header, the array's bytes and anything after them, so each byte is read
    from the file once.
    """
    if os.path.islink(path) and not os.path.exists(path):
        raise BadFeatureFile(f"dangling symbolic link (to {os.readlink(path)})")
    try:
        with open_regular(path) as fh:
            return _load(fh, expected)
    except NotRegularFile as exc:
        raise BadFeatureFile(f"not a regular file ({exc.kind})") from None
    except FileNotFoundError:
        raise BadFeatureFile("file not found") from None
    except OSError as exc:
        raise BadFeatureFile(f"cannot be read ({exc.strerror or exc})") from None


def _load(fh, expected: str) -> tuple[np.ndarray, str]:
    magic = fh.read(len(_NPY_MAGIC))
    if magic != _NPY_MAGIC:
        raise BadFeatureFile("not a .npy file (no NumPy header)" if magic else "empty file")
    fh.seek(0)
    try:
        a = np.load(fh, allow_pickle=False)
    except OSError:
        raise
    except Exception as exc:  # a damaged header makes the parser raise ValueError, SyntaxError, TokenError, ...
        if isinstance(exc, ValueError) and "max_header_size" in str(exc):
            size = re.search(r"length \((\d+)\)", str(exc))
            raise BadFeatureFile(
                f"header too large ({size.group(1) if size else 'over 10000'} bytes; NumPy refuses to parse it)"
            ) from None
        if isinstance(exc, ValueError) and "allow_pickle" in str(exc):
            raise BadFeatureFile(f"object array (needs unpickling, refused); {expected}") from None
        raise BadFeatureFile(f"truncated or damaged .npy file ({type(exc).__name__}: {exc})") from None
    end = fh.tell()
    fh.seek(0)
    h = hashlib.sha256(fh.read(end - a.nbytes))
    h.update(a.ravel(order="K"))  # the array's memory is in file order (C or Fortran)
    fh.seek(end)
    h.update(fh.read())
    return a, h.hexdigest()


def _shape_problem(shape: tuple, extractor: str, release: str) -> str | None:
    """Why an array of ``shape`` is not one video's ``extractor`` features in ``release``, or None: LLP's
    are a 10-second clip's; LFAV's are ``(T, width)``, T >= 1 whole seconds."""
    folder = release_folder(extractor, release)
    if release == "llp":
        return None if shape == SHAPES[extractor] else f"shape {shape}, expected {SHAPES[extractor]} for {folder}"
    k = KINDS[extractor]
    if len(shape) != 2 or shape[1] != k.width or shape[0] < 1 or shape[0] % k.rows_per_second:
        per = "one row" if k.rows_per_second == 1 else f"{k.rows_per_second} rows"
        return f"shape {shape}, expected (seconds, {k.width}) for {folder} ({per} per second, at least one)"
    return None


def _checked(a: np.ndarray, extractor: str, release: str = "llp") -> np.ndarray:
    """The array as float32 when it has the extractor's shape in ``release`` and finite float values."""
    if a.dtype.kind in "iu" and extractor == "vggish":
        raise BadFeatureFile(
            f"{a.dtype} array: looks PCA-quantised (8-bit VGGish output); the release's features are float32"
        )
    if a.dtype.kind != "f":
        raise BadFeatureFile(f"{a.dtype} array; the release's features are float32")
    why = _shape_problem(a.shape, extractor, release)
    if why:
        raise BadFeatureFile(why)
    if a.dtype != np.float32:  # float64 (or float16, or big-endian) copies of the release: same values
        with np.errstate(over="ignore"):
            a = a.astype(np.float32)
    bad = a.size - int(np.count_nonzero(np.isfinite(a)))
    if bad:
        raise BadFeatureFile(f"{bad} NaN/Inf values (as float32)")
    return a


@dataclass
class _Video:
    """One video's three arrays and file hashes, or the failures of its bad files."""

    vid: str
    arrays: dict[str, np.ndarray]
    sha256: dict[str, str]
    failures: list[tuple[str, str, str]]
    converted: int = 0  # files that were not float32 in the release folder


def _read_video(released_dir: str, vid: str, kinds: list[str], release: str) -> _Video:
    video = _Video(vid, {}, {}, [])
    for extractor in kinds:
        path = release_path(released_dir, extractor, vid, release)
        try:
            video.arrays[extractor], video.sha256[extractor], dtype = read_feature_file(path, extractor, release)
            video.converted += dtype != "float32"
        except BadFeatureFile as exc:
            video.failures.append((vid, path, str(exc)))
    return video


def files_sha256(ids: list[str], sha256: dict[str, str]) -> str:
    """sha256 of the sorted ``<id>\\t<file sha256>`` lines of the imported files of one shard."""
    lines = "".join(f"{vid}\t{sha256[vid]}\n" for vid in sorted(ids))
    return hashlib.sha256(lines.encode()).hexdigest()


def _files_match(folder: str, ids: list[str], recorded: str) -> str | None:
    """None when the files ``<folder>/<id>.npy`` of ``ids`` hash to ``recorded`` (:func:`files_sha256`),
    else why not."""
    sha = {}
    for vid in ids:
        path = os.path.join(folder, f"{vid}.npy")
        try:
            sha[vid] = sha256_file(path)
        except (OSError, ValueError) as exc:
            return f"{path}: {exc.strerror if isinstance(exc, OSError) else exc}"
    return None if files_sha256(ids, sha) == recorded else "its files' content changed"


def shard_holds(shard_path: str, kind: str, released_dir: str, changed: set[str], release: str = "llp") -> bool:
    """Whether the imported shard still holds the content of the released files (``changed``: the
    paths whose size, time or inode changed): they are all files of its videos, it left no video out,
    and the files hash to its recorded sha256. Read by planning, for the import's manifest."""
    got = store.read_shard_ids(shard_path)
    if got is None or got[1].get("released_dir") != released_dir or int(got[1].get("n_failed", 1)):
        return False
    ids, attrs = got
    if not changed <= {release_path(released_dir, kind, vid, release) for vid in ids}:
        return False
    folder = os.path.join(released_dir, release_folder(kind, release))
    return _files_match(folder, ids, attrs["released_sha256"]) is None


def source_mismatch(ids: list[str], attrs: dict) -> str | None:
    """Why an imported shard (``attrs`` with ``source: released``) no longer matches its released files,
    or None (also when the release folder is no longer there to compare)."""
    folder = str(attrs.get("released_folder", ""))
    if attrs.get("source") != "released" or not os.path.isdir(folder):
        return None
    why = _files_match(folder, ids, str(attrs.get("released_sha256")))
    return None if why is None else f"no longer matches its source files in {folder} ({why}): rerun snakemake"


def shard_attrs(
    extractor: str,
    released_dir: str,
    stage_cfg: dict,
    ids: list[str],
    sha256: dict[str, str],
    n_failed: int,
    release: str = "llp",
) -> dict:
    """Provenance of an imported shard: the release folder and its files' checksum, never extraction weights."""
    import h5py

    folder = release_folder(extractor, release)
    attrs = {
        "extractor": extractor,
        "source": "released",
        "weights_id": f"released:{folder}" if release == "llp" else f"released:{release}:{folder}",
        "weights_sha256": "unknown (not in the release)",
        "weights_path": "",
        "weights_random": 0,
        "released_dir": released_dir,
        "released_folder": os.path.join(released_dir, folder),
        "released_files": len(ids),
        "released_sha256": files_sha256(ids, sha256),
        "config_hash": store.config_hash(stage_cfg),
        "config_json": json.dumps(stage_cfg, sort_keys=True),
        "avvp_pipeline_version": __version__,
        "h5py_version": h5py.__version__,
        "numpy_version": np.__version__,
        "python_version": platform.python_version(),
        "n_failed": n_failed,
    }
    if KINDS[extractor].slot == "audio":
        attrs["has_audio_note"] = HAS_AUDIO_NOTE
    if extractor == "vggish":
        attrs["postprocess"] = "none"
    return attrs


@dataclass
class _Imported:
    """The videos of a shard whose files are all good, in order, with their features and file hashes."""

    video_ids: list[str]
    features: dict[str, list[np.ndarray]]  # extractor -> each imported video's (rows, D) array
    sha256: dict[str, dict[str, str]]  # extractor -> id -> sha256 of the file
    failures: list[tuple[str, str, str]]


def _read_all(
    video_ids: list[str], released_dir: str, kinds: list[str], threads: int, desc: str, progress: bool, release: str
) -> _Imported:
    n = len(video_ids)
    out = _Imported([], {name: [] for name in kinds}, {name: {} for name in kinds}, [])
    converted = 0
    with (
        ThreadPoolExecutor(max(1, threads)) as pool,
        tqdm(total=n, desc=desc, unit="video", disable=not progress) as bar,
    ):
        for video in pool.map(lambda vid: _read_video(released_dir, vid, kinds, release), video_ids):
            bar.update()
            for _, path, reason in video.failures:
                log.error("skipping %s: %s", path, reason)
            out.failures += video.failures
            if video.failures:
                continue
            for name, a in video.arrays.items():
                out.features[name].append(a)
                out.sha256[name][video.vid] = video.sha256[name]
            out.video_ids.append(video.vid)
            converted += video.converted
    if converted:
        log.warning("%d files were not float32 (e.g. float64) and were converted to float32", converted)
    return out


def _check_ids(video_ids: list[str]) -> None:
    seen = set()
    for vid in video_ids:
        if not llp.YOUTUBE_ID.fullmatch(vid):
            raise ValueError(f"{vid!r}: not an 11-character YouTube id (letters, digits, '-' and '_')")
        if vid in seen:
            raise ValueError(f"video id {vid} is given twice")
        seen.add(vid)


def _check_outputs(released_dir: str, outputs: dict[str, str], failures_path: str, release: str) -> None:
    """ValueError for a release folder of ``outputs``' kinds that is not there, or one path given twice."""
    for name in outputs:
        folder = os.path.join(released_dir, release_folder(name, release))
        if not os.path.isdir(folder):
            raise ValueError(f"{folder}: no such folder (the released {name} features)")
    seen: dict[str, str] = {}
    named = [(f"the {name} shard", p) for name, p in outputs.items()] + [("the failures file", failures_path)]
    for what, path in named:
        key = os.path.realpath(path)
        if key in seen:
            raise ValueError(f"{path}: given as both {seen[key]} and {what}; each output needs its own path")
        seen[key] = what


def import_shard(
    video_ids: list[str],
    released_dir: str,
    outputs: dict[str, str],
    failures_path: str,
    stage_cfg: dict,
    threads: int = 2,
    progress: bool = True,
    release: str = "llp",
) -> list[tuple[str, str, str]]:
    """Read the released files of ``video_ids`` in ``release``'s layout (:data:`kinds.RELEASES`) and write
    one shard per feature kind (``outputs``: kind -> path, kinds that release has) and the failures file;
    return the failures. A video with a bad file of any of those kinds is left out of all of them."""
    _check_ids(video_ids)
    if release not in RELEASES:
        raise ValueError(f"unknown feature release {release!r}; known: {', '.join(RELEASES)}")
    for name in outputs:
        if name not in KINDS:
            raise ValueError(f"import writes shards of the feature kinds {', '.join(KINDS)}; got {name}")
        release_folder(name, release)  # ValueError naming what the release has
    if not outputs:
        raise ValueError(f"import writes shards of the feature kinds {', '.join(KINDS)}; got none")
    _check_outputs(released_dir, outputs, failures_path, release)
    kinds = list(outputs)
    desc = f"import {os.path.basename(outputs[kinds[0]])}"
    got = _read_all(video_ids, released_dir, kinds, threads, desc, progress, release)
    n_good, n_failed = len(got.video_ids), len(video_ids) - len(got.video_ids)

    def write(name: str) -> None:
        extra = {"has_audio": np.ones(n_good, dtype=bool)} if KINDS[name].slot == "audio" else None
        attrs = shard_attrs(name, released_dir, stage_cfg, got.video_ids, got.sha256[name], n_failed, release)
        videos = got.features[name]
        if not videos:
            features, lengths = np.empty((0, *SHAPES[name]), np.float32), None
        elif release == "llp":  # one shape per kind, checked
            features, lengths = np.stack(videos), None
        else:
            features, lengths = store.padded(name, videos)
        store.write_shard(outputs[name], got.video_ids, features, attrs, extra=extra, lengths=lengths)

    with ThreadPoolExecutor(max(1, min(threads, len(outputs)))) as pool:  # one shard's checksum beside another's write
        list(pool.map(write, list(outputs)))
    write_failures(failures_path, got.failures)
    return got.failures
