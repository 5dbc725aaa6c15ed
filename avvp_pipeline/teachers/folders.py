"""A teacher's local folder (``transformers``' layout) checked before anything is loaded (torch-free, so
that workflow planning can run it): safetensors weights present, no pickles read, the right model type,
a readable safetensors header that covers the file, a config whose sizes fit those weights, readable
tokenizer and preprocessing files with the keys they need, the weights' sha256 when the config gives one."""

from __future__ import annotations

import json
import math
from pathlib import Path

from ..fileio import sha256_file

WEIGHTS_FILE = "model.safetensors"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
#: the published checkpoints VALOR used, for messages
PUBLISHED = {"clip": "openai/clip-vit-large-patch14", "clap": "laion/clap-htsat-fused"}
MODEL_TYPES = {"clip": "clip", "clap": "clap"}
_BPE_FILES = ("vocab.json", "merges.txt")
#: bytes per element of each safetensors dtype
DTYPE_BYTES = {
    **{"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1},
    **{"I64": 8, "I32": 4, "I16": 2, "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1},
}
FLOAT_DTYPES = ("F32", "F16", "BF16", "F64")
MAX_HEADER = 100_000_000  # safetensors' own limit on the JSON header
_TOKENIZER_JSON_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json")
#: what the tokenizers read from tokenizer.json (a key left out silently changes the tokens)
_TOKENIZER_KEYS = ("added_tokens", "normalizer", "pre_tokenizer", "post_processor", "decoder", "model")
_BPE_KEYS = ("vocab", "merges")
#: CLAP's audio front end: a key left out would silently fall back to another default
_CLAP_PREPROCESS = {
    **dict.fromkeys(["sampling_rate", "feature_size", "fft_window_size", "hop_length"], int),
    **dict.fromkeys(["max_length_s", "frequency_min", "frequency_max"], (int, float)),
    **dict.fromkeys(["padding", "truncation"], str),
}


class TeacherFolderError(ValueError):
    """A teacher folder that cannot be the model it is configured as; the message names the file and the
    first problem found."""


def read_json_object(path: Path) -> dict:
    """The JSON object in ``path``; a TeacherFolderError naming the file otherwise."""
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise TeacherFolderError(f"{path}: cannot be read as JSON ({exc})") from None
    if not isinstance(value, dict):
        raise TeacherFolderError(f"{path}: a JSON {type(value).__name__}, expected an object")
    return value


def _require(path: Path, obj: dict, keys, where: str = "") -> None:
    missing = [k for k in keys if k not in obj]
    if missing:
        raise TeacherFolderError(f"{path}: no {where}{missing[0]!r} key")


def _tensor_entry(weights: Path, name: str, entry, data_size: int) -> tuple[str, tuple[int, ...], int]:
    """``(dtype, shape, end offset)`` of one header entry, checked against the bytes it claims."""
    bad = f"{weights}: header entry {name!r}"
    if not isinstance(entry, dict) or not {"dtype", "shape", "data_offsets"} <= set(entry):
        raise TeacherFolderError(f"{bad} lacks dtype, shape or data_offsets: damaged file")
    dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
    if dtype not in DTYPE_BYTES:
        raise TeacherFolderError(f"{bad} has unknown dtype {dtype!r}")
    ints = isinstance(shape, list) and isinstance(offsets, list) and len(offsets) == 2
    if not ints or not all(type(x) is int and x >= 0 for x in [*shape, *offsets]):
        raise TeacherFolderError(f"{bad} has a malformed shape or data_offsets: damaged file")
    begin, end = offsets
    if end - begin != math.prod(shape) * DTYPE_BYTES[dtype]:
        raise TeacherFolderError(f"{bad}: shape {shape} of {dtype} does not fit its {end - begin} bytes")
    if end > data_size:
        raise TeacherFolderError(
            f"{weights}: truncated: tensor {name!r} ends at byte {end} of the data, the file holds {data_size}"
        )
    return dtype, tuple(shape), end


def read_header(weights: Path) -> dict[str, tuple[str, tuple[int, ...]]]:
    """``{name: (dtype, shape)}`` of a safetensors file (8 bytes little-endian header length, then a JSON
    header), checked to describe the file's bytes exactly; no tensor is read."""
    size = weights.stat().st_size
    with open(weights, "rb") as f:
        n = int.from_bytes(f.read(8), "little") if size >= 8 else -1
        if n < 0:
            raise TeacherFolderError(f"{weights}: {size} bytes, too short for a safetensors file (empty or truncated)")
        if n > MAX_HEADER or 8 + n > size:
            raise TeacherFolderError(
                f"{weights}: header of {n} bytes claimed, the file holds {size} (at most {MAX_HEADER}): damaged "
                "or not a safetensors file"
            )
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except ValueError as exc:
        raise TeacherFolderError(f"{weights}: header is not JSON ({exc}): damaged or not a safetensors file") from None
    if not isinstance(header, dict):
        raise TeacherFolderError(f"{weights}: header is not a JSON object: damaged or not a safetensors file")
    header.pop("__metadata__", None)
    data_size = size - 8 - n
    tensors, covered = {}, 0
    for name, entry in header.items():
        dtype, shape, end = _tensor_entry(weights, name, entry, data_size)
        tensors[name], covered = (dtype, shape), max(covered, end)
    if covered != data_size:
        raise TeacherFolderError(f"{weights}: {data_size - covered} bytes after the last tensor: damaged file")
    return tensors


def _ints(value, key: str = ""):
    """``(dotted key, int)`` of every integer in a config (bools are not integers here)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _ints(v, f"{key}.{k}" if key else str(k))
    elif isinstance(value, list):
        for v in value:
            yield from _ints(v, key)
    elif type(value) is int:
        yield key, value


def check_config_sizes(config_file: Path, config: dict, tensors: dict) -> None:
    """A TeacherFolderError where ``config.json`` claims sizes no model in the weights file can have: a
    number above the file's element count, or more layers than it has tensors (building such a model
    would exhaust memory or time before any shape is compared)."""
    elements = sum(math.prod(shape) for _, shape in tensors.values())
    layers = 0
    for key, value in _ints(config):
        if abs(value) > max(elements, 1):
            raise TeacherFolderError(
                f"{config_file}: {key} = {value}, more than the {elements} numbers in {WEIGHTS_FILE}: absurd size"
            )
        leaf = key.rsplit(".", 1)[-1]
        layers += value if leaf.endswith("layers") or leaf == "depths" else 0
    if layers > len(tensors):
        raise TeacherFolderError(
            f"{config_file}: {layers} layers in all, more than the {len(tensors)} tensors in {WEIGHTS_FILE}: "
            "absurd size"
        )


def _check_tokenizer(folder: Path) -> None:
    """The tokenizer files are JSON objects; ``tokenizer.json`` has the parts a byte-level BPE needs."""
    for name in _TOKENIZER_JSON_FILES:
        if (folder / name).is_file():
            read_json_object(folder / name)
    path = folder / "tokenizer.json"
    if path.is_file():
        spec = read_json_object(path)
        _require(path, spec, _TOKENIZER_KEYS)
        if not isinstance(spec["model"], dict):
            raise TeacherFolderError(f"{path}: 'model' is not an object")
        _require(path, spec["model"], _BPE_KEYS, "'model.' ")


def preprocess_settings(kind: str, folder: Path) -> dict:
    """``preprocessor_config.json`` of a folder, checked: CLAP's needs each setting of its audio front end;
    CLIP's (optional: CLIP's published values otherwise, ``{}``) needs 3 numbers each of ``image_mean`` and
    ``image_std``."""
    path = folder / "preprocessor_config.json"
    if kind == "clip" and not path.is_file():
        return {}
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (CLAP's audio front-end settings)")
    settings = read_json_object(path)
    types = _CLAP_PREPROCESS if kind == "clap" else dict.fromkeys(["image_mean", "image_std"], list)
    _require(path, settings, types)
    for key, want in types.items():
        value = settings[key]
        numbers = value if isinstance(value, list) else [value]
        ok = isinstance(value, want) and not any(isinstance(x, bool) for x in numbers)
        if want is list:
            ok = ok and len(value) == 3 and all(isinstance(x, (int, float)) and math.isfinite(x) for x in value)
        if not ok:
            raise TeacherFolderError(f"{path}: {key!r} is {value!r}, not a valid setting")
    return settings


def check_folder(kind: str, folder: str | Path, sha256: str | None = None, digest: bool = True) -> tuple[Path, str]:
    """``(weights file, its sha256)`` of a teacher folder; a ValueError naming the file when the folder
    holds no safetensors weights (pickled ones are refused), is another model, is damaged, or the sha256
    differs. ``digest=False`` (planning) skips hashing the file: the sha256 returned is empty."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"{folder}: no such folder (the {kind} teacher: a local copy of {PUBLISHED[kind]}, e.g. "
            f"`huggingface-cli download {PUBLISHED[kind]} --local-dir {folder}`; nothing is downloaded at run time)"
        )
    weights = folder / WEIGHTS_FILE
    if not weights.is_file():
        pickles = sorted(p for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            raise ValueError(
                f"{pickles[0]}: pickled weights are not loaded (unpickling runs code from the file); put the "
                f"safetensors file ({WEIGHTS_FILE}) of {PUBLISHED[kind]} in {folder}"
            )
        raise FileNotFoundError(f"{weights}: not found (the {kind} teacher's weights, in safetensors format)")
    config_file = folder / "config.json"
    config = read_json_object(config_file)
    model_type = config.get("model_type")
    if model_type != MODEL_TYPES[kind]:
        want = MODEL_TYPES[kind]
        raise ValueError(f"{config_file}: model_type {model_type!r}, expected {want!r} for the {kind} teacher")
    check_config_sizes(config_file, config, read_header(weights))
    if not (folder / "tokenizer.json").is_file() and not all((folder / f).is_file() for f in _BPE_FILES):
        raise FileNotFoundError(f"{folder}: no tokenizer files (tokenizer.json, or {' and '.join(_BPE_FILES)})")
    _check_tokenizer(folder)
    preprocess_settings(kind, folder)
    if not digest:
        return weights, ""
    found = sha256_file(weights)
    if sha256 and found != sha256.lower():
        raise ValueError(
            f"{weights}: sha256 {found} does not match pseudo_labels.{kind}.sha256 {sha256}; the file is "
            "corrupt or other weights than the ones configured"
        )
    return weights, found
