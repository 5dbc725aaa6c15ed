"""A teacher's local folder (``transformers``' layout) checked before anything is loaded (torch-free, so
that workflow planning can run it): safetensors weights present, no pickles read, the right model type,
the weights' sha256 when the config gives one."""

from __future__ import annotations

import json
from pathlib import Path

from ..fileio import sha256_file

WEIGHTS_FILE = "model.safetensors"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
#: the published checkpoints VALOR used, for messages
PUBLISHED = {"clip": "openai/clip-vit-large-patch14", "clap": "laion/clap-htsat-fused"}
MODEL_TYPES = {"clip": "clip", "clap": "clap"}
_BPE_FILES = ("vocab.json", "merges.txt")


def check_folder(kind: str, folder: str | Path, sha256: str | None = None, digest: bool = True) -> tuple[Path, str]:
    """``(weights file, its sha256)`` of a teacher folder; a ValueError naming the file when the folder
    holds no safetensors weights (pickled ones are refused), is another model, or the sha256 differs.
    ``digest=False`` (planning) skips hashing the file: the sha256 returned is empty."""
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
    config = folder / "config.json"
    try:
        model_type = json.loads(config.read_text()).get("model_type")
    except (OSError, ValueError) as exc:
        raise ValueError(f"{config}: cannot be read as a transformers config ({exc})") from None
    if model_type != MODEL_TYPES[kind]:
        raise ValueError(f"{config}: model_type {model_type!r}, expected {MODEL_TYPES[kind]!r} for the {kind} teacher")
    if not (folder / "tokenizer.json").is_file() and not all((folder / f).is_file() for f in _BPE_FILES):
        raise FileNotFoundError(f"{folder}: no tokenizer files (tokenizer.json, or {' and '.join(_BPE_FILES)})")
    if kind == "clap" and not (folder / "preprocessor_config.json").is_file():
        raise FileNotFoundError(f"{folder / 'preprocessor_config.json'}: not found (CLAP's audio front-end settings)")
    if not digest:
        return weights, ""
    found = sha256_file(weights)
    if sha256 and found != sha256.lower():
        raise ValueError(
            f"{weights}: sha256 {found} does not match pseudo_labels.{kind}.sha256 {sha256}; the file is "
            "corrupt or other weights than the ones configured"
        )
    return weights, found
