"""Pages of parsed and evaluated videos and the event exports; the pages are driven in headless Chromium.

The browser tests open the page of a synthetic clip whose events are the planted ground truth
(the ``avvp_pipeline.data.synth`` package), seek by clicking a lane and through the player, and read the "now"
panel, the playhead, the captions and the hover tooltip from the DOM; every request the page makes is
recorded (only ``file://`` URLs are allowed). They skip, saying why, where no Chromium is installed.
``AVVP_SCREENSHOT=PATH`` keeps the screenshot (docs/images/parse-page.png is made this way).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from cdp import Browser, find_chromium

from avvp_pipeline.data.llp import CLASSES
from avvp_pipeline.evaluation.events import events_from
from avvp_pipeline.evaluation.predictions import write_predictions
from avvp_pipeline.fileio import write_json
from avvp_pipeline.media.ffmpeg_bin import ffmpeg_exe
from avvp_pipeline.media.probe import probe
from avvp_pipeline.media.web_copy import MAX_SIDE, playable_as_is
from avvp_pipeline.reporting.event_exports import (
    AUDACITY_NAMES,
    read_audacity,
    read_events_csv,
    read_vtt,
    write_exports,
)
from avvp_pipeline.reporting.model_pages import model_page
from avvp_pipeline.reporting.parse_pages import write_parse_index, write_video_outputs
from avvp_pipeline.reporting.video_page import render_page, script_json

SPEC = dict(seed=3, n_train=4, n_val=2, n_test=2, width=320, height=180, fps=12.0)
SCORES = {"audio": 0.91, "visual": 0.82}


def _planted(clip) -> dict:
    """events.json of a synthetic clip whose events are exactly the planted ones, and its per-second probabilities."""
    pred = {m: np.zeros((25, 10), bool) for m in ("audio", "visual")}
    for m, evs in (("audio", clip.audio_events), ("visual", clip.visual_events)):
        for label, a, b in evs:
            pred[m][CLASSES.index(label), a:b] = True
    prob = {m: np.where(pred[m], SCORES[m], 0.04).astype(np.float32) for m in pred}
    both = pred["audio"] & pred["visual"]
    events = {m: events_from(pred[m], prob[m], 10.0) for m in pred}
    events["audio_visual"] = events_from(both, np.minimum(prob["audio"], prob["visual"]), 10.0)
    return {
        "doc": {
            "video": "",
            "model": "planted",
            "model_path": "",
            "gate": "global",
            "duration": 10.0,
            "windows": 1,
            "has_audio": True,
            **events,
        },
        "result": {"prob_audio": prob["audio"], "prob_visual": prob["visual"]},
    }


@pytest.fixture(scope="module")
def parsed_clip(tmp_path_factory):
    """A rendered synthetic clip with several planted events, parsed into a folder as `avvp parse` does."""
    from avvp_pipeline.data.synth.clip_file import write_clip
    from avvp_pipeline.data.synth.clip_plan import plan
    from avvp_pipeline.data.synth.spec import SynthSpec

    spec = SynthSpec.from_dict(SPEC)
    clip = max(plan(spec), key=lambda c: (len(c.audio_events) + len(c.visual_events), c.filename))
    root = tmp_path_factory.mktemp("page")
    video = root / "in put" / f"{clip.video_id}.mp4"  # a space: the page's URL must be encoded
    video.parent.mkdir()
    write_clip(spec, clip, video)
    out = root / "parsed"
    folder = out / clip.video_id
    planted = _planted(clip)
    doc = {**planted["doc"], "video": str(video.relative_to(root))}  # as given to `avvp parse` run in root
    write_json(doc, folder / "events.json")
    write_video_outputs(folder, doc, planted["result"], video)
    write_parse_index(
        out,
        {str(video): clip.video_id, str(root / "junk.mp4"): "junk"},
        {str(video): "ok", str(root / "junk.mp4"): f"{root / 'junk.mp4'}: empty file (0 bytes)"},
        "planted",
    )
    return {"clip": clip, "doc": doc, "folder": folder, "out": out, "video": video}


# ---------------------------------------------------------------------------------------------- no browser


def test_exports_hold_every_event(parsed_clip):
    doc, folder = parsed_clip["doc"], parsed_clip["folder"]
    rows = read_events_csv(folder / "events.csv")
    expected = [{"modality": key, **e} for key in ("audio", "visual", "audio_visual") for e in doc[key]]
    assert rows == expected and len(rows) >= 4
    for key, name in AUDACITY_NAMES.items():
        assert read_audacity(folder / name) == [(e["onset"], e["offset"], e["label"]) for e in doc[key]]
    assert (folder / "audacity-heard.txt").read_text().splitlines()[0].count("\t") == 2
    cues = read_vtt(folder / "events.vtt")
    words = {"audio": "heard", "visual": "seen", "audio_visual": "heard and seen"}
    assert sorted(cues) == sorted((e["onset"], e["offset"], f"{words[k]}: {e['label']}") for k in words for e in doc[k])


def test_events_csv_cells_never_start_a_spreadsheet_formula(tmp_path):
    doc = {"audio": [{"label": "=HYPERLINK(1)", "onset": 0.0, "offset": 1.0, "score": 0.5}], "visual": []}
    write_exports(doc, tmp_path)
    lines = (tmp_path / "events.csv").read_text().splitlines()
    assert lines[1].split(",")[1] == "'=HYPERLINK(1)"
    assert read_events_csv(tmp_path / "events.csv")[0]["label"] == "=HYPERLINK(1)"


def test_vtt_and_csv_survive_awkward_text(tmp_path):
    doc = {
        "audio": [{"label": 'a<b> & "c", d', "onset": 0.0, "offset": 3661.5, "score": 0.5}],
        "visual": [],
        "audio_visual": [],
    }
    write_exports(doc, tmp_path)
    assert "01:01:01.500" in (tmp_path / "events.vtt").read_text()
    assert "a&lt;b&gt; &amp;" in (tmp_path / "events.vtt").read_text()
    assert read_vtt(tmp_path / "events.vtt") == [(0.0, 3661.5, 'heard: a<b> & "c", d')]
    assert read_events_csv(tmp_path / "events.csv")[0]["label"] == 'a<b> & "c", d'
    with pytest.raises(ValueError, match="events.csv"):
        (tmp_path / "bad.csv").write_text("x,y\n")
        read_events_csv(tmp_path / "bad.csv")


def test_user_strings_cannot_break_out_of_the_page():
    evil = '</script><script>alert(1)</script><!-- "&\u2028'
    data = {"title": evil, "videos": [{"key": evil, "name": evil, "duration": 1.0, "src": None, "lanes": []}]}
    html = render_page(data, evil)
    assert "<script>alert(1)" not in html and "</script><script>" not in html
    block = re.search(r'<script type="application/json" id="page-data">(.*?)</script>', html, re.S).group(1)
    assert json.loads(block) == data
    assert script_json({"x": "<>&"}) == '{"x":"\\u003c\\u003e\\u0026"}'
    with pytest.raises(ValueError):
        script_json({"p": float("nan")})


def test_a_file_name_that_is_not_utf8_gets_a_page(parsed_clip, tmp_path):
    odd = tmp_path / os.fsdecode(b"caf\xe9 <b>.mp4")
    odd.write_bytes(parsed_clip["video"].read_bytes())
    planted = _planted(parsed_clip["clip"])
    doc = {**planted["doc"], "video": str(odd)}
    write_json(doc, tmp_path / "out" / "events.json")
    page = write_video_outputs(tmp_path / "out", doc, planted["result"], odd)
    html = page.read_text(encoding="utf-8")  # strict: undecodable bytes are escaped or replaced, never written raw
    data = json.loads(re.search(r'id="page-data">(.*?)</script>', html, re.S).group(1))
    assert data["videos"][0]["src"] == "../caf%E9%20%3Cb%3E.mp4" and data["videos"][0]["name"] == "caf\\xe9 <b>.mp4"
    assert "<b>" not in html
    write_parse_index(tmp_path, {str(odd): "out"}, {str(odd): "ok"}, "planted")
    assert "caf\\xe9 &lt;b&gt;.mp4" in (tmp_path / "index.html").read_text(encoding="utf-8")  # the bytes named


def _clip(path: Path, args: list[str]) -> Path:
    subprocess.run(
        [
            ffmpeg_exe(),
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=1280x960:rate=10",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440",
            "-t",
            "1.5",
            *args,
            str(path),
        ],
        check=True,
    )
    return path


@pytest.mark.slow
def test_only_unplayable_videos_get_a_capped_h264_copy(tmp_path):
    from avvp_pipeline.reporting.parse_pages import player_source

    mp4 = _clip(tmp_path / "ok.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"])
    avi = _clip(tmp_path / "old.avi", ["-c:v", "mpeg4", "-c:a", "mp3"])
    assert playable_as_is(mp4, probe(mp4)) and not playable_as_is(avi, probe(avi))
    (tmp_path / "a").mkdir()
    assert player_source(mp4, tmp_path / "a", 1.5) == ("../ok.mp4", None)
    # the caller's probe is used as it is: a probe saying "AVI" gets a copy made
    assert player_source(mp4, tmp_path / "a", 1.5, probe(avi)) == ("video.mp4", None)
    (tmp_path / "a" / "video.mp4").unlink()
    assert not (tmp_path / "a" / "video.mp4").exists()
    (tmp_path / "b").mkdir()
    assert player_source(avi, tmp_path / "b", 1.5) == ("video.mp4", None)
    copy = probe(tmp_path / "b" / "video.mp4")
    assert (copy.video_codec, copy.pixel_format, copy.audio_codec) == ("h264", "yuv420p", "aac")
    err = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-i", str(tmp_path / "b" / "video.mp4")], capture_output=True, text=True
    ).stderr
    w, h = map(int, re.search(r"Video: .*?, (\d+)x(\d+)", err).groups())
    assert (w, h) == (960, MAX_SIDE)  # 4:3 kept, shorter side capped
    bad = tmp_path / "bad.mkv"
    bad.write_bytes(b"\x1a\x45\xdf\xa3" + b"\0" * 100)
    src, note = player_source(bad, tmp_path / "b", 1.5)
    assert src is None and "bad.mkv" in note


def test_model_page_shows_the_videos_found_with_truth_lanes(tmp_path):

    rng = np.random.default_rng(0)
    n = 3
    frame = rng.random((n, 10, 2, 25)).astype(np.float32)
    pred_a, pred_v = (frame[:, :, 0] > 0.8).transpose(0, 2, 1), (frame[:, :, 1] > 0.8).transpose(0, 2, 1)
    gt_a = np.zeros((n, 25, 10), np.uint8)
    gt_a[:, 3, 2:6] = 1
    ids = ["AAAAAAAAAAA", "BBBBBBBBBBB", "CCCCCCCCCCC"]
    write_predictions(
        tmp_path / "predictions.h5",
        ids,
        [f"{i}_0_10" for i in ids],
        {
            "frame_prob": frame,
            "pred_audio": pred_a.astype(np.uint8),
            "pred_visual": pred_v.astype(np.uint8),
            "gt_audio": gt_a,
            "gt_visual": np.zeros_like(gt_a),
        },
    )
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "AAAAAAAAAAA.mkv").write_bytes(b"x")
    (videos / "CCCCCCCCCCC.mp4").write_bytes(b"x")
    page = tmp_path / "reports" / "videos" / "han.html"
    assert model_page(tmp_path / "predictions.h5", page, "han", videos) == {"videos": 3, "shown": 2}
    html = page.read_text()
    data = json.loads(re.search(r'id="page-data">(.*?)</script>', html, re.S).group(1))
    assert sorted(v["key"] for v in data["videos"]) == ["AAAAAAAAAAA", "CCCCCCCCCCC"]
    wrong = [v["wrong"] for v in data["videos"]]
    assert wrong == sorted(wrong, reverse=True)
    a = next(v for v in data["videos"] if v["key"] == "AAAAAAAAAAA")
    assert a["src"] == "../../videos/AAAAAAAAAAA.mkv"
    lanes = {lane["key"]: lane for lane in a["lanes"]}
    assert list(lanes) == ["audio", "visual", "audio_visual", "gt_audio", "gt_visual"]
    assert lanes["gt_audio"]["events"] == [{"label": CLASSES[3], "onset": 2.0, "offset": 6.0, "score": None}]
    # the same events as `avvp parse` forms from the same seconds
    assert lanes["audio"]["events"] == events_from(pred_a[0], frame[0, :, 0].T, 10.0)
    assert model_page(tmp_path / "predictions.h5", tmp_path / "none.html", "han", None)["shown"] == 0


# ---------------------------------------------------------------------------------------------- in Chromium


@pytest.fixture(scope="module")
def browser():
    exe = find_chromium()
    if exe is None:
        pytest.skip(
            "no Chromium found (apt-get install -y chromium, or set AVVP_CHROMIUM): the pages are not "
            "opened in a browser"
        )
    with Browser(exe, width=1280, height=680) as b:
        yield b


def _active(clip, t: float) -> set[tuple[str, str]]:
    audio = {(label, a, b) for label, a, b in clip.audio_events}
    visual = {(label, a, b) for label, a, b in clip.visual_events}
    out = {("audio", label) for label, a, b in audio if a <= t < b}
    out |= {("visual", label) for label, a, b in visual if a <= t < b}
    return out | {("audio_visual", label) for m, label in out if m == "audio" and ("visual", label) in out}


def _off_disk(urls: list[str]) -> list[str]:
    """The requested URLs that are neither files nor inline data."""
    return [url for url in urls if not url.startswith(("file://", "data:"))]


def _now_panel(b) -> list[dict]:
    return b.evaluate(
        "Array.from(document.querySelectorAll('#now-list li.event')).map(li => "
        "({lane: li.dataset.lane, label: li.dataset.label, score: li.dataset.score}))"
    )


@pytest.mark.slow
def test_page_plays_seeks_and_lists_the_events_active_now(browser, parsed_clip):
    b, clip = browser, parsed_clip["clip"]
    b.requests.clear()
    b.open((parsed_clip["folder"] / "index.html").as_uri())
    b.wait_for("document.getElementById('player').readyState >= 1", timeout=20)
    assert b.evaluate("document.getElementById('player').duration") == pytest.approx(10.0, abs=0.1)
    # rows: one per class that occurs in each lane
    rows = b.evaluate(
        "Array.from(document.querySelectorAll('.row.cls')).map(r => r.dataset.lane + '|' + r.dataset.label)"
    )
    expected_rows = {
        f"{m}|{label}"
        for m, evs in (("audio", clip.audio_events), ("visual", clip.visual_events))
        for label, _, _ in evs
    }
    expected_rows |= {f"audio_visual|{e['label']}" for e in parsed_clip["doc"]["audio_visual"]}
    assert set(rows) == expected_rows and len(rows) == len(expected_rows)

    # times inside planted events, at least two of them busy, avoiding event edges
    candidates = [s + 0.5 for s in range(10)]
    t1, t2 = sorted(candidates, key=lambda t: (-len(_active(clip, t)), t))[:2]
    assert _active(clip, t1) and _active(clip, t1) != _active(clip, t2) or _active(clip, t2)

    # seek 1: a click on the axis lane at t1
    box = b.evaluate(
        "(() => { const r = document.querySelector('.axis .track').getBoundingClientRect();"
        " return {x: r.left, y: r.top + r.height / 2}; })()"
    )
    pps = b.evaluate("document.querySelector('.axis .track').getBoundingClientRect().width / 10")
    left0 = b.evaluate("parseFloat(document.getElementById('playhead').style.left)")
    b.click(box["x"] + t1 * pps, box["y"])
    b.wait_for(
        f"Math.abs(document.getElementById('player').currentTime - {t1}) < 0.1 && "
        "!document.getElementById('player').seeking"
    )
    panel = _now_panel(b)
    assert {(x["lane"], x["label"]) for x in panel} == _active(clip, t1) and len(panel) == len(_active(clip, t1))
    for x in panel:
        assert float(x["score"]) == pytest.approx(SCORES["visual"] if x["lane"] != "audio" else SCORES["audio"])
    left1 = b.evaluate("parseFloat(document.getElementById('playhead').style.left)")
    assert left1 - left0 == pytest.approx(t1 * pps, abs=0.1 * pps)

    # seek 2: through the player, as its controls (or a caption click) would
    b.evaluate(f"document.getElementById('player').currentTime = {t2}")
    b.wait_for(f"Math.abs(parseFloat(document.getElementById('playhead').dataset.time) - {t2}) < 0.05")
    panel = _now_panel(b)
    assert {(x["lane"], x["label"]) for x in panel} == _active(clip, t2) and len(panel) == len(_active(clip, t2))
    left2 = b.evaluate("parseFloat(document.getElementById('playhead').style.left)")
    assert left2 - left0 == pytest.approx(t2 * pps, abs=0.1 * pps)

    # playing: the playhead follows the player's clock
    b.evaluate("document.getElementById('player').currentTime = 0.2")
    b.wait_for("!document.getElementById('player').seeking")
    b.evaluate("document.getElementById('player').play()", await_promise=True)
    b.wait_for("document.getElementById('player').currentTime > 0.8", timeout=20)
    b.evaluate("document.getElementById('player').pause()")
    played = b.evaluate("document.getElementById('player').currentTime")
    assert float(b.evaluate("document.getElementById('playhead').dataset.time")) == pytest.approx(played, abs=0.3)
    b.evaluate(f"document.getElementById('player').currentTime = {t2}")
    b.wait_for(f"Math.abs(parseFloat(document.getElementById('playhead').dataset.time) - {t2}) < 0.05")

    # captions: the same cues as events.vtt, shown by the player
    cues = b.wait_for(
        "(() => { const t = Array.from(document.getElementById('player').textTracks)"
        ".find(t => t.mode === 'showing'); return t && t.cues && t.cues.length ? "
        "Array.from(t.cues).map(c => [c.startTime, c.endTime, c.text]) : null; })()"
    )
    assert sorted(map(tuple, cues)) == sorted(read_vtt(parsed_clip["folder"] / "events.vtt"))

    # hover: the per-second probability of a class
    label = clip.audio_events[0][0]
    a, _ = clip.audio_events[0][1:]
    row = b.evaluate(
        f'(() => {{ const r = document.querySelector(\'.row.cls[data-lane="audio"][data-label="{label}"] .track\')'
        ".getBoundingClientRect(); return {x: r.left, y: r.top + r.height / 2}; })()"
    )
    b.move(row["x"] + (a + 0.5) * pps, row["y"])
    tip = b.wait_for("!document.getElementById('tooltip').hidden && document.getElementById('tooltip').textContent")
    assert label in tip and f"p(heard) {SCORES['audio']:.3f}" in tip
    assert b.evaluate("document.querySelectorAll('.row.hover svg.prob polygon').length") == 1

    # zoom in: the lanes get wider and the playhead stays on its time
    b.evaluate("document.getElementById('zoom-in').click()")
    assert b.evaluate("document.querySelector('.axis .track').getBoundingClientRect().width") == pytest.approx(
        20 * pps, rel=0.01
    )
    b.evaluate("document.getElementById('zoom-fit').click()")

    png = b.screenshot(os.environ.get("AVVP_SCREENSHOT"))
    import matplotlib.image as mpimg

    img = mpimg.imread(io.BytesIO(png), format="png")[..., :3]
    assert img.shape[:2] == (680, 1280) and img.std() > 0.08
    assert len(np.unique((img * 255).astype(np.uint8).reshape(-1, 3), axis=0)) > 200  # video, bars, text
    # only the page itself, its video and (refused) captions file were asked for, all on disk; data: URLs are
    # the player controls' own icons
    assert _off_disk(b.requests) == [] and any(url.endswith(".mp4") for url in b.requests), b.requests


def test_index_lists_videos_and_failures(browser, parsed_clip):
    b = browser
    b.requests.clear()
    b.open((parsed_clip["out"] / "index.html").as_uri())
    rows = b.evaluate(
        "Array.from(document.querySelectorAll('tbody tr')).map(tr => "
        "Array.from(tr.querySelectorAll('td')).map(td => td.textContent.trim()))"
    )
    doc = parsed_clip["doc"]
    video_row = [r for r in rows if r[1].startswith(parsed_clip["video"].name)]
    assert len(video_row) == 1
    assert video_row[0][2:] == [
        "10.0 s",
        str(len(doc["audio"])),
        str(len(doc["visual"])),
        str(len(doc["audio_visual"])),
    ]
    assert any("junk.mp4" in r[0] and "empty file" in r[1] for r in rows)
    href = b.evaluate("document.querySelector('tbody a').href")
    assert href == (parsed_clip["folder"] / "index.html").as_uri()
    assert b.wait_for("document.querySelector('td.thumb img').naturalWidth") == 160
    assert _off_disk(b.requests) == [] and any(url.endswith("thumb.jpg") for url in b.requests)


def test_model_page_switches_videos_and_shows_the_truth_now(browser, parsed_clip, tmp_path):
    clip = parsed_clip["clip"]
    ids = ["AAAAAAAAAAA", "BBBBBBBBBBB"]
    videos = tmp_path / "videos"
    videos.mkdir()
    for vid in ids:
        (videos / f"{vid}.mp4").write_bytes(parsed_clip["video"].read_bytes())
    gt = np.zeros((2, 2, 25, 10), np.uint8)  # (modality, video, class, second)
    for label, a, b in clip.audio_events:
        gt[0, 1, CLASSES.index(label), a:b] = 1
    for label, a, b in clip.visual_events:
        gt[1, 1, CLASSES.index(label), a:b] = 1
    pred = np.zeros_like(gt)
    pred[:, 1] = gt[:, 1]  # video B: right everywhere
    pred[0, 0, 3, 0:2] = 1  # video A: nothing is true, one event heard: wrong, so listed first
    frame = np.full((2, 10, 2, 25), 0.1, np.float32)
    write_predictions(
        tmp_path / "predictions.h5",
        ids,
        ids,
        {"frame_prob": frame, "pred_audio": pred[0], "pred_visual": pred[1], "gt_audio": gt[0], "gt_visual": gt[1]},
    )
    page = tmp_path / "reports" / "han.html"
    model_page(tmp_path / "predictions.h5", page, "han", videos)
    b = browser
    b.requests.clear()
    b.open(page.as_uri() + "#v=BBBBBBBBBBB")
    b.wait_for("document.getElementById('player').readyState >= 1", timeout=20)
    assert b.evaluate("document.getElementById('video-select').options.length") == 2
    assert b.evaluate("document.getElementById('title').textContent") == "BBBBBBBBBBB.mp4"
    t = next(s + 0.5 for s in range(10) if _active(clip, s + 0.5))
    b.evaluate(f"document.getElementById('player').currentTime = {t}")
    b.wait_for(f"Math.abs(parseFloat(document.getElementById('playhead').dataset.time) - {t}) < 0.05")
    panel = {(x["lane"], x["label"]) for x in _now_panel(b)}
    truth = {("gt_" + m, label) for m, label in _active(clip, t) if m != "audio_visual"}
    assert panel == _active(clip, t) | truth
    assert b.evaluate("Array.from(document.getElementById('video-select').options).map(o => o.value)") == ids
    b.evaluate("document.getElementById('next').click()")  # B is the last: nothing after it
    b.evaluate("document.getElementById('prev').click()")
    b.wait_for("document.getElementById('title').textContent === 'AAAAAAAAAAA.mp4'")
    rows = b.evaluate(
        "Array.from(document.querySelectorAll('.row.cls')).map(r => r.dataset.lane + '|' + r.dataset.label)"
    )
    assert rows == [f"audio|{CLASSES[3]}"]
    assert _off_disk(b.requests) == []
