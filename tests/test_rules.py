"""The rules stay thin: what they plan comes from the package (docs/architecture.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from avvp_pipeline import STAGE_VERSIONS
from avvp_pipeline.config_schema import load_schema, prepare_config
from avvp_pipeline.plan import PlanError, data_source, rows_needed
from avvp_pipeline.stage_plan import check_noise_ratios, check_refine, stage_configs

ROOT = Path(__file__).resolve().parents[1]
RULE_FILES = [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]


def _count(pattern: str) -> dict[str, int]:
    counts = {f.name: len(re.findall(pattern, f.read_text(), re.M)) for f in RULE_FILES}
    return {name: n for name, n in counts.items() if n}


def test_one_wildcard_constraints_block_for_every_rule():
    assert _count(r"^\s*wildcard_constraints:") == {"Snakefile": 1}


def _config(**changes) -> dict:
    """config.yaml (the demo) with its schema's defaults, updated with ``changes``."""
    config = {**yaml.safe_load((ROOT / "config.yaml").read_text()), **changes}
    schema = ROOT / "workflow" / "schemas" / "config.schema.yaml"
    prepare_config(config, load_schema(schema))
    validate(config, str(schema))
    return config


def test_each_stage_config_holds_its_own_section_and_version():
    config = _config()
    before = stage_configs(config, data_source(config["dataset"], config["features"]))
    config["features"]["audio"]["example_hop"] = 0.5
    after = stage_configs(config, data_source(config["dataset"], config["features"]))
    assert after["features_visual"] == before["features_visual"]
    assert after["features_audio"] == {**before["features_audio"], "example_hop": 0.5}
    assert before["evaluate"]["version"] == STAGE_VERSIONS["evaluate"]
    assert before["synth"]["version"] == STAGE_VERSIONS["synth"]
    assert before["pseudo_labels_teachers"] is None  # the demo runs no teachers


def test_teacher_config_is_planned_with_valors_captions():
    config = _config(pseudo_labels={"source": "teachers"})
    teachers = stage_configs(config, data_source(config["dataset"], config["features"]))["pseudo_labels_teachers"]
    assert teachers["version"] == STAGE_VERSIONS["pseudo_labels_teachers"]
    assert teachers["clip"]["captions"] and teachers["clap"]["captions"]


def test_refine_file_that_is_missing_stops_planning(tmp_path):
    with pytest.raises(PlanError, match="refine.file is not set"):
        check_refine({"source": "file", "file": None})
    with pytest.raises(PlanError, match=f"refine.file {tmp_path / 'x.pkl'}: no such file"):
        check_refine({"source": "file", "file": str(tmp_path / "x.pkl")})
    check_refine({"source": "computed", "file": None})


def test_jomold_plans_its_estimator_or_the_imported_ratios(tmp_path):
    """The jomold row brings jomold-estimator into the run when its noise ratios are computed here, not
    when they are imported; the noise-ratio stage is planned only for a jomold row."""
    computed = _config(train={"models": ["han", "jomold"]})
    assert rows_needed(computed["train"], computed["refine"], computed["noise_ratios"]) == [
        "han",
        "jomold",
        "jomold-estimator",
    ]
    stage = stage_configs(computed, data_source(computed["dataset"], computed["features"]))["noise_ratios"]
    assert stage == {"source": "computed", "version": STAGE_VERSIONS["noise_ratios"]}
    imported = _config(train={"models": ["jomold"]}, noise_ratios={"source": "file", "file": "x.npz"})
    assert rows_needed(imported["train"], imported["refine"], imported["noise_ratios"]) == ["jomold"]
    han = _config(train={"models": ["han", "jomold-estimator"]})
    assert stage_configs(han, data_source(han["dataset"], han["features"]))["noise_ratios"] is None


def test_jomold_without_a_way_to_its_noise_ratios_stops_planning(tmp_path):
    train = {"models": ["han", "jomold"]}
    with pytest.raises(PlanError, match=r"^train.models has jomold, .* noise_ratios.file is not set: .*"):
        check_noise_ratios(train, {"source": "file", "file": None})
    with pytest.raises(PlanError, match=f"noise_ratios.file {tmp_path / 'x.npz'}: no such file"):
        check_noise_ratios(train, {"source": "file", "file": str(tmp_path / "x.npz")})
    check_noise_ratios(train, {"source": "computed", "file": None})
    check_noise_ratios({"models": ["han"]}, {"source": "file", "file": None})  # no row needs them


def test_rules_raise_planning_errors_only_through_the_wrappers():
    """Error text is written by the package; the rules only turn its PlanError into a WorkflowError."""
    raises = [line.strip() for f in RULE_FILES for line in f.read_text().splitlines() if "raise WorkflowError(" in line]
    assert raises and all(r == "raise WorkflowError(str(_exc)) from None" or "(str(exc))" in r for r in raises)
