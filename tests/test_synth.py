"""Tests of the synthetic LLP-like demo data (the avvp_pipeline.data.synth package).

Tiny specs (a handful of 64x48 clips) keep the whole file to a few seconds; the real LLP
annotation files (``LLP_DIR``, when present) pin the exact CSV layout.
"""

from __future__ import annotations

import colorsys
import itertools
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import llp_dir

from avvp_pipeline.data.llp import CLASSES
from avvp_pipeline.data.synth.audio import render_audio
from avvp_pipeline.data.synth.clip_file import write_clip
from avvp_pipeline.data.synth.clip_plan import Clip, plan, video_filenames
from avvp_pipeline.data.synth.frames import render_frames
from avvp_pipeline.data.synth.generator import generate
from avvp_pipeline.data.synth.signatures import ClassSignature, signatures
from avvp_pipeline.data.synth.spec import SynthSpec
from avvp_pipeline.media.ffmpeg_bin import ffmpeg_exe

LLP_DIR = llp_dir()
NAME_RE = re.compile(r"^[A-Za-z0-9_-]{11}_(\d+)_(\d+)$")
TINY = dict(n_train=3, n_val=2, n_test=2, width=64, height=48)
WEAK_FILES = ["AVVP_train.csv", "AVVP_val_pd.csv", "AVVP_test_pd.csv", "AVVP_dataset_full.csv"]
DENSE_FILES = ["AVVP_eval_audio.csv", "AVVP_eval_visual.csv"]


def read_tsv(path: Path) -> tuple[list[str], list[list[str]]]:
    text = path.read_text(encoding="utf-8")
    assert text.endswith("\n") and "\r" not in text
    lines = text[:-1].split("\n")
    return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]


def decode_audio(path: Path, sr: int = 16000) -> np.ndarray:
    out = subprocess.run(
        [
            ffmpeg_exe(),
            "-nostdin",
            "-loglevel",
            "error",
            "-i",
            str(path),
            "-vn",
            "-ac",
            "1",
            "-ar",
            str(sr),
            "-f",
            "f32le",
            "pipe:1",
        ],
        capture_output=True,
        check=True,
    ).stdout
    return np.frombuffer(out, dtype="<f4")


def colour_pixels(frames: np.ndarray, colour, tol: int = 60) -> np.ndarray:
    """Number of pixels per frame within ``tol`` (every channel) of ``colour``."""
    diff = np.abs(frames.astype(np.int16) - np.array(colour, np.int16))
    return (diff.max(axis=-1) < tol).sum(axis=(1, 2))


def band_energy(x: np.ndarray, sr: int, sig: ClassSignature, rel: float = 0.03) -> float:
    """Energy of ``x`` around the base frequency of ``sig`` (over the sweep of a chirp)."""
    top = sig.base_freq * (1.3 if sig.pattern == "chirp" else 1.0)
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / sr)
    return float(spec[(freqs >= sig.base_freq * (1 - rel)) & (freqs <= top * (1 + rel))].sum())


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    spec = SynthSpec(seed=3, **TINY)
    root = tmp_path_factory.mktemp("synth")
    generate(spec, root / "videos", root / "annotations", jobs=1, progress=False)
    return spec, root / "videos", root / "annotations"


# ------------------------------------------------------------------------------ spec / plan


def test_from_dict_roundtrip_and_unknown_keys():
    spec = SynthSpec.from_dict({"seed": 5, "n_train": 4, "classes": ["Dog", "Cat"], "fps": 25})
    assert spec.classes == ("Dog", "Cat") and spec.fps == 25.0 and spec.n_val == SynthSpec().n_val
    assert SynthSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert all(1 <= len(c.labels) <= 2 for c in plan(spec))  # max_classes 3 > 2 classes
    with pytest.raises(ValueError, match="bogus.*frames|frames.*bogus"):
        SynthSpec.from_dict({"seed": 1, "bogus": 2, "frames": 3})
    with pytest.raises(ValueError, match="Kazoo"):
        SynthSpec(classes=("Dog", "Kazoo"))
    with pytest.raises(ValueError):
        SynthSpec(max_classes=0)
    with pytest.raises(ValueError):
        SynthSpec(width=65)
    with pytest.raises(ValueError):
        SynthSpec(min_event=5, max_event=3)


def test_default_classes_are_llp_and_signatures_distinct():
    spec = SynthSpec()
    sigs = signatures(spec)
    assert list(sigs) == list(spec.classes) and len(spec.classes) == 6
    for attr in ("colour", "shape", "motion", "base_freq", "pattern"):
        assert len({getattr(s, attr) for s in sigs.values()}) == 6, attr
    freqs = sorted(s.base_freq for s in sigs.values())
    assert freqs[0] == pytest.approx(250) and freqs[-1] == pytest.approx(4000)
    all25 = SynthSpec(classes=tuple(CLASSES))
    combos = {(s.colour, s.shape, s.motion) for s in signatures(all25).values()}
    assert len(combos) == 25


