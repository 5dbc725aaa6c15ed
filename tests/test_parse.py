"""`avvp parse`: events.json and timelines of new videos, windows, bad files, and model/feature mismatch."""

import json
import subprocess

import numpy as np
import pytest
import torch
from factories import random_feature_set

from avvp_pipeline import __version__
from avvp_pipeline.evaluation.events import events_from
from avvp_pipeline.features import store
from avvp_pipeline.features.weights import resolve
from avvp_pipeline.media.ffmpeg_bin import ffmpeg_exe
from avvp_pipeline.parse import ModelMismatch, VideoParser, parse_videos, validate_events
from avvp_pipeline.training.config import TrainConfig
from avvp_pipeline.training.trainer import train

COMMON = {"weights": "random", "weights_dir": None, "seed": 0, "precision": "bf16", "batch_videos": 4, "version": 1}
VISUAL = {**COMMON, "fps": 8, "num_frames": 80, "resnet_resize": 32, "resnet_crop": 32, "r2plus1d_size": 16}
AUDIO = {**COMMON, "sample_rate": 16000, "example_hop": 1.0}


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A HAN trained one epoch on random features, recording small extraction configs (fast to parse with)."""
    configs = {"resnet152": VISUAL, "r2plus1d_18": VISUAL, "vggish": AUDIO}
    provenance = {}
    for name, cfg in configs.items():
        w = resolve(name, "random", seed=0)
        provenance[name] = {
            "weights_id": w.weights_id,
            "weights_sha256": str(w.sha256),
            "config_hash": store.config_hash(cfg),
            "avvp_pipeline_version": __version__,
        }
    fs = random_feature_set(8)
    out = tmp_path_factory.mktemp("model")
    train("han", fs, fs, TrainConfig(epochs=1, batch_size=4), out, provenance, progress=False, feature_configs=configs)
    return out / "model.pt"


def _clip(path, seconds, audio=True, size="96x64"):
    cmd = [ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=25"]
    if audio:
        cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000"]
    cmd += (
        ["-t", str(seconds), "-c:v", "libx264", "-pix_fmt", "yuv420p"]
        + (["-c:a", "aac"] if audio else [])
        + [str(path)]
    )
    subprocess.run(cmd, check=True)
    return path


def _check_outputs(folder, duration):
    doc = json.loads((folder / "events.json").read_text())
    validate_events(doc)
    assert doc["duration"] == pytest.approx(duration, abs=0.1)  # containers add a few ms of audio padding
    duration = doc["duration"]
    assert set(doc) >= {"audio", "visual", "audio_visual"}
    for key in ("audio", "visual", "audio_visual"):
        for e in doc[key]:
            assert e["offset"] <= duration + 1e-6
    import matplotlib.image as mpimg

    img = mpimg.imread(folder / "timeline.png")
    assert img.shape[1] >= 600 and img[..., :3].std() > 0.05
    # for people: the page (tests/test_video_page.py opens it in a browser) and the exports of every event
    from avvp_pipeline.reporting.event_exports import read_events_csv, read_vtt

    assert (
        len(read_events_csv(folder / "events.csv"))
        == len(read_vtt(folder / "events.vtt"))
        == sum(len(doc[k]) for k in ("audio", "visual", "audio_visual"))
    )
    assert all((folder / f"audacity-{m}.txt").is_file() for m in ("heard", "seen", "heard-and-seen"))
    assert 'id="page-data"' in (folder / "index.html").read_text() and (folder / "thumb.jpg").stat().st_size > 0
    assert not (folder / "video.mp4").exists()  # H.264/AAC mp4 inputs play as they are
    return doc


def test_events_merge_across_windows_and_stop_at_the_end():
    pred = np.zeros((25, 24), np.uint8)
    prob = np.full((25, 24), 0.25, np.float32)
    pred[2, 8:13] = 1  # crosses the 10-s window boundary: one event
    prob[2, 8:13] = 0.8
    pred[4, 20:24] = 1  # runs to the end of a 23.5-s clip
    events = events_from(pred, prob, duration=23.5)
    assert events == [
        {"label": "Cheering", "onset": 8.0, "offset": 13.0, "score": 0.8},
        {"label": "Cat", "onset": 20.0, "offset": 23.5, "score": 0.25},
    ]


def test_validate_events_rejects_bad_documents():
    good = {"audio": [{"label": "Dog", "onset": 0.0, "offset": 2.0, "score": 0.5}], "visual": [], "audio_visual": []}
    validate_events(good)
    for bad in (
        {**good, "visual": None},
        {**good, "audio": [{"label": "Dog", "onset": 2.0, "offset": 2.0, "score": 0.5}]},
        {**good, "audio": [{"label": "Cow", "onset": 0.0, "offset": 1.0, "score": 0.5}]},
        {**good, "audio": [{"label": "Dog", "onset": 0.0, "offset": 1.0, "score": 1.5}]},
    ):
        with pytest.raises(ValueError):
            validate_events(bad)


@pytest.mark.slow
def test_parse_short_long_silent_and_bad_files(model_path, tmp_path):
    short = _clip(tmp_path / "short.mp4", 4)
    long = _clip(tmp_path / "long.mp4", 23.5)
    silent = _clip(tmp_path / "silent.mp4", 10, audio=False)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    out = tmp_path / "out"
    status = parse_videos([short, junk, long, tmp_path / "missing.mp4", silent], model_path, out, progress=False)
    assert [status[str(p)] == "ok" for p in (short, junk, long, tmp_path / "missing.mp4", silent)] == [
        True,
        False,
        True,
        False,
        True,
    ]
    assert "junk.mp4" in status[str(junk)] and "no such file" in status[str(tmp_path / "missing.mp4")]
    assert _check_outputs(out / "short", 4.0)["windows"] == 1
    doc = _check_outputs(out / "long", 23.5)
    assert doc["windows"] == 3
    assert _check_outputs(out / "silent", 10.0)["has_audio"] is False
    failures = (out / "failures.tsv").read_text().splitlines()
    assert failures[0] == "video\treason" and len(failures) == 3
    index = (out / "index.html").read_text()
    assert all(f'href="{name}/index.html"' in index for name in ("short", "long", "silent"))
    assert "junk.mp4" in index and "no such file" in index


def test_parse_and_evaluation_share_one_forward_pass(model_path):
    """inference.py owns the forward pass: a parsed video's windows give what a split in memory gives."""
    from avvp_pipeline.inference import predict, predict_arrays
    from avvp_pipeline.models.checkpoint import load_trained

    net = load_trained(model_path).net
    fs = random_feature_set(5)
    whole = predict(net, fs, batch_size=2)
    windows = predict_arrays(net, *(x.cpu().numpy() for x in (fs.audio, fs.video_s, fs.video_st)))
    assert set(windows) == set(whole)
    for key, value in whole.items():
        assert windows[key].dtype == np.float32
        np.testing.assert_allclose(windows[key], value, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_each_video_is_probed_once(model_path, tmp_path, monkeypatch):
    """Decoding, the soundtrack and the page's web copy share one probe of the file."""
    from avvp_pipeline.media import probe, web_copy

    reads = []

    def counting(run):
        def spy(args, path, timeout, what, exe=None):
            if what == "reading the stream summary":
                reads.append(path)
            return run(args, path, timeout, what, exe)

        return spy

    for module in (probe, web_copy):
        monkeypatch.setattr(module, "run_ffmpeg", counting(module.run_ffmpeg))
    clip = _clip(tmp_path / "clip.mp4", 4)
    assert parse_videos([clip], model_path, tmp_path / "out", progress=False) == {str(clip): "ok"}
    assert [str(p) for p in reads] == [str(clip)]


@pytest.mark.slow
def test_long_videos_are_decoded_a_few_windows_at_a_time(model_path, tmp_path):
    from avvp_pipeline.media.decode import iter_frames, sample_frames

    clip = _clip(tmp_path / "long.mp4", 23.5)
    frames = iter_frames(clip, 8.0, 240)
    first = [next(frames) for _ in range(8)]  # decoded lazily: the first frames come before the rest exist
    whole = sample_frames(clip, 8.0, 240)
    np.testing.assert_array_equal(np.stack(first), whole[:8])
    np.testing.assert_array_equal(np.stack(first + list(frames)), whole)

    parser = VideoParser.load(model_path, device="cpu")
    at_once = parser.predict(clip)
    parser.windows_per_pass = 1  # each 10-s window decoded and extracted on its own
    one_by_one = parser.predict(clip)
    assert at_once["windows"] == one_by_one["windows"] == 3
    # frames went to the same windows: equal here; the tolerance (for other CPUs' bf16 kernels) is far below
    # the 3.5e-3 and 6e-3 by which this clip's windows differ from one another
    for key in ("prob_audio", "prob_visual"):
        np.testing.assert_allclose(at_once[key], one_by_one[key], atol=1e-4)
        assert at_once[key].shape == (25, 24)


@pytest.mark.slow
def test_parse_the_real_llp_clip(model_path, real_clip, tmp_path):
    status = parse_videos([real_clip], model_path, tmp_path, progress=False)
    assert status == {str(real_clip): "ok"}
    doc = _check_outputs(tmp_path / real_clip.stem, 10.03)
    assert doc["windows"] == 1  # 10.03 s: the 0.03-s remainder adds no window


@pytest.mark.slow
def test_refuses_a_model_whose_features_cannot_be_reproduced(model_path, tmp_path):
    ckpt = torch.load(model_path, weights_only=False)
    ckpt["features"]["resnet152"]["weights_sha256"] = "0123abcd"
    changed = tmp_path / "model.pt"
    torch.save(ckpt, changed)
    with pytest.raises(ModelMismatch, match="resnet152 weights_sha256"):
        VideoParser.load(changed, "cpu")
    del ckpt["feature_configs"]
    torch.save(ckpt, changed)
    with pytest.raises(ModelMismatch, match="retrain"):
        VideoParser.load(changed, "cpu")
