"""Where a run may write: planning refuses a ``results_dir`` that is a system folder, the source tree, or one of
the user's input folders (or lies inside or around one), before anything is written there."""

from __future__ import annotations

import os
from pathlib import Path

from .plan import PlanError

# Folders a results_dir may never be or lie inside, and ones it may not be (their subfolders are fine).
_SYSTEM_TREES = (
    "/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc", "/run", "/sbin", "/sys",
    "/usr", "/var/cache", "/var/lib", "/var/lock", "/var/log", "/var/mail", "/var/run", "/var/spool",
)  # fmt: skip
_SYSTEM_FOLDERS = ("/", "/home", "/media", "/mnt", "/opt", "/root", "/srv", "/tmp", "/var", "/var/tmp")
#: The entries of the repository's root that are its source (results/ beside them is fine).
SOURCE_ENTRIES = (
    ".git", ".snakemake", "Snakefile", "README.md", "avvp_pipeline", "config.yaml", "docs", "envs",
    "pyproject.toml", "resources", "scripts", "tests", "workflow",
)  # fmt: skip


def input_folders(config: dict) -> dict[str, str]:
    """``{config key: path}`` for every folder (and file) the config reads."""
    dataset, features = config.get("dataset") or {}, config.get("features") or {}
    pseudo, refine = config.get("pseudo_labels") or {}, config.get("refine") or {}
    noise = config.get("noise_ratios") or {}
    found = {
        "dataset.annotations_dir": dataset.get("annotations_dir"),
        "dataset.videos_dir": dataset.get("videos_dir"),
        "features.released_dir": features.get("released_dir"),
        "features.weights_dir": features.get("weights_dir"),
        "pseudo_labels.dir": pseudo.get("dir"),
        "parse.videos_dir": (config.get("parse") or {}).get("videos_dir"),
        "refine.file": refine.get("file"),  # a file: its folder may hold results/, not be it
        "noise_ratios.file": noise.get("file"),
        "train.leap.label_embeddings": ((config.get("train") or {}).get("leap") or {}).get("label_embeddings"),
    }
    for kind in ("clip", "clap"):
        weights = (pseudo.get(kind) or {}).get("weights")
        if weights and weights != "random":
            found[f"pseudo_labels.{kind}.weights"] = weights
    return {key: str(folder) for key, folder in found.items() if folder}


def _related(a: Path, b: Path) -> str | None:
    """How folder ``a`` stands to ``b``: 'is', 'lies inside', 'contains', or None."""
    if a == b:
        return "is"
    if a.is_relative_to(b):
        return "lies inside"
    if b.is_relative_to(a):
        return "contains"
    return None


def _system_problem(results: Path) -> str | None:
    home = os.path.expanduser("~")
    exact = {*_SYSTEM_FOLDERS, home, os.path.realpath(home)} | {os.path.realpath(p) for p in _SYSTEM_FOLDERS}
    if str(results) in exact:
        return "is a system or shared folder"
    for tree in _SYSTEM_TREES:
        for root in {Path(tree), Path(os.path.realpath(tree))}:
            if results == root or results.is_relative_to(root):
                return f"lies inside the system folder {tree}"
    return None


def _source_problem(results: Path, source_root: Path) -> str | None:
    how = _related(results, source_root)
    if how in ("is", "contains"):
        return f"{how} the workflow's source folder {source_root}"
    if how == "lies inside":
        top = results.relative_to(source_root).parts[0]
        if top in SOURCE_ENTRIES:
            return f"lies inside the workflow's source ({source_root / top})"
    return None


def check_results_dir(config: dict, source_root: str) -> None:
    """PlanError where ``results_dir`` is, contains or lies inside a folder the run reads, the workflow's
    source (``source_root``, the Snakefile's folder; a new folder such as its ``results/`` is fine) or a
    system folder: a run writes dataset/, features/, runs/ ... there."""
    given = str(config.get("results_dir") or "results")
    results = Path(os.path.realpath(given))
    problem = _system_problem(results) or _source_problem(results, Path(os.path.realpath(source_root)))
    if problem is None:
        for key, folder in input_folders(config).items():
            how = _related(results, Path(os.path.realpath(folder)))
            if how:
                problem = f"{how} {key} {folder}, which the run only reads"
                break
    if problem:
        shown = given if os.path.abspath(given) == str(results) else f"{given} ({results})"
        raise PlanError(f"results_dir {shown} {problem}: choose a folder of its own for the outputs")
