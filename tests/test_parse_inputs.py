"""`avvp parse` inputs: one output folder per file, always inside --out, and every input accounted for
in index.tsv or failures.tsv (csv-quoted, whatever the file names)."""

import csv
import json
import os

import numpy as np
import pytest
import torch
from test_media_timeouts import hanging_ffmpeg  # noqa: F401 (fixture)
from test_parse import _clip, model_path  # noqa: F401 (fixture)

from avvp_pipeline.cli import main
from avvp_pipeline.features.failures import read_failures, write_failures
from avvp_pipeline.fileio import read_tsv, write_tsv
from avvp_pipeline.media import audio as audio_mod
from avvp_pipeline.media.inputs import collect_inputs
from avvp_pipeline.parse import (
    MARKER,
    OutputTaken,
    claim_out_dir,
    is_own_output,
    mark_written,
    output_folders,
    parse_videos,
    safe_name,
)


def _read_tsv(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh, delimiter="\t"))


def test_each_file_gets_its_own_folder(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    videos = [str(tmp_path / n) for n in ("clip.mp4", "clip.mkv", "a/x.mp4", "b/x.mp4", "solo.mp4", "Solo.avi")]
    folders = output_folders(videos)
    assert folders[videos[0]] == "clip.mp4" and folders[videos[1]] == "clip.mkv"
    assert folders[videos[2]].startswith("x.mp4-") and folders[videos[3]].startswith("x.mp4-")
    assert folders[videos[4]] == "solo.mp4" and folders[videos[5]] == "Solo.avi"  # case-insensitive file systems
    assert len({f.casefold() for f in folders.values()}) == len(videos)
    assert output_folders(videos[::-1]) == folders  # deterministic: the order of the inputs does not matter
    assert output_folders([videos[4]]) == {videos[4]: "solo"}  # a unique stem is the folder


def test_a_name_that_is_taken_by_a_disambiguated_one_moves_on(tmp_path):
    videos = [str(tmp_path / n) for n in ("clip.mp4", "clip.mkv", "clip.mp4.avi", "index.tsv.mp4", "failures.tsv.mp4")]
    folders = output_folders(videos)
    assert len({f.casefold() for f in folders.values()}) == len(videos)
    assert folders[videos[3]] == "index.tsv.mp4" and folders[videos[4]] == "failures.tsv.mp4"  # never the run's files


def test_the_same_file_named_twice_shares_its_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folders = output_folders(["clip.mp4", "./clip.mp4", str(tmp_path / "clip.mp4")])
    assert set(folders.values()) == {"clip"}


@pytest.mark.parametrize(
    "name", ["..", ".", "", "...", ".hidden", "a/b", "..\\..\\x", "new\nline\ttab", "\udcff\udcfe", "é" * 300, " "]
)
def test_folder_names_stay_inside_out(tmp_path, name):
    folder = safe_name(name)
    assert folder and not folder.startswith(".") and "/" not in folder and "\\" not in folder
    assert len(folder.encode()) <= 180 and folder.isprintable()
    assert (tmp_path / folder).resolve().parent == tmp_path.resolve()


def test_dotted_stems_never_escape_out(tmp_path):
    videos = [str(tmp_path / n) for n in ("...mp4", "..mp4", ".mp4.mp4", "-.mp4")]
    for folder in output_folders(videos).values():
        assert (tmp_path / "out" / folder).resolve().parent == (tmp_path / "out").resolve()


def test_collect_inputs_reports_what_a_folder_holds_besides_files(tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "clip.mp4").write_bytes(b"x")
    (folder / ".DS_Store").write_bytes(b"x")
    (folder / "gone.mp4").symlink_to(tmp_path / "nowhere.mp4")
    (folder / "more").mkdir()
    os.mkfifo(folder / "pipe.mp4")
    videos, skipped = collect_inputs([folder, tmp_path / "missing.mp4"])
    assert videos == [str(folder / "clip.mp4")]
    assert skipped == {  # the subfolder is not a video: logged, not skipped as one (tested below)
        str(folder / "gone.mp4"): f"{folder / 'gone.mp4'}: dangling symbolic link (to {tmp_path / 'nowhere.mp4'})",
        str(folder / "pipe.mp4"): f"{folder / 'pipe.mp4'}: a named pipe (FIFO), not a regular file; save the video "
        "to a file first",
        str(tmp_path / "missing.mp4"): f"{tmp_path / 'missing.mp4'}: no such file",
    }


def test_tsv_survives_tabs_newlines_and_carriage_returns(tmp_path):
    rows = [("a\tb\nc.mp4", "reason\none"), ("x\ry.mp4", 'say "no"'), ("\udcffbytes.mp4", "plain")]
    write_tsv(tmp_path / "t.tsv", ["video", "reason"], rows)
    with open(tmp_path / "t.tsv", newline="", encoding="utf-8", errors="surrogateescape") as fh:
        assert list(csv.reader(fh, delimiter="\t")) == [["video", "reason"], *map(list, rows)]
    assert (tmp_path / "t.tsv").read_bytes().startswith(b"video\treason\n")


@pytest.mark.slow
def test_same_stems_and_dotted_names_keep_every_result_inside_out(model_path, tmp_path):  # noqa: F811
    src = tmp_path / "in"
    for sub in ("a", "b"):
        (src / sub).mkdir(parents=True)
    videos = [
        _clip(src / "clip.mp4", 2),
        _clip(src / "clip.mkv", 3),
        _clip(src / "a" / "x.mp4", 2),
        _clip(src / "b" / "x.mp4", 3),
        _clip(src / "...mp4", 2),
    ]
    out = tmp_path / "out"
    status = parse_videos(videos, model_path, out, device="cpu", progress=False)
    assert set(status.values()) == {"ok"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]  # nothing written beside --out
    index = _read_tsv(out / "index.tsv")
    assert index[0] == ["video", "folder"] and len(index) == 6
    folders = dict(index[1:])
    assert len(set(folders.values())) == 5
    for video in videos:
        doc = json.loads((out / folders[str(video)] / "events.json").read_text())
        assert doc["video"] == str(video) and (out / folders[str(video)] / "timeline.png").is_file()
    assert {json.loads((out / f / "events.json").read_text())["duration"] for f in folders.values()} >= {2.0, 3.0}
    assert _read_tsv(out / "failures.tsv") == [["video", "reason"]]


@pytest.mark.slow
def test_cli_lists_skipped_entries_and_odd_names_in_failures(model_path, tmp_path):  # noqa: F811
    folder = tmp_path / "videos"
    folder.mkdir()
    _clip(folder / "good.mp4", 2)
    weird = folder / "bad\nname\t.mp4"
    weird.write_text("not a video\n" * 20)
    (folder / "gone.mp4").symlink_to(tmp_path / "nowhere.mp4")
    (folder / "sub").mkdir()
    (folder / ".hidden.mp4").write_text("skipped silently")
    out = tmp_path / "out"
    rc = main(
        [
            "-q",
            "parse",
            str(folder),
            str(tmp_path / "missing.mp4"),
            "--model",
            str(model_path),
            "--out",
            str(out),
            "--device",
            "cpu",
        ]
    )
    assert rc == 0
    rows = _read_tsv(out / "failures.tsv")
    assert rows[0] == ["video", "reason"] and all(len(r) == 2 for r in rows)
    reasons = dict(rows[1:])
    assert set(reasons) == {str(weird), str(folder / "gone.mp4"), str(tmp_path / "missing.mp4")}
    assert reasons[str(weird)].startswith(f"{weird}: not a media file ffmpeg recognises")
    assert "dangling symbolic link" in reasons[str(folder / "gone.mp4")]
    assert "no such file" in reasons[str(tmp_path / "missing.mp4")]
    assert dict(_read_tsv(out / "index.tsv")[1:]) == {str(folder / "good.mp4"): "good", str(weird): "bad_name_"}
    assert (out / "good" / "events.json").is_file()


def test_cli_with_nothing_parseable_fails(model_path, tmp_path):  # noqa: F811
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "sub").mkdir()
    (tmp_path / "empty" / "gone.mp4").symlink_to(tmp_path / "nowhere.mp4")
    out = tmp_path / "out"
    assert (
        main(["-q", "parse", str(tmp_path / "empty"), "--model", str(model_path), "--out", str(out), "--device", "cpu"])
        == 1
    )
    assert len(_read_tsv(out / "failures.tsv")) == 2


