"""The feature kinds a model can read: one table, no torch (the workflow plans with it).

A kind is one feature shard folder, ``results/features/<name>/shard-K.h5``. Each fills one of a
model's three input slots: ``audio``, ``visual_2d`` (per-frame image features) or ``visual_3d``
(per-second clip features). A kind has a row width and a number of rows per second (ResNet-152: 8
frames), so a video of L one-second segments holds ``(L * rows_per_second, width)`` features; a kind
whose rows describe a whole clip (``clip_rows``, CLAP's map) has that many rows for LLP's 10-second clips
only. ``shape`` is a 10-second (LLP) video's; the release folders are where a released copy sits below
``features.released_dir``, in LLP's release and in LFAV's (:data:`RELEASES`; LFAV's has one row per second
of each video, of any length, under the folder names its official training script reads). Only the kinds
marked ``extractable`` can be computed from raw video here; the others are imported.

A row reads three kinds, one per slot (``rows.ModelSpec.features``); a model records the kinds and
the shapes it was built for in its ``model.pt``.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The three input slots of every model, in the order the networks take them.
SLOTS = ("audio", "visual_2d", "visual_3d")
#: The segments of an LLP video (one second each): the length of the reference shapes (``FeatureKind.shape``,
#: a model's recorded input shapes) and of a whole-clip feature map.
SEGMENTS = 10


@dataclass(frozen=True)
class FeatureKind:
    """One kind of feature shard."""

    name: str
    width: int  # the length of one row
    rows_per_second: int | None  # None: a whole-clip map of clip_rows rows
    slot: str  # one of SLOTS
    release_folder: str | None  # below features.released_dir in LLP's release (None: not in it)
    extractable: bool  # computed from raw video by `avvp extract`
    description: str
    clip_rows: int | None = None  # rows of a whole-clip map (10-second clips only)
    lfav_folder: str | None = None  # below features.released_dir in LFAV's release (None: not in it)

    def rows(self, segments: int) -> int:
        """Rows of the features of a video of ``segments`` one-second segments; ValueError for a whole-clip
        map of a video that is not :data:`SEGMENTS` long."""
        if self.rows_per_second is not None:
            return self.rows_per_second * segments
        if segments != SEGMENTS:
            raise ValueError(f"{self.name} features map a whole {SEGMENTS}-second clip; a video lasts {segments} s")
        return self.clip_rows

    def segments(self, rows: int) -> int:
        """The segments ``rows`` rows of this kind cover (a whole-clip map: :data:`SEGMENTS`); ValueError
        when they are not a whole number of seconds."""
        if self.rows_per_second is None:
            return SEGMENTS
        if rows <= 0 or rows % self.rows_per_second:
            raise ValueError(
                f"{self.name} features of {rows} rows: not a whole number of seconds "
                f"({self.rows_per_second} rows per second)"
            )
        return rows // self.rows_per_second

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, width)`` of a 10-second (LLP) video."""
        return (self.rows(SEGMENTS), self.width)


KINDS: dict[str, FeatureKind] = {
    k.name: k
    for k in (
        FeatureKind(
            "vggish",
            128,
            1,
            "audio",
            "vggish",
            True,
            "VGGish embedding, one per second",
            lfav_folder="audio-feat-vggish-align",
        ),
        FeatureKind("resnet152", 2048, 8, "visual_2d", "res152", True, "ResNet-152 pooled frames, 8 per second"),
        FeatureKind(
            "resnet18",
            512,
            1,
            "visual_2d",
            None,
            False,
            "ResNet-18 pooled frame features, one per second (LFAV's release)",
            lfav_folder="visual-feat-res18-align",
        ),
        FeatureKind(
            "r2plus1d_18",
            512,
            1,
            "visual_3d",
            "r2plus1d_18",
            True,
            "R(2+1)D-18 clip features, per second",
            lfav_folder="visual-feat-r2plus1d-align",
        ),
        FeatureKind(
            "clip_vitl14",
            768,
            1,
            "visual_2d",
            "CLIP/features",
            False,
            "CLIP ViT-L/14 image embeddings (L2-normalised), one frame per second",
        ),
        FeatureKind(
            "clap_htsat",
            768,
            None,
            "audio",
            "CLAP/features",
            False,
            "CLAP HTS-AT (fusion) feature map of the clip, 2 x 32 positions",
            clip_rows=64,
        ),
    )
}

#: The kinds HAN and the rows built on it read (the LLP release's three); models written before kinds
#: were recorded read these.
DEFAULT_KINDS = ("vggish", "resnet152", "r2plus1d_18")
#: The kinds HAN reads on LFAV: the three its release has.
LFAV_KINDS = ("vggish", "resnet18", "r2plus1d_18")
#: The releases whose features can be imported (``features.released_dir``'s layout): ``dataset.name``.
RELEASES = ("llp", "lfav")
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


def release_folder(name: str, release: str = "llp") -> str:
    """The folder of kind ``name`` below the released folder of ``release`` (:data:`RELEASES`); ValueError
    naming the kinds that release has when it has no ``name``."""
    if release not in RELEASES:
        raise ValueError(f"unknown feature release {release!r}; known: {', '.join(RELEASES)}")
    folder = kind(name).release_folder if release == "llp" else kind(name).lfav_folder
    if folder is None:
        held = [k for k in KINDS if (KINDS[k].release_folder if release == "llp" else KINDS[k].lfav_folder)]
        raise ValueError(f"{release.upper()}'s release has no {name} features (it has {', '.join(held)})")
    return folder


def in_release(name: str, release: str) -> bool:
    """Whether ``release`` holds features of kind ``name``."""
    try:
        release_folder(name, release)
    except ValueError:
        return False
    return True


def not_extractable(kinds) -> list[str]:
    """Those of ``kinds`` that cannot be computed from raw video here."""
    return [k for k in kinds if not kind(k).extractable]


def cli_flag(name: str) -> str:
    """The command-line option naming shards of kind ``name`` (``--r2plus1d-18``, ``--clap-htsat``)."""
    return "--" + name.replace("_", "-")
