"""Resolve extractor weights: seeded random, or real files (``weights_dir`` / torch's checkpoint cache).

A published file found in neither is fetched from its official source into torch's cache (checked
against the sha256 prefix in its name) unless offline mode is on (``fetch/http.py``). Every resolved
weight records an id and the sha256 of its file so shards can say exactly which weights made them;
random weights say ``random(seed=N)``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision

from ..fetch import http
from ..fileio import sha256_file
from ..torch_files import read_torch_file, state_dict_problems

_TV_WEIGHTS = {
    "resnet152": torchvision.models.ResNet152_Weights.IMAGENET1K_V1,
    "r2plus1d_18": torchvision.models.video.R2Plus1D_18_Weights.KINETICS400_V1,
}
# (weights id, published file name); torchvision's names come from its weight enums and carry the
# first hex digits of the file's sha256
WEIGHT_FILES = {
    **{name: (f"torchvision.{type(w).__name__}.{w.name}", os.path.basename(w.url)) for name, w in _TV_WEIGHTS.items()},
    "vggish": ("harritaylor/torchvggish AudioSet VGGish", "vggish-10086976.pth"),
    "vggish_pca": ("harritaylor/torchvggish AudioSet VGGish PCA parameters", "vggish_pca_params-970ea276.pth"),
}
# where each published file is fetched from: (base URL name in fetch/http.py, path under it)
WEIGHT_SOURCES = {
    **{name: ("pytorch", os.path.basename(w.url)) for name, w in _TV_WEIGHTS.items()},
    "vggish": ("github", "harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth"),
    "vggish_pca": ("github", "harritaylor/torchvggish/releases/download/v0.1/vggish_pca_params-970ea276.pth"),
}
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,})\.pth$")
_SEED_OFFSET = {"resnet152": 0, "r2plus1d_18": 1, "vggish": 2, "vggish_pca": 3}


@dataclass(frozen=True)
class ResolvedWeights:
    """Where an extractor's weights come from: ``state_dict`` is None for random init."""

    extractor: str
    weights_id: str
    sha256: str
    path: str | None
    state_dict: dict | None
    seed: int | None

    @property
    def is_random(self) -> bool:
        return self.state_dict is None

    def attrs(self) -> dict[str, str]:
        return {"weights_id": self.weights_id, "weights_sha256": self.sha256, "weights_path": self.path or ""}

    def load_into(self, model: torch.nn.Module, state: dict | None = None) -> torch.nn.Module:
        """Load these weights (or ``state``, a filtered copy) into ``model``; a ValueError naming the file
        and the first mismatching keys if they are for another architecture."""
        state = self.state_dict if state is None else state
        problems = state_dict_problems(model.state_dict(), state)
        if problems:
            raise ValueError(
                f"{self.path}: these weights do not fit the {self.extractor} extractor ({problems}); "
                f"use the published {WEIGHT_FILES[self.extractor][1]} or weights of the same architecture"
            )
        model.load_state_dict(state)
        return model

    def tensors(self, *keys: str) -> list[torch.Tensor]:
        """The tensors called ``keys``; a ValueError naming the file if one is missing."""
        missing = [k for k in keys if not isinstance(self.state_dict.get(k), torch.Tensor)]
        if missing:
            raise ValueError(f"{self.path}: these are not {self.extractor} weights: no tensor {', '.join(missing)}")
        return [self.state_dict[k] for k in keys]


def candidate_paths(extractor: str, weights_dir: str | Path | None) -> list[Path]:
    """Places searched for an extractor's weight file, in order: ``weights_dir`` (published
    name, then ``<extractor>.pth`` for a file of your own), then torch's checkpoint cache."""
    _, filename = WEIGHT_FILES[extractor]
    paths = []
    if weights_dir:
        paths += [Path(weights_dir) / filename, Path(weights_dir) / f"{extractor}.pth"]
    paths.append(cache_dir() / filename)
    return paths


def cache_dir() -> Path:
    """torch's checkpoint cache (``$TORCH_HOME/hub/checkpoints``), where fetched weights go."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def fetch_published(
    extractor: str, dest_dir: str | Path | None = None, *, offline: bool | None = None, progress: bool = True
) -> Path:
    """Fetch the published weight file of ``extractor`` into ``dest_dir`` (default: :func:`cache_dir`),
    checked against the sha256 prefix in its name; a file already there that passes is kept."""
    base, path = WEIGHT_SOURCES[extractor]
    filename = WEIGHT_FILES[extractor][1]
    expect = http.Expect(sha256_prefix=_HASH_IN_NAME.search(filename).group(1))
    return http.download(
        http.url(base, path), Path(dest_dir or cache_dir()) / filename, expect, offline=offline, progress=progress
    )


def resolve(
    extractor: str,
    weights: str,
    *,
    weights_dir: str | Path | None = None,
    seed: int = 0,
    offline: bool | None = None,
) -> ResolvedWeights:
    """Resolve ``weights`` (``random`` or ``pretrained``) for one extractor; pretrained weights found
    nowhere are fetched unless offline mode is on (``offline``, else ``$AVVP_OFFLINE``)."""
    if extractor not in WEIGHT_FILES:
        raise ValueError(f"unknown extractor {extractor!r}; known: {sorted(WEIGHT_FILES)}")
    if weights == "random":
        s = seed + _SEED_OFFSET[extractor]
        return ResolvedWeights(extractor, f"random(seed={s})", "random", None, None, s)
    if weights != "pretrained":
        raise ValueError(f"weights must be 'random' or 'pretrained', got {weights!r}")
    for path in candidate_paths(extractor, weights_dir):
        if path.is_file():
            return _load(extractor, path)
    filename = WEIGHT_FILES[extractor][1]
    if http.is_offline(offline):
        searched = ", ".join(str(p) for p in candidate_paths(extractor, weights_dir))
        raise FileNotFoundError(
            f"{extractor}: pretrained weights {filename} not found (searched {searched}) and offline mode is on "
            f"({http.OFFLINE_ENV}), so nothing is downloaded: put the published file in `weights_dir` or run "
            "`avvp fetch weights --out DIR` where there is a network (see docs/reproduction.md, 'Running on the "
            "real LLP data', step 3)."
        )
    return _load(extractor, fetch_published(extractor, offline=offline))


def _load(extractor: str, path: Path) -> ResolvedWeights:
    """The weights in the file at ``path``, checked against the hash prefix of a published name."""
    weights_id, filename = WEIGHT_FILES[extractor]
    digest = sha256_file(path)
    m = _HASH_IN_NAME.search(path.name)
    if m and not digest.startswith(m.group(1)):
        raise ValueError(
            f"{path}: sha256 {digest[:12]}... does not match the prefix {m.group(1)} in its published "
            "name; the file is corrupt or not the published weights"
        )
    state = read_torch_file(path, kind=f"a {extractor} weight file (a state dict of tensors)")
    if not isinstance(state, dict) or not state:
        held = "an empty dict" if isinstance(state, dict) else f"a {type(state).__name__}"
        raise ValueError(f"{path}: not {extractor} weights: it holds {held}, not a state dict of tensors")
    wid = weights_id if path.name == filename else f"file:{path.name}"
    return ResolvedWeights(extractor, wid, digest, str(path), state, None)
