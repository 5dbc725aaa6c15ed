"""The ``model.pt`` format and the training resume state ``checkpoint.pt``, written and read here only,
through :mod:`avvp_pipeline.torch_files`.

A trained model is one dict: ``model_name``, ``state_dict``, ``train_config``, ``features``,
``feature_configs``, ``classes``, ``summary``, ``avvp_pipeline_version``, ``run_hash``, ``inputs`` (slot
-> ``{"kind", "shape"}``: the feature kind and the (rows, width) of a 10-segment video the network was built
for; a file without it was written before kinds were recorded and reads HAN's three kinds),
``segment_seconds`` (the data set's segment length; the heads are sized from ``classes``: a file without
them reads as LLP's 25 classes and 1-second segments), and for a model imported from elsewhere
(``avvp import model``) ``imported_from``: where its weights came from. Files are
only ever read with ``torch.load(weights_only=True)``: tensors and plain data, never arbitrary
objects, so a crafted file cannot run code. Anything that is not what it should be is refused
with a :class:`CheckpointError` naming the file and the problem.

The resume state (:func:`write_resume`, :func:`read_resume`, :func:`restore_resume`) is a run's
weights, optimiser, schedule, random streams, history and the epoch kept so far, after each epoch.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import __version__
from ..data.llp import CLASSES
from ..features.kinds import DEFAULT_KINDS, SLOTS, check_kinds, default_shapes
from ..torch_files import CheckpointError, plain, read_torch_file, save_torch_file, state_dict_problems
from .options import DEFAULTS, OPTIONS
from .registry import build_model
from .rows import MODELS, keeps_last_epoch

__all__ = [
    "write_model",
    "file_kind",
    "check_model",
    "check_resume",
    "build_checked",
    "load_model",
    "load_resume_checkpoint",
    "MODEL_KIND",
    "RESUME_KIND",
    "TrainedModel",
    "load_trained",
    "features_match",
    "model_inputs",
    "model_classes",
]

log = logging.getLogger(__name__)

MODEL_KIND = "a model.pt written by avvp-pipeline"
RESUME_KIND = "a training checkpoint written by avvp-pipeline"

# key: accepted types (None: the key may be absent or None)
_MODEL_FIELDS = {
    "model_name": (str,),
    "state_dict": (dict,),
    "train_config": (dict,),
    "features": (dict,),
    "summary": (dict,),
    "feature_configs": (dict, None),
    "classes": (list, None),
    "avvp_pipeline_version": (str, None),
    "run_hash": (str, None),
    "imported_from": (dict, None),
    "inputs": (dict, None),
    "segment_seconds": (int, float, None),
}
_RESUME_FIELDS = {
    "run_hash": (str,),
    "epoch": (int,),
    "model": (dict,),
    "optimizer": (dict,),
    "scheduler": (dict,),
    "shuffle_rng": (torch.Tensor,),
    "partner_rng": (torch.Tensor,),
    "torch_rng": (torch.Tensor,),
    "cuda_rng": (torch.Tensor, None),  # absent in checkpoints of CPU runs and of versions before it
    "history": (list,),
    "best": (int, float),
    "best_state": (dict, None),
    "best_epoch": (int,),
}


def write_model(
    path: str | Path,
    *,
    model_name: str,
    state_dict: Mapping,
    train_config: dict,
    features: dict,
    feature_configs: dict | None,
    classes: list[str],
    summary: dict,
    run_hash: str,
    imported_from: dict | None = None,
    inputs: dict | None = None,
    segment_seconds: float = 1.0,
) -> None:
    """Write a trained model as ``model.pt`` (see the module docstring for its keys); ``inputs`` defaults
    to HAN's three kinds with their shapes."""
    if inputs is None:
        inputs = {slot: {"kind": k, "shape": list(default_shapes()[slot])} for slot, k in zip(SLOTS, DEFAULT_KINDS)}
    model_inputs(inputs)  # refuse to write a record that could not be read back
    ckpt = {
        "model_name": model_name,
        "state_dict": dict(state_dict),
        "train_config": plain(train_config),
        "features": plain(features),
        "feature_configs": plain(feature_configs),
        "classes": plain(classes),
        "summary": plain(summary),
        "avvp_pipeline_version": __version__,
        "run_hash": run_hash,
        "inputs": plain(inputs),
        "segment_seconds": float(segment_seconds),
    }
    if imported_from is not None:
        ckpt["imported_from"] = plain(imported_from)
    save_torch_file(ckpt, path)


