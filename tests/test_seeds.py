"""`train.seeds`: unset keeps one run per row in runs/NAME/; a list trains and evaluates every row (and
MA's chain) once per listed seed into runs/NAME/seed-S/, and the report aggregates them."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from avvp_pipeline.models.rows import train_options
from avvp_pipeline.train_plan import run_dir, run_dirs, run_seeds

REPO = Path(__file__).resolve().parents[1]
SCHEMA = str(REPO / "workflow/schemas/config.schema.yaml")


def _demo_config(**train) -> dict:
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["train"].update(train)
    return cfg


def test_schema_leaves_seeds_unset_and_takes_distinct_non_negative_integers():
    cfg = _demo_config()
    cfg["train"].pop("seeds", None)
    validate(cfg, SCHEMA)
    assert "seeds" not in cfg["train"]
    validate(_demo_config(seeds=[0, 1, 2]), SCHEMA)
    for bad in ([], [1, 1], [-1], ["1"], [1.5], 3):
        with pytest.raises(Exception, match="seeds|is not|non-unique|should be|too short|less than"):
            validate(_demo_config(seeds=bad), SCHEMA)


def test_unset_seeds_keep_one_run_per_row_with_its_recipes_seed():
    for train in ({"models": ["han"]}, {"models": ["han"], "options": {"seed": 7}}):
        assert run_seeds(train) is None
    assert run_dirs(["han", "ma*"], None) == ["runs/han", "runs/ma*"]
    assert train_options("han+ours", {"epochs": 2})["seed"] == 0  # the CM-Co recipe's own seed


def test_a_seed_list_means_exactly_those_seeds():
    """`[1]` is one run with seed 1 in runs/NAME/seed-1/, like any other list (it used to mean the
    recipe's seed in runs/NAME/)."""
    assert run_seeds({"seeds": [1]}) == [1]
    assert run_seeds({"seeds": [1, 2]}) == [1, 2] and run_seeds({"seeds": [0]}) == [0]
    assert run_dirs(["han+ours"], [1]) == ["runs/han+ours/seed-1"]
    assert run_dirs(["han", "ma*"], [1, 2]) == [
        "runs/han/seed-1",
        "runs/han/seed-2",
        "runs/ma*/seed-1",
        "runs/ma*/seed-2",
    ]
    assert run_dir("han", 3) == "runs/han/seed-3"
    assert train_options("han+ours", {"epochs": 2}, seed=1)["seed"] == 1


@pytest.mark.parametrize(
    "train, where",
    [
        ({"seeds": [1, 2], "options": {"seed": 3}}, "train.options.seed"),
        ({"seeds": [2], "per_model": {"han": {"epochs": 3}, "ma*": {"seed": 0}}}, r"train.per_model.ma\*.seed"),
    ],
)
def test_a_seed_set_twice_is_a_planning_error(train, where):
    with pytest.raises(ValueError, match=rf"{where} and train.seeds .* both set the training seed: keep"):
        run_seeds(train)
