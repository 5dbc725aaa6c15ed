"""The random streams of a synthetic set: each is derived from the spec's seed, a purpose tag and,
for a clip's streams, a key made from the clip's filename, so no stream depends on another's draws."""

from __future__ import annotations

import hashlib

import numpy as np

# Tags that separate the random streams derived from one seed.
NAMES, PLAN, VIDEO, AUDIO, LENGTH = 0x4E41, 0x504C, 0x5649, 0x4155, 0x4C45


def clip_key(filename: str) -> list[int]:
    """Four 32-bit words of the SHA-256 of a clip's filename (the per-clip part of its streams)."""
    digest = hashlib.sha256(filename.encode("utf-8")).digest()
    return [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]


def stream(seed: int, tag: int, *key: int) -> np.random.Generator:
    """The random stream of ``seed`` for purpose ``tag`` (and ``key``)."""
    return np.random.default_rng(np.random.SeedSequence([seed, tag, *key]))
