"""The training options table (models/options.py): the schema, the trainer's configs and planning all
follow it, and a value the trainer would refuse stops planning in one line."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest
import yaml

from avvp_pipeline.config_schema import load_schema, prepare_config
from avvp_pipeline.evaluation.lfav_metrics import LFAV_KEYS
from avvp_pipeline.models.options import OPTIONS, RUNTIME
from avvp_pipeline.models.rows import MODELS, RECIPES
from avvp_pipeline.plan import PlanError
from avvp_pipeline.train_plan import check_train_options, runtime_options, train_params
from avvp_pipeline.training.config import RunOptions, TrainConfig

REPO = Path(__file__).resolve().parents[1]
SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")


def _resolved(node: dict) -> dict:
    """``node`` with a local ``$ref`` followed and its ``description`` dropped."""
    while "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return {k: v for k, v in node.items() if k != "description"}


def _demo() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())


def test_schema_bounds_equal_the_table():
    recorded = SCHEMA["$defs"]["train_options"]["properties"]
    assert {name: _resolved(node) for name, node in recorded.items()} == {n: o.schema() for n, o in OPTIONS.items()}
    runtime = SCHEMA["properties"]["train"]["properties"]["runtime"]["properties"]
    assert runtime == {n: o.schema() for n, o in RUNTIME.items()}


def test_the_trainers_configs_are_the_table():
    assert OPTIONS["select_metric"].choices == LFAV_KEYS
    assert {f.name: f.default for f in dataclasses.fields(TrainConfig)} == {n: o.default for n, o in OPTIONS.items()}
    assert {f.name: f.default for f in dataclasses.fields(RunOptions) if f.name != "device"} == {
        n: o.default for n, o in RUNTIME.items()
    }
    for recipe in RECIPES.values():  # every published recipe lies within the bounds
        check_train_options({"options": recipe}, [])


def test_the_demos_planned_runs_are_unchanged():
    """The train rule's params and the run hash of the demo config's rows, as recorded before the table
    existed: finished runs are not retrained."""
    from avvp_pipeline.training.trainer import run_hash

    train = _demo()["train"]
    expected = {
        "han": "fb7d3051a77bf6e6",
        "ma*+ours": "8e20a8d3d3a34f86",
        "valor++": "cdc596ebec6e18ac",
    }
    params = train_params("han", train)
    assert json.dumps(params, sort_keys=True, separators=(",", ":")) == (
        '{"audio_smoothing":1.0,"batch_size":16,"dropout":0.1,"early_stop":0,"epochs":40,'
        '"feature_norm":"standardize","gamma":0.1,"init_epoch":0,"lr":0.0003,"seed":1,"select_metric":"seg_type",'
        '"select_on":"val","step_size":10,"version":3,"visual_smoothing":0.9}'
    )
    for row, hash_ in expected.items():
        assert run_hash(row, TrainConfig.from_dict(train_params(row, train)), {}, 0, 0) == hash_, row


@pytest.mark.parametrize(
    "train, line",
    [
        ({"options": {"dropout": 1}}, "train.options.dropout is 1: it must be a finite number in [0, 1)"),
        (
            {"options": {"audio_smoothing": 0}},
            "train.options.audio_smoothing is 0: it must be a finite number in (0, 1]",
        ),
        (
            {"per_model": {"han+ours": {"seed": -1}}},
            "train.per_model.han+ours.seed is -1: it must be an integer in [0,",
        ),
        (
            {"per_model": {"ma*": {"before_visual_smoothing": 0.0}}},
            "train.per_model.ma*.before_visual_smoothing is 0.0",
        ),
        ({"options": {"occ_dropout": 1.0}}, "train.options.occ_dropout is 1.0: it must be a finite number in [0, 1)"),
        ({"seeds": [2**32]}, "train.seeds has 4294967296: a seed must be an integer in [0, 4294967295]"),
        ({"runtime": {"eval_batch_size": 0}}, "train.runtime.eval_batch_size must be an integer >= 1, got 0"),
        ({"options": {"cuda_graphs": True}}, "train.options.cuda_graphs: cuda_graphs is a speed option and moved to"),
    ],
)
def test_a_bad_option_stops_planning_in_one_line(train, line):
    """Every per_model entry is checked, also one of a row this run does not train."""
    with pytest.raises(PlanError) as err:
        check_train_options({"models": ["han"], **train}, ["han"])
    assert str(err.value).startswith(line) and "\n" not in str(err.value)


@pytest.mark.parametrize(
    "options, where",
    [({"dropout": 1}, "train.options.dropout"), ({"visual_smoothing": 0}, "train.options.visual_smoothing")],
)
def test_the_schema_refuses_what_the_trainer_refuses(options, where):
    config = _demo()
    config["train"]["options"] = options
    with pytest.raises(PlanError, match=rf"^config {where}: "):
        prepare_config(config, SCHEMA)


@pytest.mark.parametrize("key, value", [("cuda_graphs", True), ("eval_batch_size", 64)])
def test_a_speed_option_left_in_train_options_names_its_new_place(key, value):
    config = _demo()
    config["train"]["per_model"] = {"han": {key: value}}
    with pytest.raises(PlanError, match=rf"^train.per_model.han.{key}: .* moved to train.runtime.{key} "):
        prepare_config(config, SCHEMA)


def test_speed_options_stay_out_of_the_recorded_options():
    train = copy.deepcopy(_demo()["train"])
    before = {row: train_params(row, train) for row in MODELS}
    train["runtime"] = {"cuda_graphs": True, "eval_batch_size": 8}
    assert {row: train_params(row, train) for row in MODELS} == before
    assert runtime_options(train) == {"cuda_graphs": True, "eval_batch_size": 8}
    assert runtime_options({}) == {"cuda_graphs": False, "eval_batch_size": 256}
