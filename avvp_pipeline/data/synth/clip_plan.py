"""The clip plan: each clip's LLP name and which events it holds, where.

Every clip (filename ``<id>_<start>_<end>`` as in LLP, ``end - start`` its length: ``spec.duration``, or
drawn from the seed in ``spec.duration``'s range) draws 1..``max_classes`` distinct classes.
Each class gets a modality: audio only, visual only or audio-visual (weights ``p_audio_only``,
``p_visual_only``, ``p_audio_visual``). An audio-only class has one audio event, a visual-only class
one visual event, an audio-visual class one of each: the same interval in both streams (heard and
seen together) when ``av_aligned`` (default), else placed independently. An event has a whole
number of seconds as duration (``min_event``..``max_event``, at most the clip's length) and a
whole-second onset inside the clip, so it covers the segments ``onset..offset-1`` (segment ``t`` is
``[t, t+1)``). The weak label of a clip is the union of its classes; the dense rows are its events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from avvp_pipeline.data.synth import streams
from avvp_pipeline.data.synth.spec import SPLITS, SynthSpec

_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
_ID_LEN = 11
_NAME = re.compile(r"[A-Za-z0-9_-]{11}_\d+_\d+")

Event = tuple[str, int, int]


@dataclass(frozen=True)
class Clip:
    """One planned clip: LLP filename, split, weak labels and its (class, onset, offset) events."""

    filename: str
    split: str
    labels: tuple[str, ...]
    audio_events: tuple[Event, ...]
    visual_events: tuple[Event, ...]

    def __post_init__(self) -> None:
        if _NAME.fullmatch(self.filename) is None or self.duration < 1:
            raise ValueError(f"synth clip name {self.filename!r} is not <11-char id>_<start>_<end> with end > start")

    @property
    def video_id(self) -> str:
        """The 11-character id, i.e. the stem of the clip's mp4 file."""
        return self.filename[:_ID_LEN]

    @property
    def duration(self) -> int:
        """The clip's length in seconds (``end - start`` of its name)."""
        return _length(self.filename)


def _length(filename: str) -> int:
    start, end = filename[_ID_LEN + 1 :].split("_")
    return int(end) - int(start)


def video_filenames(spec: SynthSpec) -> dict[str, list[str]]:
    """LLP-style filenames ``<11-char id>_<start>_<end>`` per split; cheap, deterministic, unique ids.

    A clip's length (``end - start``) is drawn from a stream of its own, so the ids and starts do not
    depend on ``spec.duration``."""
    alphabet = np.array(list(_ID_ALPHABET))
    used: set[str] = set()
    out: dict[str, list[str]] = {}
    for s, split in enumerate(SPLITS):
        rng = streams.stream(spec.seed, streams.NAMES, s)
        lengths = streams.stream(spec.seed, streams.LENGTH, s)
        names = []
        for _ in range(spec.split_sizes()[split]):
            while True:
                vid = "".join(alphabet[rng.integers(0, len(alphabet), _ID_LEN)])
                if vid not in used:
                    break
            used.add(vid)
            start = int(rng.integers(0, 291))
            length = int(lengths.integers(spec.shortest, spec.longest + 1))
            names.append(f"{vid}_{start}_{start + length}")
        out[split] = names
    return out


def _plan_clip(spec: SynthSpec, filename: str, split: str) -> Clip:
    rng = streams.stream(spec.seed, streams.PLAN, *streams.clip_key(filename))
    length = _length(filename)
    k = int(rng.integers(1, min(spec.max_classes, len(spec.classes)) + 1))
    chosen = [spec.classes[i] for i in rng.choice(len(spec.classes), size=k, replace=False)]
    probs = np.array([spec.p_audio_only, spec.p_visual_only, spec.p_audio_visual])
    probs = probs / probs.sum()

    def event(cls: str) -> Event:
        dur = int(rng.integers(spec.min_event, min(spec.max_event, length) + 1))
        onset = int(rng.integers(0, length - dur + 1))
        return (cls, onset, onset + dur)

    audio, visual = [], []
    for cls in chosen:
        kind = int(rng.choice(3, p=probs))  # 0 audio only, 1 visual only, 2 audio-visual
        if kind == 2 and spec.av_aligned:  # heard and seen together: one interval in both streams
            ev = event(cls)
            audio.append(ev)
            visual.append(ev)
            continue
        if kind in (0, 2):
            audio.append(event(cls))
        if kind in (1, 2):
            visual.append(event(cls))
    return Clip(filename, split, tuple(chosen), tuple(audio), tuple(visual))


def plan(spec: SynthSpec) -> list[Clip]:
    """All clips of the data set (train, then val, then test), deterministic in ``spec``."""
    names = video_filenames(spec)
    return [_plan_clip(spec, f, split) for split in SPLITS for f in names[split]]
