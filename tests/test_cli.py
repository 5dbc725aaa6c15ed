"""The ``avvp`` command: its help is short and grouped, the package's files stay small, and every ``avvp ...``
command the rules, scripts and docs spell exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from avvp_pipeline.cli import build_arg_parser, main

REPO = Path(__file__).resolve().parents[1]
GROUPS = ["stages", "imports", "tools", "benchmarks"]
NESTED = {"import", "bench"}  # commands whose first argument is itself a command
MENTION = re.compile(r"\bavvp(?: -{1,2}[a-z]+)* ([a-z][a-z0-9-]*)(?: ([a-z][a-z0-9-]*))?")


def _help(argv: list[str], capsys) -> tuple[int, str]:
    with pytest.raises(SystemExit) as exit_:
        build_arg_parser().parse_args([*argv, "--help"])
    return exit_.value.code, capsys.readouterr().out


def test_top_level_help_lists_every_command_once_under_its_group(capsys):
    code, text = _help([], capsys)
    assert code == 0 and len(text.splitlines()) < 45
    titles = [line.split(" (")[0].rstrip(":") for line in text.splitlines() if line and not line.startswith(" ")]
    assert [t for t in titles if t in GROUPS] == GROUPS
    listed = [line.split()[0] for line in text.splitlines() if line.startswith("  ") and not line.startswith("  -")]
    assert len(listed) == len(set(listed))
    assert {"synth", "extract", "train", "import", "parse", "verify", "provenance", "models", "bench"} <= set(listed)
    assert not {"import-features", "import-model", "import-pseudo-labels", "import-refined"} & set(listed)


@pytest.mark.parametrize("kind", ["features", "model", "pseudo-labels", "refined"])
def test_import_is_one_verb_with_a_kind(kind, capsys):
    code, text = _help(["import", kind], capsys)
    assert code == 0 and text.startswith(f"usage: avvp import {kind}")


def test_old_import_spellings_are_gone(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["import-features", "--help"])
    assert exit_.value.code == 2


def _mentions() -> set[tuple[str, ...]]:
    """Every ``avvp COMMAND`` (and ``avvp import KIND``, ``avvp bench NAME``) in the rules, scripts, docs and
    the package's own messages."""
    files = [REPO / "README.md", REPO / "Snakefile", REPO / "config.yaml"]
    for folder, pattern in [("docs", "*.md"), ("workflow", "*"), ("scripts", "*"), ("avvp_pipeline", "*.py")]:
        files += [p for p in (REPO / folder).rglob(pattern) if p.is_file() and p.suffix not in {".png", ".json"}]
    found = set()
    for path in files:
        for first, second in MENTION.findall(path.read_text(encoding="utf-8", errors="replace")):
            found.add((first, second) if first in NESTED and second else (first,))
    return found


def test_every_avvp_command_the_repo_spells_exists(capsys):
    mentions = _mentions()
    assert ("import", "features") in mentions and ("train",) in mentions
    missing = [" ".join(m) for m in sorted(mentions) if _help(list(m), capsys)[0] != 0]
    assert missing == []


def test_cli_modules_stay_small():
    sizes = {p.name: len(p.read_text().splitlines()) for p in (REPO / "avvp_pipeline" / "cli").glob("*.py")}
    assert sizes and max(sizes.values()) <= 550, sizes
