"""The CM-Co release's refined MA labels (``need_to_change_cmco.pkl``) as ``refined/labels.h5``.

The file is a pickle of a pair ``(visual, audio)`` (the release's is a list of the two): each a list
of 25 lists (LLP class order) of row indices into the released ``AVVP_train.csv`` (0-based, header
excluded), stored as torch scalar int64 tensors. A class is dropped from a video's visual (audio)
label when the video's row is in that class's visual (audio) list and the class is in its weak label.

A pickle can run any code while it loads, so this file is never given to ``pickle.load`` or
``torch.load``: the unpicklers below admit exactly the few globals a pickled torch scalar needs
(mapped to pure-Python stand-ins) and decode torch's legacy storage bytes themselves.
"""

from __future__ import annotations

import hashlib
import io
import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..fileio import NotRegularFile, open_regular
from . import llp
from .index import load_split
from .refined_labels import write_refined_labels

# torch's legacy serialization header (torch/serialization.py)
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_MAX_ROW = 2**31  # no AVVP_train.csv has this many rows; larger "indices" are refused before use
_INTEGER_STORAGES = {
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
}


class RefinedLabelsError(ValueError):
    """A released refined-labels file that cannot be used (one line naming the file)."""


@dataclass(frozen=True)
class _StorageType:
    name: str
    dtype: str


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: str
    numel: int


@dataclass(frozen=True)
class _Storage:
    values: np.ndarray


class _StorageUnpickler(pickle.Unpickler):
    """One pickle of a legacy torch storage blob: globals only integer storage classes (as markers),
    persistent ids only ``('storage', type, key, location, numel, None)`` records."""

    def __init__(self, file, path):
        super().__init__(file)
        self.path = path
        self.refs: dict[str, _StorageRef] = {}

    def find_class(self, module, name):
        if module == "torch" and name in _INTEGER_STORAGES:
            return _StorageType(name, _INTEGER_STORAGES[name])
        raise RefinedLabelsError(
            f"{self.path}: refuses to load global {module}.{name} in a tensor's storage: not a refined-labels file"
        )

    def persistent_load(self, pid):
        if not (
            isinstance(pid, tuple)
            and len(pid) == 6
            and pid[0] == "storage"
            and isinstance(pid[1], _StorageType)
            and isinstance(pid[2], str)
            and isinstance(pid[3], str)
            and isinstance(pid[4], int)
            and pid[4] >= 0
            and pid[5] is None
        ):
            raise RefinedLabelsError(
                f"{self.path}: unexpected storage record {_describe(pid)} in a tensor: not a refined-labels file"
            )
        ref = _StorageRef(pid[2], pid[1].dtype, pid[4])
        self.refs[ref.key] = ref
        return ref


class _RefinedUnpickler(pickle.Unpickler):
    """The outer pickle: lists, tuples, ints, and torch scalars built by the stand-ins below."""

    def __init__(self, file, path):
        super().__init__(file)
        self.path = path

    def find_class(self, module, name):
        allowed = {
            ("torch._utils", "_rebuild_tensor_v2"): self._rebuild_scalar,
            ("torch.storage", "_load_from_bytes"): self._load_from_bytes,
            ("collections", "OrderedDict"): self._empty_hooks,
            ("_codecs", "encode"): self._latin1_bytes,
        }  # how protocols 0-2 pickle bytes
        if (module, name) in allowed:
            return allowed[module, name]
        raise RefinedLabelsError(f"{self.path}: refuses to load global {module}.{name}: not a refined-labels file")

    def persistent_load(self, pid):
        raise RefinedLabelsError(f"{self.path}: unexpected persistent id {_describe(pid)}: not a refined-labels file")

    def _load_from_bytes(self, blob):
        if not isinstance(blob, bytes):
            raise RefinedLabelsError(f"{self.path}: a tensor's storage is {type(blob).__name__}, not bytes")
        return _Storage(decode_legacy_storage(blob, self.path))

    def _latin1_bytes(self, text, encoding):
        if not isinstance(text, str) or encoding != "latin1":
            raise RefinedLabelsError(
                f"{self.path}: unexpected encode({_describe(text)}, {_describe(encoding)}): not a refined-labels file"
            )
        return text.encode("latin1")

    def _empty_hooks(self, *args):
        if args:
            raise RefinedLabelsError(f"{self.path}: a tensor has backward hooks: not a refined-labels file")
        return OrderedDict()

    def _rebuild_scalar(self, storage, offset, size, stride, requires_grad, hooks, metadata=None):
        """An int for a scalar tensor view ``storage[offset]`` (what ``torch.tensor(i)`` pickles as)."""
        if not isinstance(storage, _Storage) or hooks or metadata:
            raise RefinedLabelsError(f"{self.path}: a tensor that is not a plain integer scalar")
        if tuple(size) != () or not isinstance(offset, int) or not 0 <= offset < len(storage.values):
            raise RefinedLabelsError(
                f"{self.path}: a tensor of shape {tuple(size)} at offset {offset} of a "
                f"{len(storage.values)}-element storage; expected scalar row indices"
            )
        return int(storage.values[offset])


