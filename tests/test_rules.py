"""The rules stay thin: what they plan comes from the package (docs/architecture.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from avvp_pipeline import STAGE_VERSIONS
from avvp_pipeline.config_schema import load_schema, prepare_config
from avvp_pipeline.plan import PlanError, data_source
from avvp_pipeline.stage_plan import check_refine, stage_configs

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


def test_rules_raise_planning_errors_only_through_the_wrappers():
    """Error text is written by the package; the rules only turn its PlanError into a WorkflowError."""
    raises = [line.strip() for f in RULE_FILES for line in f.read_text().splitlines() if "raise WorkflowError(" in line]
    assert raises and all(r == "raise WorkflowError(str(_exc)) from None" or "(str(exc))" in r for r in raises)
