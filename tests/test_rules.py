"""The rules stay thin: what they plan comes from the package (docs/architecture.md)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RULE_FILES = [ROOT / "Snakefile", *sorted((ROOT / "workflow" / "rules").glob("*.smk"))]


def _count(pattern: str) -> dict[str, int]:
    counts = {f.name: len(re.findall(pattern, f.read_text(), re.M)) for f in RULE_FILES}
    return {name: n for name, n in counts.items() if n}


def test_one_wildcard_constraints_block_for_every_rule():
    assert _count(r"^\s*wildcard_constraints:") == {"common.smk": 1}
