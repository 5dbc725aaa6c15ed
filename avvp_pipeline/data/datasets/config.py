"""A :class:`Dataset` from the config's ``dataset`` keys.

Proposed keys (config.yaml and its schema do not have ``name`` and ``lenient`` yet)::

    dataset:
      name: llp                # llp (the default) | lfav | custom
      annotations_dir: DIR     # llp: the AVVP_*.csv folder; lfav: the release's LFAV_dataset/ folder
                               # (train/ val/ test/); custom: the folder docs/datasets.md describes
      videos_dir: DIR          # as today
      legacy_eval_audio: false # llp only: drop the 3 audio rows the 2021 AVVP_eval_audio.csv lost
      lenient: false           # custom only: LFAV's handling of problems (each a warning) instead of refusing
      synth: {...}             # as today: the demo is an LLP-shaped set

The demo's folder is filled in by planning before this is called (``annotations_dir`` must be set).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from .custom import read_custom
from .description import Dataset, DatasetError, write_warnings
from .lfav import read_lfav
from .llp import read_llp

log = logging.getLogger(__name__)

KINDS = ("llp", "lfav", "custom")
#: The keys each kind reads besides ``name`` and ``annotations_dir``, with their defaults.
OPTIONS = {"legacy_eval_audio": ("llp", False), "lenient": ("custom", False)}
#: Keys of the ``dataset`` section read by planning, not here.
OTHER_KEYS = ("videos_dir", "synth")


def dataset_from_config(cfg: Mapping, *, lengths: Mapping[str, int] | None = None) -> Dataset:
    """Read the data set ``cfg`` (the ``dataset`` section) names; ``lengths`` (segments per video id, where
    known; lfav and custom) lets events past a video's end be found. :class:`DatasetError` for a bad key or
    a bad file."""
    kind = cfg.get("name") or "llp"
    if kind not in KINDS:
        raise DatasetError([f"dataset.name {kind!r}: expected {', '.join(KINDS)}"])
    unknown = sorted(set(cfg) - {"name", "annotations_dir", *OPTIONS, *OTHER_KEYS})
    if unknown:
        raise DatasetError(
            [f"dataset.{unknown[0]}: unknown key (expected name, annotations_dir, {', '.join(OPTIONS)})"]
        )
    for key, (owner, default) in OPTIONS.items():
        if cfg.get(key, default) != default and owner != kind:
            raise DatasetError([f"dataset.{key} is set for dataset.name {kind}: it applies to {owner} only"])
    folder = cfg.get("annotations_dir")
    if folder is None:
        raise DatasetError([f"dataset.annotations_dir is not set: the {kind} data set needs its annotations folder"])
    if not Path(folder).is_dir():
        raise DatasetError([f"dataset.annotations_dir {folder}: folder not found"])
    if kind == "llp":  # LLP's protocol scores 10 segments per clip: ``lengths`` is not read
        return read_llp(folder, legacy_eval_audio=bool(cfg.get("legacy_eval_audio", False)))
    if kind == "lfav":
        return read_lfav(folder, lengths)
    return read_custom(folder, lenient=bool(cfg.get("lenient", False)), lengths=lengths)


def read_dataset(cfg: Mapping, warnings_file: str | Path, *, lengths: Mapping[str, int] | None = None) -> Dataset:
    """:func:`dataset_from_config`, then the warnings logged and written to ``warnings_file`` (empty when
    there are none); nothing is written when the data set is refused."""
    dataset = dataset_from_config(cfg, lengths=lengths)
    for warning in dataset.warnings:
        log.warning("%s", warning)
    write_warnings(warnings_file, dataset.warnings)
    return dataset