def test_subfolders_are_one_line_and_never_failed_videos(tmp_path, caplog):
    folder = tmp_path / "videos"
    for sub in ("b", "a"):
        (folder / sub).mkdir(parents=True)
    (folder / "clip.mp4").write_bytes(b"x")
    videos, skipped = collect_inputs([folder])
    assert videos == [str(folder / "clip.mp4")] and skipped == {}
    assert [r.getMessage() for r in caplog.records] == [
        f"{folder}: 2 subfolders not searched (a, b); give a subfolder as an input to parse the videos in it"
    ]
    assert collect_inputs([folder / "a", folder / "b"]) == ([], {})  # given as inputs, they are searched
    with pytest.raises(SystemExit, match="no video files among the inputs"):
        main(["-q", "parse", str(folder / "a"), "--model", "never-read.pt", "--out", str(tmp_path / "out")])


@pytest.mark.slow
def test_parse_stops_a_hanging_decode_and_goes_on(model_path, tmp_path, hanging_ffmpeg, monkeypatch):  # noqa: F811
    monkeypatch.setattr(audio_mod, "AUDIO_TIMEOUT_BASE", 1.0)
    monkeypatch.setattr(audio_mod, "AUDIO_TIMEOUT_PER_SECOND", 0.0)
    clips = [_clip(tmp_path / "one.mp4", 2), _clip(tmp_path / "two.mp4", 2)]
    status = parse_videos(clips, model_path, tmp_path / "out", device="cpu", progress=False)
    assert all("ffmpeg did not finish within 1 s (decoding the soundtrack" in status[str(c)] for c in clips)
    assert len(_read_tsv(tmp_path / "out" / "failures.tsv")) == 3


