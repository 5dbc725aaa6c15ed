"""What the teachers compare each second against: one caption and one threshold per LLP class (torch-free).

The defaults are VALOR's (Lai et al., NeurIPS 2023): CLIP scores each frame against "A photo of ..."
captions, CLAP each second of audio against "This is a sound of ..." captions; a class is on in a second
when its logit (cosine similarity times the model's logit scale) is strictly above its threshold. VALOR
tuned the thresholds with these exact captions, spelling slips included ("vaccum", "guiter"), so they are
kept as published. ``pseudo_labels.clip`` / ``pseudo_labels.clap`` in the config override either list.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..data.llp import CLASSES

CLIP_CAPTIONS = (
    "A photo of people talking.", "A photo of a car.", "A photo of people cheering.", "A photo of a dog.",
    "A photo of a cat.", "A photo of frying food.", "A photo of people playing basketball.",
    "A photo of a fire alarm.", "A photo of a chainsaw.", "A photo of a cello.", "A photo of a banjo.",
    "A photo of people singing.", "A photo of a chicken or a rooster.", "A photo of a violin.",
    "A photo of a vaccum cleaner.", "A photo of a laughing baby.", "A photo of an accordion.",
    "A photo of a lawnmower.", "A photo of a motorcycle.", "A photo of a helicopter.",
    "A photo of a acoustic guiter.", "A photo of a ringing telephone.", "A photo of a crying baby.",
    "A photo of a blender.", "A photo of hands clapping.",
)  # fmt: skip
CLIP_THRESHOLDS = (20, 15, 18, 14, 15, 18, 18, 15, 15, 15, 15, 18, 15, 15, 15, 15, 15, 15, 15, 16, 14, 15, 15, 15, 18)

_CLAP_NAMES = (
    "Speech", "Car", "Cheering", "Dog", "Cat", "Frying (food)", "Basketball bounce", "Fire alarm", "Chainsaw",
    "Cello", "Banjo", "Singing", "Chicken, rooster", "Violin fiddle", "Vacuum cleaner", "Baby laughter",
    "Accordion", "Lawn mower", "Motorcycle", "Helicopter", "Acoustic guitar", "Telephone bell ringing",
    "Baby cry, infant cry", "Blender", "Clapping",
)  # fmt: skip
CLAP_CAPTIONS = tuple("This is a sound of " + name.lower() for name in _CLAP_NAMES)
CLAP_THRESHOLDS = (0, 0, 1, 4, 6, -2, 4, 4, 2, 2, 2, 1, 2, 3, 0, 2, 2, 2, 0, 2, -1, 2, 3, 3, 0)

DEFAULTS = {
    "clip": {"captions": CLIP_CAPTIONS, "thresholds": CLIP_THRESHOLDS},
    "clap": {"captions": CLAP_CAPTIONS, "thresholds": CLAP_THRESHOLDS},
}


@dataclass(frozen=True)
class Vocabulary:
    """One caption and one logit threshold per LLP class, in LLP order."""

    captions: tuple[str, ...]
    thresholds: tuple[float, ...]

    def record(self) -> dict:
        return {"captions": list(self.captions), "thresholds": list(self.thresholds)}


def vocabulary(teacher: str, cfg: dict | None = None) -> Vocabulary:
    """The captions and thresholds of ``teacher`` (``clip`` or ``clap``): VALOR's, with ``cfg``'s
    ``captions`` / ``thresholds`` (a list of 25, or a mapping class name -> value) overriding them."""
    if teacher not in DEFAULTS:
        raise ValueError(f"unknown teacher {teacher!r}; known: clip, clap")
    cfg = cfg or {}
    out = {}
    for key, cast in (("captions", str), ("thresholds", float)):
        values = list(DEFAULTS[teacher][key])
        given = cfg.get(key)
        if isinstance(given, dict):
            unknown = sorted(set(given) - set(CLASSES))
            if unknown:
                raise ValueError(f"pseudo_labels.{teacher}.{key}: unknown classes {unknown}; known: {list(CLASSES)}")
            for name, value in given.items():
                values[CLASSES.index(name)] = value
        elif given is not None:
            if len(given) != len(CLASSES):
                raise ValueError(
                    f"pseudo_labels.{teacher}.{key}: {len(given)} values, expected one per class ({len(CLASSES)}, "
                    "in LLP order), or a mapping class name -> value"
                )
            values = list(given)
        out[key] = tuple(cast(v) for v in values)
    return Vocabulary(**out)


DEFAULT_TEACHER = {"weights": "random", "sha256": None}


def teacher_config(cfg: dict | None) -> dict:
    """The stage's settings with defaults: ``clip`` / ``clap`` (``weights``, ``sha256``, ``captions``,
    ``thresholds``), ``seed`` and ``random_size`` (of random teachers)."""
    cfg = dict(cfg or {})
    out = {"seed": int(cfg.get("seed", 0)), "random_size": cfg.get("random_size", "small")}
    for kind in ("clip", "clap"):
        t = {**DEFAULT_TEACHER, **(cfg.get(kind) or {})}
        voc = vocabulary(kind, t)
        out[kind] = {"weights": t["weights"], "sha256": t.get("sha256"), **voc.record()}
    return out
