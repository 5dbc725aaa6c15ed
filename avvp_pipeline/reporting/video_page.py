"""Self-contained HTML pages that play videos under their event lanes: no server, no network, no framework.

A page is one file: ``assets/video_page.html`` with ``video_page.css`` and ``video_page.js`` inlined and
its data in a ``<script type="application/json">`` block (every ``<``, ``>`` and ``&`` escaped, so no file
name or label can end the block; the script sets all text with ``textContent``). The data::

    {"title": str, "subtitle": str, "empty": str (shown when there are no videos),
     "videos": [{"key", "name", "subtitle", "choice" (its line in the video picker), "duration",
                 "src" (URL of a playable video, relative to the page, or null), "note" (shown without one),
                 "vtt" (URL of events.vtt or null), "cues": [{start, end, text}] (the same captions),
                 "lanes": [{"key", "title", "truth", "events": [{label, onset, offset, score|null}]}],
                 "probs": {label: {"audio": [p per second], "visual": [...]}}, "info", "links": [{href, text}]}]}

Lanes are ``audio`` (heard), ``visual`` (seen), ``audio_visual`` (heard and seen) and, for evaluated
models, ``gt_audio`` / ``gt_visual`` (the truth); ``probs`` holds the classes that occur in a lane.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from urllib.parse import quote

import numpy as np

from ..data.llp import CLASSES
from ..fileio import write_text

ASSETS = Path(__file__).with_name("assets")
LANE_TITLES = {
    "audio": "heard",
    "visual": "seen",
    "audio_visual": "heard and seen",
    "gt_audio": "heard (truth)",
    "gt_visual": "seen (truth)",
}
PAGE_NAME = "index.html"


def script_json(obj) -> str:
    """``obj`` as JSON that is safe inside ``<script type="application/json">`` (and valid JSON)."""
    # ASCII: a file name that is not UTF-8 (undecodable bytes kept as lone surrogates) stays valid JSON
    text = json.dumps(obj, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    for char, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(char, escaped)
    return text


def html_text(text: str) -> str:
    """``text`` escaped for HTML element content and attribute values (bytes that are not UTF-8 shown as �)."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("'", "&#39;")
    )


def relative_url(target: str | Path, page_dir: str | Path) -> str:
    """A URL of ``target`` relative to a page in ``page_dir`` (percent-encoded; any file name survives,
    non-UTF-8 ones by their bytes); an absolute ``file://`` URL where no relative path exists."""
    try:
        rel = os.path.relpath(os.path.abspath(target), os.path.abspath(page_dir))
    except ValueError:  # another drive (Windows)
        return Path(os.path.abspath(target)).as_uri()
    return quote(os.fsencode(rel.replace(os.sep, "/")), safe="/")


def lanes(events: dict[str, list[dict]]) -> list[dict]:
    """The lanes of a page from ``{lane key: events}``, in :data:`LANE_TITLES` order."""
    return [
        {"key": key, "title": title, "truth": key.startswith("gt_"), "events": events[key]}
        for key, title in LANE_TITLES.items()
        if key in events
    ]


def class_probs(
    events: dict[str, list[dict]],
    prob_audio: np.ndarray,
    prob_visual: np.ndarray,
    classes: tuple[str, ...] = CLASSES,
) -> dict:
    """Per-segment audio and visual probabilities (rounded to 3 places; ``prob_*`` (C, S), one row per name
    of ``classes``) of every class that occurs in a lane."""
    shown = sorted({e["label"] for evs in events.values() for e in evs}, key=classes.index)
    out = {}
    for label in shown:
        c = classes.index(label)
        out[label] = {
            "audio": np.round(prob_audio[c].astype(float), 3).tolist(),
            "visual": np.round(prob_visual[c].astype(float), 3).tolist(),
        }
    return out


def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def render(template: str, values: dict[str, str]) -> str:
    """Replace each ``@@NAME@@`` of ``template`` in one pass (so no inserted text is searched again)."""
    return re.sub(r"@@([A-Z]+)@@", lambda m: values[m.group(1)], template)


def render_page(data: dict, title: str) -> str:
    """The HTML of a video page with ``data`` (see the module doc)."""
    return render(
        _asset("video_page.html"),
        {
            "TITLE": html_text(title),
            "CSS": _asset("video_page.css"),
            "JS": _asset("video_page.js"),
            "DATA": script_json(data),
        },
    )


def write_page(path: str | Path, data: dict, title: str) -> Path:
    """Write a video page atomically."""
    write_text(path, render_page(data, title))
    return Path(path)
