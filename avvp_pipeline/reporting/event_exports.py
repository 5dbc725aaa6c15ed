"""The events of one parsed video in the formats other tools read, written next to its ``events.json``.

* ``events.csv``: ``modality,label,onset,offset,score``, one line per event; ``modality`` is the
  events.json key (``audio``, ``visual``, ``audio_visual``), onsets and offsets in seconds; a cell
  that would start a spreadsheet formula gets a leading quote (:func:`~avvp_pipeline.fileio.spreadsheet_cell`).
* ``audacity-heard.txt``, ``audacity-seen.txt``, ``audacity-heard-and-seen.txt``: Audacity label tracks
  (``start<TAB>end<TAB>label``, seconds; File > Import > Labels), one per modality.
* ``events.vtt``: WebVTT captions, one cue per event (``heard: Dog``, ``seen: Dog``,
  ``heard and seen: Dog``); players show the ones active at the playing time.

This module writes and reads all three (every file atomically).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from ..fileio import open_regular, plain_cell, spreadsheet_cell, write_text

MODALITIES = {"audio": "heard", "visual": "seen", "audio_visual": "heard and seen"}  # events.json key -> words
CSV_NAME, VTT_NAME = "events.csv", "events.vtt"
AUDACITY_NAMES = {key: f"audacity-{words.replace(' ', '-')}.txt" for key, words in MODALITIES.items()}
CSV_HEADER = ("modality", "label", "onset", "offset", "score")


def _events(doc: dict):
    """``(key, event)`` of every event of an events.json document, modality by modality."""
    for key in MODALITIES:
        for e in doc.get(key, []):
            yield key, e


def _seconds(x: float) -> str:
    return str(round(float(x), 3))


def csv_text(doc: dict) -> str:
    """``events.csv`` of ``doc``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for key, e in _events(doc):
        cells = [key, e["label"], _seconds(e["onset"]), _seconds(e["offset"]), f"{e['score']:.4f}"]
        writer.writerow([spreadsheet_cell(c) for c in cells])
    return out.getvalue()


def audacity_text(doc: dict, key: str) -> str:
    """The Audacity label track of modality ``key`` (an events.json key)."""
    return "".join(f"{e['onset']:.6f}\t{e['offset']:.6f}\t{_one_line(e['label'])}\n" for e in doc.get(key, []))


def _timestamp(t: float) -> str:
    ms = int(round(t * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _one_line(text: str) -> str:
    return re.sub(r"[\t\r\n]+", " ", text)


def vtt_cues(doc: dict) -> list[dict]:
    """The captions of ``doc``: ``{start, end, text}`` per event, sorted by start (the page shows the same)."""
    cues = [
        {"start": e["onset"], "end": e["offset"], "text": f"{MODALITIES[key]}: {_one_line(e['label'])}"}
        for key, e in _events(doc)
    ]
    return sorted(cues, key=lambda c: (c["start"], c["end"]))


def vtt_text(doc: dict) -> str:
    """``events.vtt`` of ``doc``."""

    def escape(text: str) -> str:  # cue text is markup: & and < start entities and tags
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    blocks = [f"{_timestamp(c['start'])} --> {_timestamp(c['end'])}\n{escape(c['text'])}\n" for c in vtt_cues(doc)]
    return "WEBVTT\n\n" + "\n".join(blocks)


def write_exports(doc: dict, folder: str | Path) -> list[Path]:
    """Write ``events.csv``, the three Audacity label tracks and ``events.vtt`` of ``doc`` into ``folder``."""
    folder = Path(folder)
    files = {
        CSV_NAME: csv_text(doc),
        VTT_NAME: vtt_text(doc),
        **{name: audacity_text(doc, key) for key, name in AUDACITY_NAMES.items()},
    }
    for name, text in files.items():
        write_text(folder / name, text)
    return [folder / name for name in files]


def _read_text(path: str | Path) -> str:
    with open_regular(path, "r", encoding="utf-8") as fh:
        return fh.read()


def read_events_csv(path: str | Path) -> list[dict]:
    """The rows of an ``events.csv`` as ``{modality, label, onset, offset, score}``; ValueError naming the
    file when it is not one."""
    with open_regular(path, "r", newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows or tuple(rows[0]) != CSV_HEADER:
        raise ValueError(f"{path}: not an events.csv (expected the header {','.join(CSV_HEADER)})")
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(CSV_HEADER) or row[0] not in MODALITIES:
            raise ValueError(f"{path}: line {n} is not modality,label,onset,offset,score: {row}")
        out.append(
            {
                "modality": row[0],
                "label": plain_cell(row[1]),
                "onset": float(row[2]),
                "offset": float(row[3]),
                "score": float(row[4]),
            }
        )
    return out


def read_audacity(path: str | Path) -> list[tuple[float, float, str]]:
    """The labels of an Audacity label track as ``(start, end, label)``."""
    out = []
    for n, line in enumerate(_read_text(path).splitlines(), start=1):
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"{path}: line {n} is not start<TAB>end<TAB>label: {line!r}")
        out.append((float(parts[0]), float(parts[1]), parts[2]))
    return out


_CUE_TIME = re.compile(r"^(\d{2,}):(\d{2}):(\d{2})\.(\d{3}) --> (\d{2,}):(\d{2}):(\d{2})\.(\d{3})")


def read_vtt(path: str | Path) -> list[tuple[float, float, str]]:
    """The cues of a WebVTT file as ``(start, end, text)`` (text unescaped, lines joined by newlines)."""
    text = _read_text(path)
    if not text.startswith("WEBVTT"):
        raise ValueError(f"{path}: not a WebVTT file (it must start with WEBVTT)")
    cues = []
    for block in re.split(r"\n\s*\n", text.strip())[1:]:
        lines = block.splitlines()
        m = _CUE_TIME.match(lines[0]) if lines else None
        if not m:
            raise ValueError(f"{path}: a cue without a valid timing line: {block[:60]!r}")
        g = [int(x) for x in m.groups()]
        start = g[0] * 3600 + g[1] * 60 + g[2] + g[3] / 1000
        end = g[4] * 3600 + g[5] * 60 + g[6] + g[7] / 1000
        body = "\n".join(lines[1:]).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        cues.append((start, end, body))
    return cues
