"""The annotations of a synthetic set: the LLP CSVs (written through :mod:`avvp_pipeline.data.llp`) or
a custom data set's files (through :mod:`avvp_pipeline.data.datasets.custom`: any class list and clip
length), and ``synth_spec.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path

from avvp_pipeline.data.datasets.custom import write_custom
from avvp_pipeline.data.llp import (
    CLASS_INDEX,
    EVAL_AUDIO,
    EVAL_VISUAL,
    FULL_FILE,
    NUM_SEGMENTS,
    SPLIT_FILES,
    write_dense_rows,
    write_weak_labels,
)
from avvp_pipeline.data.synth.clip_plan import Clip
from avvp_pipeline.data.synth.spec import SPLITS, SynthSpec
from avvp_pipeline.fileio import write_text


def check_llp_files(spec: SynthSpec) -> None:
    """Raise ValueError unless the LLP annotation files can hold the set of ``spec``: LLP's classes and
    clips of 10 s (the plan and the media take any class list and length)."""
    others = [c for c in spec.classes if c not in CLASS_INDEX]
    if others:
        raise ValueError(f"synth: the LLP annotation files hold LLP's classes only, not {', '.join(others)}")
    if spec.duration != NUM_SEGMENTS:
        length = spec.to_dict()["duration"]
        raise ValueError(f"synth: the LLP annotation files hold {NUM_SEGMENTS}-s clips only, not duration {length}")


#: The annotation layouts the generator writes: LLP's CSVs, or a custom data set's files.
LAYOUTS = ("llp", "custom")


def check_layout(spec: SynthSpec, layout: str) -> None:
    """ValueError unless ``layout`` is one of :data:`LAYOUTS` and can hold the set of ``spec``."""
    if layout not in LAYOUTS:
        raise ValueError(f"synth: annotation layout {layout!r}: expected {' or '.join(LAYOUTS)}")
    if layout == "llp":
        check_llp_files(spec)


def write_annotations(
    spec: SynthSpec, clips: list[Clip], annotations_dir: str | os.PathLike[str], layout: str = "llp"
) -> None:
    """Write the annotations of ``clips`` in ``layout`` (LLP's CSVs through :mod:`avvp_pipeline.data.llp`,
    or a custom data set's files, each video named by its file's stem) and ``synth_spec.json`` to
    ``annotations_dir``."""
    check_layout(spec, layout)
    out = Path(annotations_dir)
    if layout == "custom":
        _write_custom(spec, clips, out)
        write_text(out / "synth_spec.json", json.dumps(spec.to_dict(), indent=2) + "\n")
        return
    out.mkdir(parents=True, exist_ok=True)
    by_split = {s: [c for c in clips if c.split == s] for s in SPLITS}

    def weak(cs: list[Clip]) -> list[tuple[str, tuple[str, ...]]]:
        return [(c.filename, c.labels) for c in cs]

    def dense(attr: str) -> list[tuple[str, int, int, str]]:
        # LLP lists test clips first
        return [
            (c.filename, on, off, cls) for c in by_split["test"] + by_split["val"] for cls, on, off in getattr(c, attr)
        ]

    for split, name in SPLIT_FILES.items():
        write_weak_labels(out / name, weak(by_split[split]))
    write_weak_labels(out / FULL_FILE, weak(by_split["train"] + by_split["val"] + by_split["test"]))
    write_dense_rows(out / EVAL_AUDIO, dense("audio_events"))
    write_dense_rows(out / EVAL_VISUAL, dense("visual_events"))
    write_text(out / "synth_spec.json", json.dumps(spec.to_dict(), indent=2) + "\n")


def _write_custom(spec: SynthSpec, clips: list[Clip], out: Path) -> None:
    weak = {s: [(c.video_id, c.labels) for c in clips if c.split == s] for s in SPLITS}
    evaluated = [c for c in clips if c.split != "train"]
    dense = {
        m: [(c.video_id, on, off, cls) for c in evaluated for cls, on, off in getattr(c, f"{m}_events")]
        for m in ("audio", "visual")
    }
    write_custom(out, spec.classes, weak, dense)