MADE_UP = tuple(f"Kazoo_{i:02d}" for i in range(40))


def made_up_spec(**kw) -> SynthSpec:
    """40 classes of a vocabulary of their own and clips of 4..30 s (the LLP files hold neither)."""
    return SynthSpec(vocabulary=MADE_UP, classes=MADE_UP, duration=[4, 30], **kw)


def test_class_list_and_clip_length_are_spec_fields():
    spec = made_up_spec(seed=2)
    assert spec.duration == (4, 30) and spec.classes == MADE_UP
    assert SynthSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert SynthSpec(duration=[10, 10]) == SynthSpec() and "vocabulary" not in SynthSpec().to_dict()
    with pytest.raises(ValueError, match="Kazoo_00"):
        SynthSpec(classes=MADE_UP)  # not LLP classes
    with pytest.raises(ValueError, match="Speech"):
        SynthSpec(vocabulary=MADE_UP)  # the default classes are not in this vocabulary
    for bad in ([5, 3], [0, 4], [4, 8, 9], "10"):
        with pytest.raises(ValueError, match="duration"):
            SynthSpec(duration=bad)
    with pytest.raises(ValueError, match="shortest"):
        SynthSpec(duration=[1, 20])  # min_event 2 does not fit a 1-s clip
    with pytest.raises(ValueError, match="usable"):
        SynthSpec(vocabulary=("a,b",), classes=("a,b",))


@pytest.mark.parametrize("n", [37, 40, 64, 73, 100, 108])
def test_signatures_stay_distinguishable_up_to_about_100_classes(n):
    """Classes that share a shape and a motion differ in hue by >= 100 degrees; classes that share a sound
    pattern differ in base frequency by >= 10 %."""
    names = [f"c{i}" for i in range(n)]
    sigs = list(signatures(SynthSpec(vocabulary=names, classes=names)).values())

    def hue(s: ClassSignature) -> float:
        return colorsys.rgb_to_hsv(*(c / 255 for c in s.colour))[0] * 360

    for a, b in itertools.combinations(sigs, 2):
        if (a.shape, a.motion) == (b.shape, b.motion):
            d = abs(hue(a) - hue(b))
            assert min(d, 360 - d) >= 100, (a, b)
        if a.pattern == b.pattern:
            assert max(a.base_freq, b.base_freq) >= 1.1 * min(a.base_freq, b.base_freq), (a, b)


def test_plan_keeps_events_inside_each_clips_length():
    spec = made_up_spec(seed=4, n_train=150, n_val=25, n_test=25)
    clips = plan(spec)
    assert plan(made_up_spec(seed=4, n_train=150, n_val=25, n_test=25)) == clips
    lengths = [c.duration for c in clips]
    assert min(lengths) == 4 and max(lengths) == 30 and len(set(lengths)) > 15
    for c in clips:
        start, end = map(int, NAME_RE.match(c.filename).groups())
        assert end - start == c.duration and set(c.labels) <= set(MADE_UP)
        for _, on, off in c.audio_events + c.visual_events:
            assert 0 <= on < off <= c.duration and spec.min_event <= off - on <= min(spec.max_event, c.duration)
    # the names' ids do not depend on the lengths
    fixed = SynthSpec(seed=4, n_train=150, n_val=25, n_test=25)
    assert [c.video_id for c in clips] == [c.video_id for c in plan(fixed)]


@pytest.mark.media
def test_a_clip_of_a_drawn_length_is_rendered_that_long(tmp_path):
    import decord

    from avvp_pipeline.media.probe import probe

    spec = made_up_spec(seed=1, n_train=12, n_val=0, n_test=0, width=16, height=16, fps=4.0)
    clips = sorted(plan(spec), key=lambda c: c.duration)
    assert clips[0].duration < 10 < clips[-1].duration
    for clip in (clips[0], clips[-1]):
        path = tmp_path / f"{clip.video_id}.mp4"
        write_clip(spec, clip, path)
        assert probe(path).duration == pytest.approx(clip.duration, abs=0.1)
        assert len(decord.VideoReader(str(path))) == spec.n_frames(clip.duration)
        assert abs(len(decode_audio(path)) - spec.n_samples(clip.duration)) <= 1600


def test_generate_refuses_a_set_the_llp_files_cannot_hold(tmp_path):
    tiny = dict(n_train=1, n_val=1, n_test=1, width=16, height=16)
    with pytest.raises(ValueError, match="LLP's classes only, not Kazoo_00"):
        generate(made_up_spec(**tiny), tmp_path / "v", tmp_path / "a", progress=False)
    with pytest.raises(ValueError, match=r"10-s clips only, not duration \[4, 8\]"):
        generate(SynthSpec(duration=[4, 8], **tiny), tmp_path / "v", tmp_path / "a", progress=False)
    assert not (tmp_path / "v").exists() and not (tmp_path / "a").exists()


