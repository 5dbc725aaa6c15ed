"""The workflow's config: `--config` values as the user meant them, seeds in numpy's range, and every
`--config` example of the README and docs accepted as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from snakemake.cli import parse_config
from snakemake.utils import update_config

from avvp_pipeline.config_schema import load_schema, prepare_config
from avvp_pipeline.plan import PlanError

REPO = Path(__file__).resolve().parents[1]
SCHEMA = load_schema(REPO / "workflow/schemas/config.schema.yaml")
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def demo_config(*entries: str) -> dict:
    """config.yaml with ``--config`` ``entries`` read the way Snakemake reads them."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    update_config(config, parse_config(list(entries)))
    return config


def test_numbers_inside_nested_config_values_are_numbers():
    config = demo_config(
        "train={models: [han], seeds: [1, 2], options: {epochs: 3, lr: 3e-4}, runtime: {cuda_graphs: false}}",
        "pseudo_labels={source: teachers, clap: {weights: random, thresholds: {Dog: 16}}}",
        "refine={source: computed, file: null}",
    )
    assert config["train"]["seeds"] == ["1", "2"]  # what Snakemake hands over
    prepare_config(config, SCHEMA)
    assert config["train"]["seeds"] == [1, 2]
    assert config["train"]["options"] == {"epochs": 3, "lr": 3e-4, **_demo_options()}
    assert config["train"]["runtime"]["cuda_graphs"] is False
    assert config["pseudo_labels"]["clap"]["thresholds"] == {"Dog": 16}
    assert config["refine"]["file"] is None


def _demo_options() -> dict:
    return yaml.safe_load((REPO / "config.yaml").read_text())["train"]["options"]


def test_text_where_a_number_is_needed_is_named_in_one_line():
    config = demo_config("train={models: [han], options: {epochs: three}}")
    with pytest.raises(PlanError) as err:
        prepare_config(config, SCHEMA)
    assert str(err.value) == "config train.options.epochs: 'three' is not of type 'integer'"


@pytest.mark.parametrize("seed", ["4294967296", "-1"])
@pytest.mark.parametrize(
    "entry",
    [
        "train={{models: [han], seeds: [{}]}}",
        "train={{models: [han], options: {{seed: {}}}}}",
        "train={{models: [han], per_model: {{han: {{seed: {}}}}}}}",
        "features={{shard_size: 4, weights: random, visual: {{}}, audio: {{}}, seed: {}}}",
    ],
)
def test_seeds_outside_numpys_range_are_refused(entry, seed):
    config = demo_config(entry.format(seed))
    with pytest.raises(PlanError, match=r"seed.*(maximum of 4294967295|minimum of 0).*0 to 4294967295") as err:
        prepare_config(config, SCHEMA)
    assert "\n" not in str(err.value)


def test_the_largest_seed_numpy_and_torch_take_is_accepted():
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    config = demo_config("train={models: [han], seeds: [0, 4294967295]}")
    prepare_config(config, SCHEMA)
    np.random.seed(config["train"]["seeds"][1])
    torch.manual_seed(config["train"]["seeds"][1])


def config_examples(text: str) -> list[list[str]]:
    """The ``key=value`` arguments of every ``--config`` in ``text``'s code (inline spans and blocks)."""
    fence = r"```\w*\n(.*?)```"
    code = re.findall(fence, text, re.S) + re.findall(r"`([^`]+)`", re.sub(fence, "", text, flags=re.S))
    examples = []
    for snippet in (c for c in code if "--config " in c):
        words = shlex.split(snippet.replace("\\\n", " "))
        for i, word in enumerate(words):
            if word == "--config":
                entries = []
                for w in words[i + 1 :]:
                    if w.startswith("-") or "=" not in w:
                        break
                    entries.append(w)
                examples.append(entries)
    return examples


def test_the_examples_are_found():
    found = config_examples((REPO / "docs/reproduction.md").read_text())
    assert ["refine={source: file, file: PATH}"] in found
    assert ["train={models: [valor++]}", "pseudo_labels={source: released, dir: FEATURES}"] in found


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_config_example_in_the_docs_is_accepted(doc):
    for entries in config_examples(doc.read_text()):
        config = demo_config(*entries)
        prepare_config(config, SCHEMA)
