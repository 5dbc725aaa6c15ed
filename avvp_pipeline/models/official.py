"""The HAN authors' released model (``MMIL_Net.pt``, a state dict of their ``MMIL_Net``) as a ``model.pt``.

The released network and this project's HAN compute the same function with the same weights; only
the key names differ. The release's module also builds submodules its forward pass never runs (two
Transformer encoders, a cross-modal Transformer and the HAN encoder's own final LayerNorms, which are
off): their keys are accepted, ignored and listed in the provenance. Every key our HAN needs must be in
the file with the right shape, and no other key may be, else :class:`OfficialModelError`.

The released model was trained on the released LLP features, so the ``model.pt`` says so
(``source: released`` per extractor): it evaluates on shards imported from those features and cannot
parse new videos (their extraction is not reproducible here).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import torch

from ..data.llp import CLASSES
from ..fileio import sha256_file
from ..torch_files import CheckpointError, read_torch_file
from .checkpoint import write_model
from .registry import build_model
from .rows import full_options

SOURCE = "official HAN release"
MODEL_NAME = "han"  # evaluated and gated with HAN's recipe
FILE_KIND = "the HAN authors' MMIL_Net.pt (a state dict of their MMIL_Net)"

# our key prefix -> the release's, for the modules the forward pass uses
_PREFIXES = (("inputs.", ""), ("mmil.", ""), ("encoder.layers.", "hat_encoder.layers."))
# submodules the release builds but never runs (HAN's Encoder applies norm1/norm2 only when given a norm)
UNUSED_PREFIXES = ("audio_encoder.", "visual_encoder.", "cmt_encoder.", "hat_encoder.norm1.", "hat_encoder.norm2.")

# the released LLP feature folders, as shards imported from them record their weights
RELEASED_WEIGHTS_ID = {
    "vggish": "released:vggish",
    "resnet152": "released:res152",
    "r2plus1d_18": "released:r2plus1d_18",
}
RELEASED_FEATURES_NOTE = "the HAN authors' LLP feature release"


class OfficialModelError(CheckpointError):
    """A file that is not the released MMIL_Net state dict; the message names the file and the key."""


def official_key(ours: str) -> str:
    """The release's name of our HAN state-dict key ``ours``."""
    for mine, theirs in _PREFIXES:
        if ours.startswith(mine):
            return theirs + ours[len(mine) :]
    raise KeyError(f"no official name for HAN key {ours!r}")


def _shape(t: torch.Tensor) -> str:
    return "x".join(map(str, t.shape)) or "scalar"


def map_state_dict(path: str | Path, official: object, expected: Mapping[str, torch.Tensor]) -> tuple[dict, list[str]]:
    """``(our state dict, ignored keys)`` from the release's state dict ``official``; ``expected`` is our
    HAN's ``state_dict()`` (names, shapes, dtype). :class:`OfficialModelError` on any mismatch."""
    if not isinstance(official, dict) or not all(isinstance(k, str) for k in official):
        raise OfficialModelError(f"{path}: not {FILE_KIND}: it holds a {type(official).__name__}")
    if "model_name" in official and "state_dict" in official:
        raise OfficialModelError(f"{path}: a model.pt written by avvp-pipeline, not {FILE_KIND}; use it as it is")
    names = {official_key(k): k for k in expected}
    ignored = sorted(k for k in official if k not in names and k.startswith(UNUSED_PREFIXES))
    unexpected = [k for k in official if k not in names and k not in ignored]
    if unexpected:
        raise OfficialModelError(f"{path}: not {FILE_KIND}: unexpected key {unexpected[0]!r}{_more(unexpected)}")
    missing = [k for k in names if k not in official]
    if missing:
        raise OfficialModelError(
            f"{path}: not {FILE_KIND}: missing key {missing[0]!r} (HAN's {names[missing[0]]}){_more(missing)}"
        )
    return {ours: _checked(path, theirs, official[theirs], expected[ours]) for theirs, ours in names.items()}, ignored


def _more(keys: list[str]) -> str:
    return f" and {len(keys) - 1} more" if len(keys) > 1 else ""


def _checked(path, key: str, value, like: torch.Tensor) -> torch.Tensor:
    """``value`` as a tensor shaped and typed like ``like``, if it is a finite float tensor of that shape."""
    if not isinstance(value, torch.Tensor):
        raise OfficialModelError(f"{path}: key {key!r} holds a {type(value).__name__}, not a tensor")
    if value.shape != like.shape:
        raise OfficialModelError(f"{path}: key {key!r} has shape {_shape(value)}, HAN needs {_shape(like)}")
    if not value.is_floating_point():
        raise OfficialModelError(f"{path}: key {key!r} is a {value.dtype} tensor, not floating point")
    if not torch.isfinite(value).all():
        raise OfficialModelError(f"{path}: key {key!r} holds NaN or infinite values")
    return value.detach().to(like.dtype).contiguous().clone()


def released_features() -> tuple[dict, dict]:
    """``(features, feature_configs)`` of a model trained on the released LLP features.

    ``features`` carries no ``config_hash``: evaluation compares only the ``weights_id`` of such
    entries (:func:`avvp_pipeline.models.checkpoint.features_match`), so any import of the released
    features fits. ``feature_configs`` makes `avvp parse` refuse the model with its reason.
    """
    features = {
        name: {"source": "released", "weights_id": wid, "weights_sha256": "unknown (not in the release)"}
        for name, wid in RELEASED_WEIGHTS_ID.items()
    }
    configs = {name: {"source": "released", "released_dir": RELEASED_FEATURES_NOTE} for name in RELEASED_WEIGHTS_ID}
    return features, configs


def han_train_config() -> dict:
    """HAN's recipe as a full training config, as a trained ``han`` records it."""
    return full_options(MODEL_NAME)


def check_official_han(path: str | Path) -> list[str]:
    """Check the released ``MMIL_Net.pt`` at ``path`` as the import does (:class:`OfficialModelError` naming
    the file and the key); return the keys it would ignore."""
    official = read_torch_file(Path(path), kind=FILE_KIND)
    return map_state_dict(path, official, build_model(MODEL_NAME, han_train_config()).state_dict())[1]


def import_official_han(path: str | Path, out: str | Path) -> dict:
    """Write the released ``MMIL_Net.pt`` at ``path`` as our ``model.pt`` at ``out``; return its provenance."""
    path = Path(path)
    official = read_torch_file(path, kind=FILE_KIND)
    sha256 = sha256_file(path)
    cfg = han_train_config()
    model = build_model(MODEL_NAME, cfg)
    state, ignored = map_state_dict(path, official, model.state_dict())
    model.load_state_dict(state)  # strict: every key, nothing else
    imported = {"source": SOURCE, "file": str(path.resolve()), "sha256": sha256, "ignored_keys": ignored}
    features, configs = released_features()
    summary = {"model": MODEL_NAME, "selected_epoch": None, "imported_from": SOURCE}
    write_model(
        out,
        model_name=MODEL_NAME,
        state_dict=model.state_dict(),
        train_config=cfg,
        features=features,
        feature_configs=configs,
        classes=list(CLASSES),
        summary=summary,
        run_hash=hashlib.sha256(f"han-official {sha256}".encode()).hexdigest()[:16],
        imported_from=imported,
    )
    return imported