def test_filenames_deterministic_unique_llp_style():
    spec = SynthSpec(seed=1, n_train=60, n_val=20, n_test=20)
    names = video_filenames(spec)
    assert list(names) == ["train", "val", "test"]
    assert [len(names[s]) for s in names] == [60, 20, 20]
    assert names == video_filenames(SynthSpec(seed=1, n_train=60, n_val=20, n_test=20))
    assert names != video_filenames(SynthSpec(seed=2, n_train=60, n_val=20, n_test=20))
    flat = [f for s in names.values() for f in s]
    for f in flat:
        m = NAME_RE.match(f)
        assert m, f
        assert int(m.group(2)) - int(m.group(1)) == 10
    ids = [f[:11] for f in flat]
    assert len(set(ids)) == len(ids)
    assert any("_" in i for i in ids) and any("-" in i for i in ids)


def test_plan_deterministic_and_event_model():
    spec = SynthSpec(seed=7, n_train=150, n_val=25, n_test=25)
    clips = plan(spec)
    assert clips == plan(SynthSpec(seed=7, n_train=150, n_val=25, n_test=25))
    assert clips != plan(SynthSpec(seed=8, n_train=150, n_val=25, n_test=25))
    names = video_filenames(spec)
    assert [c.filename for c in clips] == names["train"] + names["val"] + names["test"]
    assert [c.split for c in clips] == ["train"] * 150 + ["val"] * 25 + ["test"] * 25
    kinds = set()
    n_classes = set()
    for c in clips:
        assert 1 <= len(c.labels) <= spec.max_classes and len(set(c.labels)) == len(c.labels)
        n_classes.add(len(c.labels))
        assert set(c.labels) <= set(spec.classes)
        a = [e[0] for e in c.audio_events]
        v = [e[0] for e in c.visual_events]
        assert len(set(a)) == len(a) and len(set(v)) == len(v)
        assert set(a) | set(v) == set(c.labels)
        for cls in c.labels:
            kinds.add((cls in a, cls in v))
        for _, on, off in c.audio_events + c.visual_events:
            assert isinstance(on, int) and isinstance(off, int)
            assert 0 <= on < off <= 10 and spec.min_event <= off - on <= spec.max_event
    assert kinds == {(True, False), (False, True), (True, True)}
    assert n_classes == {1, 2, 3}


# ------------------------------------------------------------------------------- annotations


def test_annotation_files_match_llp_format(tiny):
    spec, videos, ann = tiny
    clips = plan(spec)
    expected = {"synth_spec.json", *WEAK_FILES, *DENSE_FILES}
    assert {p.name for p in ann.iterdir()} == expected
    for name in WEAK_FILES + DENSE_FILES:
        header, rows = read_tsv(ann / name)
        if LLP_DIR.is_dir():
            real_header, _ = read_tsv(LLP_DIR / name)
            assert header == real_header
        assert header == (
            ["filename", "event_labels"] if name in WEAK_FILES else ["filename", "onset", "offset", "event_labels"]
        )
        assert all(len(r) == len(header) for r in rows)

    def weak(name):
        return {r[0]: r[1].split(",") for r in read_tsv(ann / name)[1]}

    splits = {"train": "AVVP_train.csv", "val": "AVVP_val_pd.csv", "test": "AVVP_test_pd.csv"}
    for split, name in splits.items():
        w = weak(name)
        mine = [c for c in clips if c.split == split]
        assert list(w) == [c.filename for c in mine]
        assert all(tuple(w[c.filename]) == c.labels for c in mine)
    full = [r[0] for r in read_tsv(ann / "AVVP_dataset_full.csv")[1]]
    assert full == [c.filename for c in clips]

    evaluated = {c.filename: c for c in clips if c.split in ("val", "test")}
    dense_classes: dict[str, set] = {f: set() for f in evaluated}
    for name, attr in (("AVVP_eval_audio.csv", "audio_events"), ("AVVP_eval_visual.csv", "visual_events")):
        rows = read_tsv(ann / name)[1]
        for f, on, off, cls in rows:
            assert f in evaluated, "dense rows only for val and test"
            assert re.fullmatch(r"\d+", on) and re.fullmatch(r"\d+", off)
            assert 0 <= int(on) < int(off) <= 10
            assert cls in spec.classes and "," not in cls
            dense_classes[f].add(cls)
        got = sorted((f, int(on), int(off), cls) for f, on, off, cls in rows)
        want = sorted((c.filename, on, off, cls) for c in evaluated.values() for cls, on, off in getattr(c, attr))
        assert got == want
    for f, c in evaluated.items():
        assert dense_classes[f] == set(c.labels)
    assert SynthSpec.from_dict(json.loads((ann / "synth_spec.json").read_text())) == spec


