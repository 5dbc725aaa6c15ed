"""The ``model.pt`` format (and the training resume state), read only through :mod:`avvp_pipeline.torch_files`.

A trained model is one dict: ``model_name``, ``state_dict``, ``train_config``, ``features``,
``feature_configs``, ``classes``, ``summary``, ``avvp_pipeline_version``, ``run_hash``, and for a model
imported from elsewhere (``avvp import-model``) ``imported_from``: where its weights came from. Files are
only ever read with ``torch.load(weights_only=True)``: tensors and plain data, never arbitrary
objects, so a crafted file cannot run code. Anything that is not what it should be is refused
with a :class:`CheckpointError` naming the file and the problem.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from .. import __version__
from ..torch_files import CheckpointError, plain, read_torch_file, save_torch_file, state_dict_problems
from .registry import MODELS, build_model

__all__ = ["CheckpointError", "plain", "read_torch_file", "save_torch_file", "state_dict_problems", "write_model",
           "file_kind", "check_model", "check_resume", "build_checked", "load_model", "load_resume_checkpoint",
           "MODEL_KIND", "RESUME_KIND"]

MODEL_KIND = "a model.pt written by avvp-pipeline"
RESUME_KIND = "a training checkpoint written by avvp-pipeline"

# key: accepted types (None: the key may be absent or None)
_MODEL_FIELDS = {"model_name": (str,), "state_dict": (dict,), "train_config": (dict,), "features": (dict,),
                 "summary": (dict,), "feature_configs": (dict, None), "classes": (list, None),
                 "avvp_pipeline_version": (str, None), "run_hash": (str, None), "imported_from": (dict, None)}
_RESUME_FIELDS = {"run_hash": (str,), "epoch": (int,), "model": (dict,), "optimizer": (dict,), "scheduler": (dict,),
                  "shuffle_rng": (torch.Tensor,), "partner_rng": (torch.Tensor,), "torch_rng": (torch.Tensor,),
                  "history": (list,), "best": (int, float), "best_state": (dict, None), "best_epoch": (int,)}


def write_model(path: str | Path, *, model_name: str, state_dict: Mapping, train_config: dict, features: dict,
                feature_configs: dict | None, classes: list[str], summary: dict, run_hash: str,
                imported_from: dict | None = None) -> None:
    """Write a trained model as ``model.pt`` (see the module docstring for its keys)."""
    ckpt = {
        "model_name": model_name, "state_dict": dict(state_dict), "train_config": plain(train_config),
        "features": plain(features), "feature_configs": plain(feature_configs), "classes": plain(classes),
        "summary": plain(summary), "avvp_pipeline_version": __version__, "run_hash": run_hash,
    }
    if imported_from is not None:
        ckpt["imported_from"] = plain(imported_from)
    save_torch_file(ckpt, path)


def file_kind(obj) -> str:
    """What a loaded torch file holds: ``model``, ``resume``, ``state_dict`` or ``other``."""
    if not isinstance(obj, dict):
        return "other"
    if "model_name" in obj:
        return "model"
    if {"run_hash", "epoch", "optimizer"} <= set(obj):
        return "resume"
    if obj and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        return "state_dict"
    return "other"


def _check_fields(path: Path, obj, fields: dict, kind: str) -> None:
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: not {kind}: it holds a {type(obj).__name__}, not a dict")
    missing = [k for k, types in fields.items() if None not in types and k not in obj]
    if missing:
        raise CheckpointError(f"{path}: not {kind}: missing {', '.join(repr(k) for k in missing)}")
    for key, types in fields.items():
        value = obj.get(key)
        if value is None and None in types:
            continue
        ok = tuple(t for t in types if t is not None)
        if not isinstance(value, ok) or (isinstance(value, bool) and bool not in ok):
            names = " or ".join("null" if t is None else t.__name__ for t in types)
            raise CheckpointError(f"{path}: not {kind}: its {key!r} is a {type(value).__name__}, expected {names}")


def check_model(path: str | Path, obj) -> dict:
    """``obj`` (a loaded ``model.pt``) if it has every field with the right type; else a :class:`CheckpointError`."""
    path = Path(path)
    kind = file_kind(obj)
    if kind == "resume":
        raise CheckpointError(f"{path}: a training checkpoint (resume state), not a finished model; "
                              "use runs/NAME/model.pt, written when training ends")
    if kind == "state_dict":
        raise CheckpointError(f"{path}: bare weights (a state dict), not {MODEL_KIND}: it does not say which "
                              "model they are for; use runs/NAME/model.pt")
    _check_fields(path, obj, _MODEL_FIELDS, MODEL_KIND)
    bad = next((k for k, v in obj["state_dict"].items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)),
               None)
    if bad is not None:
        raise CheckpointError(f"{path}: not {MODEL_KIND}: its state_dict entry {bad!r} is not a named tensor")
    return obj


def check_resume(path: str | Path, obj) -> dict:
    """``obj`` (a loaded ``checkpoint.pt``) if it has every field of the resume state; else a
    :class:`CheckpointError`."""
    _check_fields(Path(path), obj, _RESUME_FIELDS, RESUME_KIND)
    return obj


def build_checked(path: str | Path, ckpt: dict, device: torch.device | str = "cpu") -> torch.nn.Module:
    """The network ``ckpt`` describes, on ``device`` with its weights loaded; a :class:`CheckpointError` if it
    cannot be built or the weights do not fit."""
    name = ckpt["model_name"]
    if name not in MODELS:
        raise CheckpointError(f"{path}: unknown model {name!r} in the file (known: {', '.join(MODELS)})")
    try:
        model = build_model(name, ckpt["train_config"]).to(device)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: cannot build model {name!r} from the file's train_config: {exc}") from None
    problems = state_dict_problems(model.state_dict(), ckpt["state_dict"])
    if problems:
        raise CheckpointError(f"{path}: the weights in the file do not fit model {name!r} ({problems})")
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: the weights in the file do not fit model {name!r} "
                              f"({str(exc).strip().splitlines()[-1].strip()})") from None
    return model


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild a trained model from ``model.pt``; return ``(model in eval mode, checkpoint dict)``."""
    ckpt = check_model(path, read_torch_file(path, map_location=device, kind=MODEL_KIND))
    return build_checked(path, ckpt, device).eval(), ckpt


def load_resume_checkpoint(path: str | Path) -> dict:
    """The resume state in a training ``checkpoint.pt`` (on the CPU, where RNG states must be); a
    :class:`CheckpointError` if it is unsafe or damaged."""
    return check_resume(path, read_torch_file(path, kind=RESUME_KIND))
