"""The feature kinds a model can read: one table, no torch (the workflow plans with it).

A kind is one feature shard folder, ``results/features/<name>/shard-K.h5``. Each fills one of a
model's three input slots: ``audio``, ``visual_2d`` (per-frame image features) or ``visual_3d``
(per-second clip features). The shape is what one video's features hold, ``(rows, width)``; the
release folder is where a released copy sits below ``features.released_dir``. Only the kinds
marked ``extractable`` can be computed from raw video here; the others are imported.

A row reads three kinds, one per slot (``rows.ModelSpec.features``); a model records the kinds and
the shapes it was built for in its ``model.pt``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The three input slots of every model, in the order the networks take them.
SLOTS = ("audio", "visual_2d", "visual_3d")
#: One second of features per segment: every slot is brought to this many rows.
SEGMENTS = 10


@dataclass(frozen=True)
class FeatureKind:
    """One kind of feature shard."""

    name: str
    shape: tuple[int, int]  # (rows, width) per video
    slot: str  # one of SLOTS
    release_folder: str  # below features.released_dir
    extractable: bool  # computed from raw video by `avvp extract`
    description: str


KINDS: dict[str, FeatureKind] = {
    k.name: k
    for k in (
        FeatureKind("vggish", (10, 128), "audio", "vggish", True, "VGGish embedding, one per second"),
        FeatureKind("resnet152", (80, 2048), "visual_2d", "res152", True, "ResNet-152 pooled frames, 8 per second"),
        FeatureKind("r2plus1d_18", (10, 512), "visual_3d", "r2plus1d_18", True, "R(2+1)D-18 clip features, per second"),
        FeatureKind(
            "clip_vitl14",
            (10, 768),
            "visual_2d",
            "CLIP/features",
            False,
            "CLIP ViT-L/14 image embeddings (L2-normalised), one frame per second",
        ),
        FeatureKind(
            "clap_htsat",
            (64, 768),
            "audio",
            "CLAP/features",
            False,
            "CLAP HTS-AT (fusion) feature map of the clip, 2 x 32 positions",
        ),
    )
}

#: The kinds HAN and the rows built on it read (the LLP release's three); models written before kinds
#: were recorded read these.
DEFAULT_KINDS = ("vggish", "resnet152", "r2plus1d_18")
#: The kinds `avvp extract` computes from raw video.
EXTRACTABLE = tuple(name for name, k in KINDS.items() if k.extractable)


def kind(name: str) -> FeatureKind:
    """The kind called ``name``; ValueError naming the known ones."""
    if name not in KINDS:
        raise ValueError(f"unknown feature kind {name!r}; known: {', '.join(KINDS)}")
    return KINDS[name]


def check_kinds(kinds: tuple[str, ...] | list[str]) -> tuple[str, str, str]:
    """``kinds`` as a tuple if it names one known kind per slot, in :data:`SLOTS` order; else ValueError."""
    kinds = tuple(kinds)
    if len(kinds) != len(SLOTS):
        raise ValueError(f"expected one feature kind per slot ({', '.join(SLOTS)}), got {list(kinds)}")
    for slot, name in zip(SLOTS, kinds):
        if kind(name).slot != slot:
            raise ValueError(f"feature kind {name!r} fills the {kind(name).slot} slot, not {slot}")
    return kinds  # type: ignore[return-value]


def default_shapes(kinds: tuple[str, ...] = DEFAULT_KINDS) -> dict[str, tuple[int, int]]:
    """Slot -> the table's shape of each of ``kinds``."""
    return {slot: kind(name).shape for slot, name in zip(SLOTS, check_kinds(kinds))}


def not_extractable(kinds) -> list[str]:
    """Those of ``kinds`` that cannot be computed from raw video here."""
    return [k for k in kinds if not kind(k).extractable]


def cli_flag(name: str) -> str:
    """The command-line option naming shards of kind ``name`` (``--r2plus1d-18``, ``--clap-htsat``)."""
    return "--" + name.replace("_", "-")