def test_videos_decode(tiny):
    import decord

    spec, videos, _ = tiny
    clips = plan(spec)
    assert sorted(p.name for p in videos.iterdir()) == sorted(f"{c.video_id}.mp4" for c in clips)
    for clip in clips[:2]:
        path = videos / f"{clip.video_id}.mp4"
        vr = decord.VideoReader(str(path))
        assert abs(len(vr) - 240) <= 1
        assert vr.get_avg_fps() == pytest.approx(spec.fps, abs=0.01)
        assert vr[0].shape == (spec.height, spec.width, 3)
        audio = decode_audio(path)
        assert abs(len(audio) - 160000) <= 1600
        assert np.abs(audio).max() <= 1.0


# ------------------------------------------------------------------------------- the media


def test_render_deterministic():
    spec = SynthSpec(seed=4, **TINY)
    clip = plan(spec)[0]
    f1, a1 = render_frames(spec, clip), render_audio(spec, clip)
    assert f1.shape == (240, 48, 64, 3) and f1.dtype == np.uint8
    assert a1.shape == (160000,) and a1.dtype == np.float32 and np.abs(a1).max() <= 1.0
    assert np.array_equal(f1, render_frames(spec, clip))
    assert np.array_equal(a1, render_audio(spec, clip))
    other = SynthSpec(seed=5, **TINY)
    assert not np.array_equal(f1, render_frames(other, clip))
    assert not np.array_equal(a1, render_audio(other, clip))


def test_planted_events_are_in_the_media(tmp_path):
    import decord

    spec = SynthSpec(seed=0, **TINY)
    sigs = signatures(spec)
    # Speech: visual only in [2, 5); Dog: audio only in [6, 9); Car: audio-visual, apart in time.
    clip = Clip(
        "abc_DEF-123_0_10",
        "test",
        ("Speech", "Dog", "Car"),
        audio_events=(("Dog", 6, 9), ("Car", 1, 3)),
        visual_events=(("Speech", 2, 5), ("Car", 7, 10)),
    )
    path = tmp_path / f"{clip.video_id}.mp4"
    write_clip(spec, clip, path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary leftovers

    frames = decord.VideoReader(str(path)).get_batch(list(range(240))).asnumpy()
    t = np.arange(240) / 24
    for cls, on, off in clip.visual_events:
        n = colour_pixels(frames, sigs[cls].colour)
        inside = (t >= on) & (t < off)
        assert n[inside].min() >= 40, cls  # the object is ~16x16 pixels
        assert n[~inside].max() <= 2, cls
    for cls in ("Dog",):  # never visible
        assert colour_pixels(frames, sigs[cls].colour).max() <= 2

    audio = decode_audio(path)[:160000]
    sec = [audio[i * 16000 : (i + 1) * 16000] for i in range(10)]
    for cls, on, off in clip.audio_events:
        e = np.array([band_energy(s, 16000, sigs[cls]) for s in sec])
        inside = np.zeros(10, bool)
        inside[on:off] = True
        assert e[inside].min() > 100 * e[~inside].max(), (cls, e)
    e = np.array([band_energy(s, 16000, sigs["Speech"]) for s in sec])
    assert e.max() < 0.01 * band_energy(sec[6], 16000, sigs["Dog"])  # Speech is silent


def test_ffmpeg_failure_names_clip(tmp_path, monkeypatch):
    fake = tmp_path / "fake_ffmpeg"
    fake.write_text("#!/bin/sh\ncat >/dev/null\necho 'boom: encoder exploded' >&2\nexit 1\n")
    fake.chmod(0o755)
    import avvp_pipeline.media.ffmpeg_bin as fb

    monkeypatch.setattr(fb, "ffmpeg_exe", lambda: str(fake))
    spec = SynthSpec(**TINY)
    clip = plan(spec)[0]
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="encoder exploded") as info:
        write_clip(spec, clip, out / "x.mp4")
    assert clip.filename in str(info.value)
    assert list(out.iterdir()) == []


def test_generate_parallel_matches_plan(tmp_path):
    spec = SynthSpec(seed=9, n_train=2, n_val=1, n_test=1, width=64, height=48)
    generate(spec, tmp_path / "v", tmp_path / "a", jobs=2, progress=False)
    clips = plan(spec)
    assert sorted(p.name for p in (tmp_path / "v").iterdir()) == sorted(f"{c.video_id}.mp4" for c in clips)
    assert all((tmp_path / "v" / f"{c.video_id}.mp4").stat().st_size > 1000 for c in clips)
    with pytest.raises(ValueError):
        generate(spec, tmp_path / "v", tmp_path / "a", jobs=0, progress=False)