FORMULAS = ["=cmd|' -C calc'!A0.mp4", "+1.mp4", "-2.mp4", "@SUM(A1).mp4", "\tx.mp4", "\rx.mp4", "'quoted.mp4"]


def test_tsv_cells_never_start_a_spreadsheet_formula_and_read_back_as_written(tmp_path):
    rows = [(name, f"{name}: no such file") for name in FORMULAS]
    write_tsv(tmp_path / "t.tsv", ["video", "reason"], rows)
    raw = _read_tsv(tmp_path / "t.tsv")
    assert all(cell.startswith("'") for row in raw[1:] for cell in row)  # shown as text by spreadsheets
    assert read_tsv(tmp_path / "t.tsv") == [["video", "reason"], *map(list, rows)]


def test_failures_files_are_neutralised_and_merge_without_doubling_quotes(tmp_path):
    rows = [(f"id{i}", f"/videos/{name}", "=HYPERLINK(x)") for i, name in enumerate(FORMULAS)]
    write_failures(tmp_path / "a.tsv", rows)
    assert not any(c.startswith(("=", "+", "-", "@")) for r in _read_tsv(tmp_path / "a.tsv") for c in r)
    write_failures(tmp_path / "b.tsv", read_failures(tmp_path / "a.tsv"))  # as the pseudo-label merge does
    assert read_failures(tmp_path / "b.tsv") == rows


def test_a_file_name_that_is_not_utf8_is_decoded_and_shown_escaped(tmp_path):
    from avvp_pipeline.media.decode import sample_frames

    clip = _clip(tmp_path / os.fsdecode(b"\xff\xfe.mp4"), 1)
    frames = sample_frames(clip, 8.0, 8)
    samples, has_audio = audio_mod.load_audio(clip, 16000, 1.0)
    assert frames.shape[0] == 8 and frames.std() > 0 and has_audio and np.abs(samples).max() > 0.1
    assert sorted(p.name for p in tmp_path.iterdir()) == [clip.name]  # no alias left behind


@pytest.mark.slow
def test_parse_writes_pages_for_a_file_name_that_is_not_utf8(model_path, tmp_path):  # noqa: F811
    clip = _clip(tmp_path / os.fsdecode(b"caf\xe9 <b>.mp4"), 1)
    out = tmp_path / "out"
    assert parse_videos([clip], model_path, out, device="cpu", progress=False) == {str(clip): "ok"}
    folder = out / dict(read_tsv(out / "index.tsv")[1:])[str(clip)]
    page = (folder / "index.html").read_text(encoding="utf-8")
    assert "caf\\\\xe9 \\u003cb\\u003e.mp4" in page and "<b>" not in page  # the bytes named, the markup inert
    assert "caf%E9%20%3Cb%3E.mp4" in page  # the player plays the file itself, by its bytes
    assert "caf\\xe9 &lt;b&gt;.mp4" in (out / "index.html").read_text(encoding="utf-8")
    assert json.loads((folder / "events.json").read_text())["video"] == str(clip)