def model_inputs(record: dict | None) -> tuple[tuple[str, str, str], dict[str, tuple[int, int]]]:
    """``(kinds, shapes)`` of a ``model.pt``'s ``inputs`` record (None: HAN's three kinds and shapes);
    ValueError saying what is wrong with it."""
    if record is None:
        return DEFAULT_KINDS, default_shapes()
    if set(record) != set(SLOTS):
        raise ValueError(f"inputs names the slots {sorted(record)}, expected {', '.join(SLOTS)}")
    kinds, shapes = [], {}
    for slot in SLOTS:
        entry = record[slot]
        shape = entry.get("shape") if isinstance(entry, dict) else None
        if (
            not isinstance(shape, (list, tuple))
            or len(shape) != 2
            or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)
        ):
            raise ValueError(f"inputs.{slot} is {entry!r}: expected {{'kind': NAME, 'shape': [rows, width]}}")
        kinds.append(entry.get("kind"))
        shapes[slot] = (shape[0], shape[1])
    return check_kinds(kinds), shapes


def model_classes(ckpt: dict) -> tuple[str, ...]:
    """The classes a ``model.pt`` predicts, in output order (a file without them, or with an empty list as
    files written before they sized the heads may hold: LLP's 25)."""
    classes = ckpt.get("classes")
    return tuple(str(c) for c in classes) if classes else CLASSES


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
        raise CheckpointError(
            f"{path}: a training checkpoint (resume state), not a finished model; "
            "use results/runs/NAME/model.pt, written when training ends"
        )
    if kind == "state_dict":
        raise CheckpointError(
            f"{path}: bare weights (a state dict), not {MODEL_KIND}: it does not say which "
            "model they are for; use results/runs/NAME/model.pt"
        )
    _check_fields(path, obj, _MODEL_FIELDS, MODEL_KIND)
    bad = next(
        (k for k, v in obj["state_dict"].items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)), None
    )
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
        kinds, shapes = model_inputs(ckpt.get("inputs"))
    except ValueError as exc:
        raise CheckpointError(f"{path}: its input record cannot be read: {exc}") from None
    classes = model_classes(ckpt)
    try:
        model = build_model(name, ckpt["train_config"], shapes, len(classes)).to(device)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: cannot build model {name!r} from the file's train_config: {exc}") from None
    problems = state_dict_problems(model.state_dict(), ckpt["state_dict"])
    if problems:
        raise CheckpointError(f"{path}: the weights in the file do not fit model {name!r} ({problems})")
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(
            f"{path}: the weights in the file do not fit model {name!r} ({str(exc).strip().splitlines()[-1].strip()})"
        ) from None
    return model


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild a trained model from ``model.pt``; return ``(model in eval mode, checkpoint dict)``."""
    ckpt = check_model(path, read_torch_file(path, map_location=device, kind=MODEL_KIND))
    return build_checked(path, ckpt, device).eval(), ckpt


def load_resume_checkpoint(path: str | Path) -> dict:
    """The resume state in a training ``checkpoint.pt`` (on the CPU, where RNG states must be); a
    :class:`CheckpointError` if it is unsafe or damaged."""
    return check_resume(path, read_torch_file(path, kind=RESUME_KIND))


def resume_path(run_dir: str | Path) -> Path:
    """Where a run in ``run_dir`` keeps its resume state."""
    return Path(run_dir) / "checkpoint.pt"


def _cuda_rng(model: torch.nn.Module) -> torch.Tensor | None:
    """The random stream of the GPU ``model`` is on (its dropout draws from it), or None on a CPU."""
    device = next(model.parameters()).device
    return torch.cuda.get_rng_state(device) if device.type == "cuda" else None


def write_resume(
    path: str | Path,
    *,
    run_hash: str,
    epoch: int,
    model: torch.nn.Module,
    optimizer,
    scheduler,
    shuffle: torch.Generator,
    partner_rng: torch.Generator,
    history: list,
    best: float,
    best_state: dict | None,
    best_epoch: int,
) -> None:
    """Write the resume state of a run after ``epoch`` (with the process's random streams).

    Its layout is the same every epoch, so it is read back to prove it loads with weights_only only when
    none exists yet: a read-back of model and optimizer state every epoch would cost a large share of a
    fast GPU epoch."""
    state = {
        "run_hash": run_hash,
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "shuffle_rng": shuffle.get_state(),
        "partner_rng": partner_rng.get_state(),
        "torch_rng": torch.get_rng_state(),
        "cuda_rng": _cuda_rng(model),
        "history": history,
        "best": best,
        "best_state": best_state,
        "best_epoch": best_epoch,
    }
    save_torch_file(state, path, verify=not Path(path).exists())


def read_resume(path: str | Path, run_hash: str) -> dict | None:
    """The resume state of the run ``run_hash`` in ``path``, or None: absent, made with other options, or
    unusable (a damaged or unsafe scratch file is not worth failing a run for: it is ignored with a warning)."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        state = load_resume_checkpoint(path)
    except CheckpointError as exc:
        log.warning("ignoring %s, training from scratch: %s", path, exc)
        return None
    if state["run_hash"] != run_hash:
        log.info("ignoring %s: made with other options", path)
        return None
    return state


@dataclass
class Resumed:
    """What a resumed run carries on from: the last epoch done, its history and the epoch kept so far."""

    epoch: int
    history: list
    best: float
    best_state: dict | None
    best_epoch: int


def restore_resume(state: dict, model: torch.nn.Module, optimizer, scheduler, shuffle, partner_rng) -> Resumed:
    """Load a :func:`read_resume` state into the run's objects and the random streams; raises what
    ``load_state_dict`` raises when it does not fit them."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    shuffle.set_state(state["shuffle_rng"])
    partner_rng.set_state(state["partner_rng"])
    torch.set_rng_state(state["torch_rng"])
    device = next(model.parameters()).device
    if device.type == "cuda" and state.get("cuda_rng") is not None:  # dropout on a GPU draws from the GPU's stream
        torch.cuda.set_rng_state(state["cuda_rng"], device)
    return Resumed(state["epoch"], state["history"], state["best"], state["best_state"], state["best_epoch"])


def features_match(trained: dict, given: dict) -> bool:
    """Whether shards whose provenance is ``given`` hold the features a model trained on ``trained`` expects.

    Exactly equal provenance, except for an extractor whose ``trained`` entry says ``source: released``
    and records no ``config_hash`` (a model trained elsewhere on the released LLP features, e.g.
    ``avvp import model han-official``): any import of the release fits it, so only ``weights_id``
    (``released:<folder>``) is compared; the config hash and code version of an import say where and
    when it was imported, not what the features are.
    """
    if set(trained) != set(given):
        return False
    for name, t in trained.items():
        g = given[name]
        released = isinstance(t, dict) and t.get("source") == "released" and "config_hash" not in t
        if released and not (isinstance(g, dict) and g.get("weights_id") == t.get("weights_id")):
            return False
        if not released and g != t:
            return False
    return True


@dataclass
class TrainedModel:
    """A ``model.pt`` read back: the network (eval mode) and what the file records about it."""

    path: Path
    net: torch.nn.Module
    name: str
    train_config: dict
    features: dict  # provenance of the training features, per extractor
    feature_configs: dict | None  # extraction config per extractor (None for models trained elsewhere)
    summary: dict
    imported_from: dict | None = None
    inputs: dict | None = None  # slot -> {"kind", "shape"}; None: written before kinds were recorded
    classes: tuple[str, ...] = CLASSES  # in output order
    segment_seconds: float = 1.0

    @property
    def kinds(self) -> tuple[str, str, str]:
        """The feature kind of each input slot (audio, 2D visual, 3D visual)."""
        return model_inputs(self.inputs)[0]

    @property
    def gate(self) -> str:
        """The gate the model is scored with by default (its recipe's)."""
        return self.train_config.get("gate", DEFAULTS["gate"])

    @property
    def seed(self) -> int | None:
        return self.train_config.get("seed")

    @property
    def select_on(self) -> str | None:
        """The split its epoch was selected on, or None when it kept its last epoch."""
        if keeps_last_epoch(self.name, self.train_config.get("select", DEFAULTS["select"])):
            return None
        return self.summary.get("select_on", self.train_config.get("select_on", DEFAULTS["select_on"]))

    def require_features(self, provenance: dict, what: str) -> None:
        """A ValueError unless shards with ``provenance`` hold the features this model was trained on."""
        if not features_match(self.features, provenance):
            raise ValueError(
                f"{self.path}: trained on features {self.features}, but the {what} features were "
                f"made by {provenance}; re-extract or retrain"
            )

    def extraction_mismatches(self, now: dict[str, dict]) -> list[str]:
        """How features extracted ``now`` (extractor -> weights_id / weights_sha256 / config_hash) would
        differ from the training features; empty when they would be the same."""
        problems = []
        for name, mine in now.items():
            recorded = self.features.get(name, {})
            for key, value in mine.items():
                if str(value) != str(recorded.get(key)):
                    problems.append(f"{name} {key}: model trained with {recorded.get(key)!r}, here {value!r}")
        return problems


def load_trained(path: str | Path, device: torch.device | str = "cpu") -> TrainedModel:
    """Rebuild a trained model from ``model.pt``: a :class:`TrainedModel`; :class:`CheckpointError` when
    the file is not one."""
    net, ckpt = load_model(path, device)
    gate = ckpt["train_config"].get("gate", DEFAULTS["gate"])
    gates = OPTIONS["gate"].choices
    if gate not in gates:  # checked here, before a caller reads any video or shard with it
        raise CheckpointError(
            f"{path}: its train_config has gate {gate!r}; a model is scored with one of {', '.join(gates)}"
        )
    return TrainedModel(
        Path(path),
        net,
        ckpt["model_name"],
        ckpt["train_config"],
        ckpt["features"],
        ckpt.get("feature_configs"),
        ckpt["summary"],
        ckpt.get("imported_from"),
        ckpt.get("inputs"),
        model_classes(ckpt),
        float(ckpt.get("segment_seconds") or 1.0),
    )
