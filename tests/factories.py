"""Shared builders of test inputs (import them: ``from factories import random_feature_set``)."""

from __future__ import annotations

import numpy as np
import torch

from avvp_pipeline.data.feature_sets import FeatureSet
from avvp_pipeline.features.kinds import DEFAULT_KINDS, default_shapes


def random_feature_set(
    n: int = 8,
    split: str = "train",
    seed: int = 0,
    label_rate: float = 0.2,
    ids: list[str] | None = None,
    kinds: tuple[str, str, str] = DEFAULT_KINDS,
    shapes: dict[str, tuple[int, int]] | None = None,
) -> FeatureSet:
    """``n`` videos of seeded random features of ``kinds`` (default LLP's: audio (n,10,128), frames
    (n,80,2048), clips (n,10,512); ``shapes`` replaces a slot's (rows, width)), random weak labels at
    ``label_rate`` and all-zero dense truth."""
    shapes = {**default_shapes(kinds), **(shapes or {})}
    g = torch.Generator().manual_seed(seed)
    labels = (torch.rand(n, 25, generator=g) < label_rate).float()
    ids = ids or [f"v{i}" for i in range(n)]
    return FeatureSet(
        split,
        [],
        ids,
        *(torch.randn(n, *shape, generator=g) for shape in shapes.values()),
        labels,
        np.zeros((n, 25, 10), np.uint8),
        np.zeros((n, 25, 10), np.uint8),
        kinds=kinds,
    )


def write_lfav_release(root, lengths: dict[str, int], seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """A folder in LFAV's released-features layout (``audio-feat-vggish-align/`` etc., one ``<id>.npy`` of
    ``(seconds, width)`` float32 per video, ``lengths``: id -> seconds); returns ``{kind: {id: array}}``."""
    from pathlib import Path

    from avvp_pipeline.features.kinds import KINDS, LFAV_KINDS

    rng = np.random.default_rng(seed)
    arrays: dict[str, dict[str, np.ndarray]] = {}
    for name in LFAV_KINDS:
        folder = Path(root) / KINDS[name].lfav_folder
        folder.mkdir(parents=True, exist_ok=True)
        arrays[name] = {}
        for vid, seconds in lengths.items():
            a = arrays[name][vid] = rng.random((seconds, KINDS[name].width), dtype=np.float32)
            np.save(folder / f"{vid}.npy", a)
    return arrays


def embeddings_file(path, seed: int = 0, classes: int = 25):
    """A generated class-embedding file in LEAP's release layout (``classes`` names to seeded 300-wide
    vectors); returns ``path``."""
    g = torch.Generator().manual_seed(seed)
    torch.save({f"class {i}": torch.randn(300, generator=g) for i in range(classes)}, path)
    return path