def decode_legacy_storage(blob: bytes, path) -> np.ndarray:
    """The elements of one storage saved in torch's legacy format (``torch.save(storage,
    _use_new_zipfile_serialization=False)``, what ``torch.storage._load_from_bytes`` receives)."""
    f = io.BytesIO(blob)
    header = [_StorageUnpickler(f, path).load() for _ in range(3)]
    if header[0] != _LEGACY_MAGIC or header[1] != _LEGACY_PROTOCOL:
        raise RefinedLabelsError(f"{path}: a tensor's storage is not in torch's legacy format")
    if not isinstance(header[2], dict) or header[2].get("little_endian") is not True:
        raise RefinedLabelsError(f"{path}: a tensor's storage is not little-endian")
    main = _StorageUnpickler(f, path)
    ref = main.load()
    keys = _StorageUnpickler(f, path).load()
    if not isinstance(ref, _StorageRef) or not isinstance(keys, list) or sorted(keys) != sorted(main.refs):
        raise RefinedLabelsError(f"{path}: a tensor's storage blob does not hold exactly one storage")
    data = {}
    for key in keys:
        numel = int.from_bytes(f.read(8), "little")
        dtype = np.dtype(main.refs[key].dtype)
        raw = f.read(numel * dtype.itemsize)
        if numel != main.refs[key].numel or len(raw) != numel * dtype.itemsize:
            raise RefinedLabelsError(f"{path}: a tensor's storage is truncated or its size is inconsistent")
        data[key] = np.frombuffer(raw, dtype=dtype)
    if f.read(1):
        raise RefinedLabelsError(f"{path}: unexpected bytes after a tensor's storage")
    return data[ref.key]


def _describe(x) -> str:
    """A short description of an unexpected value that never recurses into it nor prints a huge number
    (a deeply nested list's repr recurses; a long int's str() is refused)."""
    if type(x) is int:
        return repr(x) if abs(x) < _MAX_ROW else f"an integer of {x.bit_length()} bits"
    if isinstance(x, (list, tuple, dict)):
        return f"a {type(x).__name__} of {len(x)} items"
    if isinstance(x, (str, bytes)):
        return repr(x[:40])
    return repr(x) if isinstance(x, (float, bool, type(None))) else f"a {type(x).__name__}"


def _check_lists(obj, path) -> tuple[list[list[int]], list[list[int]]]:
    shape = "a (visual, audio) pair of lists of 25 per-class lists of row indices"
    if not (isinstance(obj, (tuple, list)) and len(obj) == 2):  # the release's file is a list
        raise RefinedLabelsError(f"{path}: expected {shape}, got {type(obj).__name__}")
    for modality, lists in zip(("visual", "audio"), obj):
        if not (isinstance(lists, list) and len(lists) == llp.NUM_CLASSES and all(isinstance(x, list) for x in lists)):
            raise RefinedLabelsError(
                f"{path}: the {modality} part is not a list of {llp.NUM_CLASSES} lists; expected {shape}"
            )
        for c, rows in enumerate(lists):
            bad = [r for r in rows if type(r) is not int or not 0 <= r < _MAX_ROW]
            if bad:
                raise RefinedLabelsError(
                    f"{path}: {modality} class {llp.CLASSES[c]} holds {_describe(bad[0])}, not a row index"
                )
    return obj[0], obj[1]


def read_released_refined(pkl_path: str | Path) -> tuple[list[list[int]], list[list[int]]]:
    """``(visual, audio)`` of the CM-Co release's refined-labels pickle: per modality 25 lists (LLP class
    order) of ``AVVP_train.csv`` row indices. Never runs code from the file; refuses anything else."""
    return _read(Path(pkl_path))[0]


def _read(path: Path) -> tuple[tuple[list[list[int]], list[list[int]]], str]:
    """The checked lists and the sha256 of the bytes they came from."""
    try:
        with open_regular(path) as fh:
            data = fh.read()
    except NotRegularFile as exc:
        raise RefinedLabelsError(str(exc)) from None
    except OSError as exc:
        raise RefinedLabelsError(f"{path}: cannot read the refined-labels file: {exc.strerror or exc}") from None
    return _check_lists(_unpickle(data, path), path), hashlib.sha256(data).hexdigest()


