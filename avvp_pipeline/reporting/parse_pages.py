"""What ``avvp parse`` writes for people besides ``events.json``: the exports, a page per video and an index.

Per video folder: ``events.csv``, the Audacity label tracks and ``events.vtt``
(:mod:`.event_exports`), ``thumb.jpg``, ``index.html`` (:mod:`.video_page`) and, only when browsers
cannot play the input as it is, ``video.mp4`` (an H.264/AAC copy, :mod:`avvp_pipeline.media.web_copy`);
a playable input is referenced where it lies, by a path relative to the page. In the run's folder:
``index.html``, every parsed video with its thumbnail, duration and events per modality, and the
inputs that failed with the reason.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from urllib.parse import quote

import numpy as np

from ..fileio import shown, write_text
from ..media.probe import MediaError, MediaInfo, probe
from ..media.web_copy import browser_copy, playable_as_is, thumbnail
from .event_exports import AUDACITY_NAMES, CSV_NAME, MODALITIES, VTT_NAME, vtt_cues, write_exports
from .video_page import ASSETS, PAGE_NAME, class_probs, html_text, lanes, relative_url, render, write_page

log = logging.getLogger(__name__)

COPY_NAME, THUMB_NAME = "video.mp4", "thumb.jpg"
#: Every file :func:`write_video_outputs` may write into a video's folder.
PAGE_FILES = (PAGE_NAME, THUMB_NAME, COPY_NAME, CSV_NAME, VTT_NAME, *AUDACITY_NAMES.values())


def player_source(
    video: Path, folder: Path, duration: float, info: MediaInfo | None = None
) -> tuple[str | None, str | None]:
    """``(URL for the page's player or None, note)``: the input itself when browsers play it (``info``: its
    probe, probed here when not given), else a copy made in ``folder``; a failed copy gives no URL and a
    note saying why (the page works without)."""
    copy = folder / COPY_NAME
    try:
        if playable_as_is(video, probe(video) if info is None else info):
            copy.unlink(missing_ok=True)  # from an earlier run of a file that was not playable then
            return relative_url(video, folder), None
        browser_copy(video, copy, duration)
        return COPY_NAME, None
    except MediaError as exc:
        log.warning("no playable copy for the page of %s: %s", video, exc)
        return None, f"No playable copy of the video could be made: {exc}"


def write_video_outputs(
    folder: str | Path, doc: dict, result: dict, video: str | Path, info: MediaInfo | None = None
) -> Path:
    """Write the exports, the thumbnail and the page of one parsed video into ``folder`` (beside its
    ``events.json`` document ``doc``; ``result`` holds the per-second ``prob_audio``/``prob_visual``;
    ``info``: the video's probe, probed here when not given)."""
    folder, video = Path(folder), Path(video)
    write_exports(doc, folder)
    duration = float(doc["duration"])
    src, note = player_source(video, folder, duration, info)
    try:
        thumbnail(video, folder / THUMB_NAME, min(1.0, duration / 2))
    except MediaError as exc:
        log.warning("no thumbnail for %s: %s", video, exc)
    events = {key: doc[key] for key in MODALITIES}
    counts = ", ".join(f"{len(doc[key])} {words}" for key, words in MODALITIES.items())
    links = [
        {"href": quote(name), "text": name}
        for name in ("events.json", CSV_NAME, VTT_NAME, *AUDACITY_NAMES.values(), "timeline.png")
    ]
    entry = {
        "key": folder.name,
        "name": shown(video.name),
        "duration": duration,
        "src": src,
        "note": note,
        "vtt": VTT_NAME,
        "cues": vtt_cues(doc),
        "lanes": lanes(events),
        "probs": class_probs(events, np.asarray(result["prob_audio"]), np.asarray(result["prob_visual"])),
        "subtitle": f"{shown(doc['video'])}: {duration:.1f} s, parsed by {doc['model']} (gate {doc['gate']})"
        + ("" if doc.get("has_audio", True) else "; no audio track"),
        "info": f"Events: {counts}." + _weights_note(doc),
        "links": links,
    }
    return write_page(
        folder / PAGE_NAME, {"title": "avvp parse", "videos": [entry]}, f"{shown(video.name)}: parsed events"
    )


def _weights_note(doc: dict) -> str:
    """The weights that made the features, as ``events.json`` records them (none in older files)."""
    used = doc.get("weights") or {}
    shown_ids = [f"{name} {w['weights_id']} (sha256 {w['weights_sha256'][:12]})" for name, w in used.items()]
    return f" Features made with the weights: {'; '.join(shown_ids)}." if shown_ids else ""


def _row(folder: str, out_dir: Path) -> str:
    """One table row of the index for a parsed video folder."""
    link = quote(folder) + "/" + PAGE_NAME
    try:
        doc = json.loads((out_dir / folder / "events.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return (
            f'<tr><td></td><td><a href="{html_text(link)}">{html_text(folder)}</a></td>'
            f'<td colspan="4">cannot read events.json ({html_text(str(exc))})</td></tr>'
        )
    thumb = (
        f'<img src="{html_text(quote(folder) + "/" + THUMB_NAME)}" alt="" loading="lazy">'
        if (out_dir / folder / THUMB_NAME).is_file()
        else ""
    )
    counts = "".join(f'<td class="n">{len(doc.get(key, []))}</td>' for key in MODALITIES)
    return (
        f'<tr><td class="thumb"><a href="{html_text(link)}">{thumb}</a></td>'
        f'<td><a href="{html_text(link)}">{html_text(shown(Path(str(doc.get("video", folder))).name))}</a>'
        f'<div class="path">{html_text(shown(doc.get("video", "")))}</div></td>'
        f'<td class="n">{float(doc.get("duration", 0)):.1f} s</td>{counts}</tr>'
    )


def write_parse_index(out_dir: str | Path, folders: dict[str, str], status: dict[str, str], model: str) -> Path:
    """``out_dir/index.html``: every parsed video (``folders``: input -> folder, ``status``: input -> "ok" or
    the reason it failed) with a link to its page, then the failures."""
    out_dir = Path(out_dir)
    parsed = list(dict.fromkeys(folders[v] for v, s in status.items() if s == "ok" and v in folders))
    failed = [(v, s) for v, s in status.items() if s != "ok"]
    head = "".join(f'<th class="n">{html_text(words)}</th>' for words in MODALITIES.values())
    rows = "\n".join(_row(folder, out_dir) for folder in parsed)
    body = (
        f"<h1>Parsed by {html_text(model)}</h1>"
        f"<p>{len(parsed)} video{'s' if len(parsed) != 1 else ''} parsed, {len(failed)} failed. "
        "Events per modality; click a video to play it under its events.</p>"
        f'<table><thead><tr><th></th><th>video</th><th class="n">duration</th>{head}</tr></thead>'
        f"<tbody>\n{rows}\n</tbody></table>"
    )
    if failed:
        body += (
            '<h2>Failed</h2><table class="failures"><thead><tr><th>input</th><th>reason</th></tr></thead><tbody>'
            + "".join(f"<tr><td>{html_text(shown(v))}</td><td>{html_text(shown(s))}</td></tr>" for v, s in failed)
            + "</tbody></table>"
        )
    html = render(
        (ASSETS / "index_page.html").read_text(encoding="utf-8"),
        {"TITLE": html_text(f"Parsed by {model}"), "BODY": body},
    )
    write_text(out_dir / PAGE_NAME, html)
    return out_dir / PAGE_NAME
