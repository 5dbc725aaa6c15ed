"""A :class:`Dataset` from the config's ``dataset`` keys (docs/datasets.md)::

    dataset:
      name: llp                # llp (the default) | lfav | custom
      annotations_dir: DIR     # llp: the AVVP_*.csv folder; lfav: the release's LFAV_dataset/ folder
                               # (train/ val/ test/); custom: the folder docs/datasets.md describes
      videos_dir: DIR          # as today
      legacy_eval_audio: false # llp only: drop the 3 audio rows the 2021 AVVP_eval_audio.csv lost
      lenient: false           # custom only: LFAV's handling of problems (each a warning) instead of refusing
      download: {...}          # llp only (planning checks it)
      synth: {...}             # the demo: llp's CSVs or a custom set's files, rendered by the synth job

The demo's folder is filled in by planning before this is called (``annotations_dir`` must be set).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from .. import llp
from .custom import files as custom_files
from .custom import read_custom
from .description import SPLITS, Dataset, DatasetError, write_warnings
from .lfav import files as lfav_files
from .lfav import read_lfav
from .llp import read_llp

log = logging.getLogger(__name__)

KINDS = ("llp", "lfav", "custom")
#: The keys each kind reads besides ``name`` and ``annotations_dir``, with their defaults.
OPTIONS = {"legacy_eval_audio": ("llp", False), "lenient": ("custom", False)}
#: Keys of the ``dataset`` section read by planning, not here.
OTHER_KEYS = ("videos_dir", "synth", "download")


def check_keys(cfg: Mapping) -> str:
    """The kind ``cfg`` (the ``dataset`` section) names; :class:`DatasetError` for an unknown kind or key,
    or an option set for a kind it does not apply to."""
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
    return kind


def annotation_files(kind: str, folder: str | Path, rendered: bool = False) -> list[str]:
    """The files a reading of the data set of ``kind`` in ``folder`` opens (a custom set's optional ones
    where they are; ``rendered``: every one, as the demo's generator writes them)."""
    if kind == "llp":
        names = [*(llp.SPLIT_FILES[s] for s in SPLITS), llp.EVAL_AUDIO, llp.EVAL_VISUAL]
        return [f"{folder}/{name}" for name in names]
    return lfav_files(folder) if kind == "lfav" else custom_files(folder, every=rendered)


def dataset_from_config(cfg: Mapping, *, lengths: Mapping[str, int] | None = None) -> Dataset:
    """Read the data set ``cfg`` (the ``dataset`` section) names; ``lengths`` (segments per video id, where
    known; lfav and custom) lets events past a video's end be found. :class:`DatasetError` for a bad key or
    a bad file."""
    kind = check_keys(cfg)
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