def test_a_model_with_an_invalid_gate_is_one_line_before_any_video(model_path, tmp_path, caplog):  # noqa: F811
    ckpt = torch.load(model_path, weights_only=False)
    ckpt["train_config"]["gate"] = "bogus"
    bad = tmp_path / "model.pt"
    torch.save(ckpt, bad)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"never read")
    out = tmp_path / "out"
    rc = main(["-q", "parse", str(clip), "--model", str(bad), "--out", str(out), "--device", "cpu"])
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert rc == 1
    assert errors == [f"{bad}: its train_config has gate 'bogus'; a model is scored with one of global, modality"]
    assert not out.exists()


def test_the_users_own_files_in_out_are_never_written_into(tmp_path):
    out = tmp_path / "out"
    (out / "clip").mkdir(parents=True)
    (out / "clip" / "events.json").write_text("the user's")
    (out / "clip.mp4").write_text("a file named like the next choice")
    (out / "index.html").write_text("the user's page")
    video = str(tmp_path / "clip.mp4")
    folder = output_folders([video], out)[video]
    assert folder.startswith("clip.mp4-") and not (out / folder).exists()
    with pytest.raises(OutputTaken, match=f"^{out / 'index.html'}: not written by avvp parse"):
        claim_out_dir(out)
    assert (out / "index.html").read_text() == "the user's page" and not (out / MARKER).exists()
    (out / "index.html").unlink()
    claim_out_dir(out)  # the run files are avvp parse's from now on: a later run may rewrite them
    (out / "index.html").write_text("written by the run")
    claim_out_dir(out)


def test_its_own_outputs_are_never_inputs_and_its_folders_are_reused(tmp_path):
    folder = tmp_path / "videos"
    (folder / "clip").mkdir(parents=True)
    (folder / "clip.mp4").write_bytes(b"x")
    (folder / "users").mkdir()
    (folder / "index.html").write_text("the user's: an input like any other")
    video = str(folder / "clip.mp4")
    assert output_folders([video], folder)[video] != "clip"  # the user's folder "clip"
    mark_written(folder / "clip", ["events.json"])  # as parsing does in the folders it makes
    assert output_folders([video], folder)[video] == "clip"
    claim_out_dir(folder / "parsed")
    for name in ("index.tsv", "failures.tsv", "index.html"):
        (folder / "parsed" / name).write_text("written by the run")
    (folder / "piped").mkdir()
    os.mkfifo(folder / "piped" / MARKER)  # never opened: it would block
    videos, skipped = collect_inputs([folder, folder / "parsed"], leave_out=is_own_output)
    assert videos == [str(folder / "clip.mp4"), str(folder / "index.html")] and skipped == {}
    assert not is_own_output(folder / "piped")


@pytest.mark.slow
def test_out_in_the_input_folder_twice(model_path, tmp_path):  # noqa: F811
    folder = tmp_path / "videos"
    folder.mkdir()
    _clip(folder / "clip.mp4", 1)
    (folder / "clip").mkdir()
    (folder / "clip" / "notes.txt").write_text("the user's")
    args = ["-q", "parse", str(folder), "--model", str(model_path), "--out", str(folder), "--device", "cpu"]
    for _ in range(2):  # the second run reads none of the first one's outputs
        assert main(args) == 0
        assert read_tsv(folder / "failures.tsv") == [["video", "reason"]]
        index = read_tsv(folder / "index.tsv")
        assert index[:1] == [["video", "folder"]] and len(index) == 2
    assert index[1][1].startswith("clip.mp4-")  # "clip" is the user's, "clip.mp4" the video
    assert (folder / index[1][1] / "events.json").is_file()
    assert sorted(p.name for p in (folder / "clip").iterdir()) == ["notes.txt"]
