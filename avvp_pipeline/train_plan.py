"""Planning the training runs: the run folders a config makes (``train.seeds``), the options each run
trains with (checked against :mod:`models.options` before any job starts) and its speed options.

``train.seeds`` unset: one run per row, in ``runs/NAME/``, with the seed its recipe (or
``train.options`` / ``train.per_model``) gives. A list: one run per row and listed seed, in
``runs/NAME/seed-S/``, trained with seed S (docs/seeds.md).
"""

from __future__ import annotations

import os

from . import STAGE_VERSIONS
from .models.options import OPTIONS, RUNTIME, check_option, check_options
from .models.rows import spec, train_options
from .plan import PlanError


def run_seeds(train_cfg: dict) -> list[int] | None:
    """The seeds of ``train.seeds``, or None when it is unset (one run per row, runs/NAME/). PlanError
    where a seed is listed twice, or is also set in ``train.options`` or ``train.per_model``."""
    seeds = train_cfg.get("seeds")
    if seeds is None:
        return None
    if len(set(seeds)) != len(seeds):
        raise PlanError(f"train.seeds {list(seeds)} lists a seed twice")
    places = [("train.options", train_cfg.get("options") or {})]
    places += [(f"train.per_model.{name}", opts) for name, opts in (train_cfg.get("per_model") or {}).items()]
    for where, opts in places:
        if "seed" in opts:
            raise PlanError(
                f"{where}.seed and train.seeds {list(seeds)} both set the training seed: keep "
                f"train.seeds (one run per seed, runs/NAME/seed-S/) or {where}.seed (one run, "
                f"train.seeds unset), not both"
            )
    return list(seeds)


def run_dir(model: str, seed: int | str | None = None) -> str:
    """Folder of one run: ``runs/NAME`` (``train.seeds`` unset) or ``runs/NAME/seed-S``."""
    return f"runs/{model}" if seed is None else f"runs/{model}/seed-{seed}"


def run_dirs(models: list[str], seeds: list[int] | None) -> list[str]:
    """Every run folder of ``models``: one per model, or one per model and seed."""
    return [run_dir(m, s) for m in models for s in (seeds or [None])]


def run_options(model: str, train_cfg: dict, seed: int | None = None) -> dict:
    """The recorded options row ``model`` trains with (its recipe, ``train.options``,
    ``train.per_model[model]``, then ``seed`` when ``train.seeds`` gives one)."""
    return train_options(model, train_cfg.get("options"), train_cfg.get("per_model"), seed=seed)


def train_params(model: str, train_cfg: dict, seed: int | None = None) -> dict:
    """The train rule's stage config: :func:`run_options` and the stage's version."""
    return {**run_options(model, train_cfg, seed), "version": STAGE_VERSIONS["train"]}


def runtime_options(train_cfg: dict) -> dict:
    """``train.runtime`` with its defaults: speed options, never recorded. PlanError for a bad value."""
    given = train_cfg.get("runtime") or {}
    try:
        return {name: option.checked(given.get(name, option.default)) for name, option in RUNTIME.items()}
    except ValueError as exc:
        raise PlanError(str(exc).replace("train option ", "train.runtime.", 1)) from None


def refuse_moved_options(train_cfg: dict) -> None:
    """PlanError naming a speed option still set in ``train.options`` or ``train.per_model``: it moved
    to ``train.runtime``."""
    places = [("train.options", train_cfg.get("options") or {})]
    places += [(f"train.per_model.{name}", opts or {}) for name, opts in (train_cfg.get("per_model") or {}).items()]
    for where, opts in places:
        for key in opts:
            if key in RUNTIME:
                try:
                    check_option(key, opts[key], where)
                except ValueError as exc:
                    raise PlanError(str(exc)) from None


def _source(row: str, key: str, train_cfg: dict) -> str:
    """Where the value of ``key`` that ``row`` trains with is set."""
    if key in ((train_cfg.get("per_model") or {}).get(row) or {}):
        return f"train.per_model.{row}"
    return "train.options" if key in (train_cfg.get("options") or {}) else f"the recipe of {row}"


def check_train_options(train_cfg: dict, rows: list[str]) -> None:
    """PlanError in one line for the first option that the options table refuses: in ``train.options``,
    ``train.runtime``, ``train.seeds``, a ``train.per_model`` entry (of any row), or the options a planned
    row of ``rows`` trains with."""
    seeds = run_seeds(train_cfg)
    runtime_options(train_cfg)
    try:
        for seed in seeds or []:
            if OPTIONS["seed"].problem(seed):
                raise ValueError(f"train.seeds has {seed!r}: a seed must be {OPTIONS['seed'].allowed()}")
        check_options(train_cfg.get("options") or {}, "train.options")
        for name, opts in (train_cfg.get("per_model") or {}).items():
            check_options(opts or {}, f"train.per_model.{name}")
        for row in rows:
            for key, value in run_options(row, train_cfg).items():
                check_option(key, value, _source(row, key, train_cfg))
    except ValueError as exc:
        raise PlanError(str(exc)) from None


def label_embeddings_file(model: str, train_cfg: dict) -> str | None:
    """The class-embedding file row ``model`` trains with (``train.leap.label_embeddings``, LEAP rows only)."""
    return (train_cfg.get("leap") or {}).get("label_embeddings") if spec(model).label_embeddings else None


def check_label_embeddings(train_cfg: dict) -> None:
    """PlanError in one line where a LEAP row of ``train.models`` has no class-embedding file, or it is missing."""
    rows = [m for m in train_cfg.get("models") or [] if spec(m).label_embeddings]
    path = label_embeddings_file(rows[0], train_cfg) if rows else None
    if rows and not path:
        raise PlanError(
            f"train.models has {', '.join(rows)}, which read LEAP's class embeddings, but "
            "train.leap.label_embeddings is not set: give the path of the release's llp_label_glove_embeddings.pt "
            "(docs/models-and-evaluation.md, section 14)"
        )
    if path and not os.path.isfile(path):
        raise PlanError(f"train.leap.label_embeddings {path}: no such file")