def _unpickle(data: bytes, path: Path):
    try:
        return _RefinedUnpickler(io.BytesIO(data), path).load()
    except RefinedLabelsError:
        raise
    except Exception as exc:  # any malformed pickle: truncated, bad opcode, wrong call signature, ...
        if isinstance(exc, ValueError) and "integer string conversion" in str(exc):
            raise RefinedLabelsError(f"{path}: holds an integer of over 4300 digits, not a row index") from None
        raise RefinedLabelsError(f"{path}: not a refined-labels pickle ({type(exc).__name__}: {exc})") from None


def listed_masks(
    visual: list[list[int]], audio: list[list[int]], n_rows: int, path="refined labels"
) -> tuple[np.ndarray, np.ndarray]:
    """``(visual, audio)`` (n_rows, 25) bool: the CSV rows each class's list names. A class is dropped
    where it is listed and in the row's weak label."""
    out = []
    for modality, lists in (("visual", visual), ("audio", audio)):
        listed = np.zeros((n_rows, llp.NUM_CLASSES), dtype=bool)
        for c, rows in enumerate(lists):
            if rows and max(rows) >= n_rows:
                raise RefinedLabelsError(
                    f"{path}: {modality} class {llp.CLASSES[c]} lists row {max(rows)}, but "
                    f"AVVP_train.csv has {n_rows} rows: the file belongs to other annotations"
                )
            listed[rows, c] = True
        out.append(listed)
    return out[0], out[1]


def _index_rows(csv_names: list[str], csv_weak: np.ndarray, split, csv_path: Path) -> np.ndarray:
    """For each training video of the index, its row in ``AVVP_train.csv`` (matched by filename)."""
    row = {name: i for i, name in enumerate(csv_names)}
    missing = [f for f in split.filenames if f not in row]
    if missing:
        raise RefinedLabelsError(
            f"{csv_path}: {len(missing)} training videos of the index are not in it, e.g. "
            f"{missing[:3]}: the released labels refer to the released AVVP_train.csv"
        )
    rows = np.array([row[f] for f in split.filenames], dtype=np.int64)
    differ = [f for f, r, lab in zip(split.filenames, rows, split.labels) if not np.array_equal(csv_weak[r], lab)]
    if differ:
        raise RefinedLabelsError(
            f"{csv_path}: the weak labels of {len(differ)} videos differ from the index's, e.g. "
            f"{differ[:3]}: the index was built from other annotations"
        )
    return rows


def import_released_refined(
    pkl_path: str | Path, index_path: str | Path, annotations_dir: str | Path, out_path: str | Path
) -> dict:
    """Write ``out_path`` (the ``avvp refine`` format) for the index's training videos from the release's
    pickle, whose rows are mapped through ``annotations_dir/AVVP_train.csv`` by filename; return the stats."""

    pkl_path, csv_path = Path(pkl_path), Path(annotations_dir) / llp.SPLIT_FILES["train"]
    (visual, audio), pkl_sha256 = _read(pkl_path)
    csv_names, csv_weak = llp.read_weak_labels(csv_path)
    listed_v, listed_a = listed_masks(visual, audio, len(csv_names), pkl_path)
    if not Path(index_path).is_file():
        raise RefinedLabelsError(f"{index_path}: no such index file (avvp index writes it)")
    split = load_split(index_path, "train")
    if not len(split):
        raise RefinedLabelsError(f"{index_path}: the train split is empty")
    rows = _index_rows(csv_names, csv_weak, split, csv_path)
    weak = split.labels.astype(bool)
    drop_a, drop_v = weak & listed_a[rows], weak & listed_v[rows]
    audio_labels, visual_labels = (weak & ~drop_a).astype(np.uint8), (weak & ~drop_v).astype(np.uint8)
    in_csv_label = csv_weak.astype(bool)
    stats = {
        "videos": len(split),
        "labels": int(weak.sum()),
        "dropped_audio": int(drop_a.sum()),
        "dropped_visual": int(drop_v.sum()),
        "dropped_both": int((drop_a & drop_v).sum()),
        "empty_audio": int((audio_labels.sum(1) == 0).sum()),
        "empty_visual": int((visual_labels.sum(1) == 0).sum()),
        # the file's drops on CSV rows the index lacks, and its entries naming a class the row lacks
        "released_drops_unused": int(
            (listed_a & in_csv_label).sum() + (listed_v & in_csv_label).sum() - drop_a.sum() - drop_v.sum()
        ),
        "released_entries_not_in_weak_label": int((listed_a & ~in_csv_label).sum() + (listed_v & ~in_csv_label).sum()),
        "source": {"method": "file", "file": str(pkl_path), "sha256": pkl_sha256},
        "annotations": {"file": str(csv_path), "sha256": hashlib.sha256(csv_path.read_bytes()).hexdigest()},
    }
    write_refined_labels(out_path, split.filenames, split.video_ids, split.labels, audio_labels, visual_labels, stats)
    return stats
