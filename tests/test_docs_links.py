"""The README and docs/: every relative link points at a file that exists, and the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def relative_links(text: str) -> list[str]:
    """The targets of the Markdown links in ``text`` that name a local file (no URL, no bare anchor)."""
    fence = r"```.*?```"
    targets = LINK.findall(re.sub(fence, "", text, flags=re.S))
    return [t for t in targets if not re.match(r"[a-z]+:|#", t)]


def test_links_are_found():
    assert relative_links("see [a](docs/a.md#x), [b](https://x.org), [c](#y), ![d](img/d.png)") == [
        "docs/a.md#x",
        "img/d.png",
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    broken = [t for t in relative_links(page.read_text()) if not (page.parent / t.split("#")[0]).resolve().exists()]
    assert not broken, f"{page.relative_to(REPO)} links to missing files: {broken}"


def test_readme_stays_short():
    lines = len((REPO / "README.md").read_text().splitlines())
    assert lines < 300, f"README.md has {lines} lines: move the details to docs/"
