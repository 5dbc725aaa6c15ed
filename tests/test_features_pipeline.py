"""The extraction pipeline: one shard driver for every extractor, the batched runner equal to the
sequential form, per-stage times, normalisation constants built once, R(2+1)D-18 in channels_last_3d."""

import numpy as np
import pytest
import torch

from avvp_pipeline.features import store, visual
from avvp_pipeline.features.audio_extractor import AudioExtractor
from avvp_pipeline.features.config import ExtractConfig
from avvp_pipeline.features.extractor import host_copy, to_device
from avvp_pipeline.features.runner import decoders, extract_shard
from avvp_pipeline.features.stage_times import StageTimes
from avvp_pipeline.features.visual_extractor import VisualExtractor
from avvp_pipeline.features.weights import resolve
from avvp_pipeline.media.decode import sample_frames

SMALL = {
    "weights": "random",
    "precision": "fp32",
    "resnet_resize": 32,
    "resnet_crop": 32,
    "r2plus1d_size": 16,
    "decode_workers": 1,
    "batch_videos": 2,
    "device": "cpu",
}


@pytest.mark.slow
def test_run_gives_the_features_of_the_sequential_form(tiny_set):
    videos, _, _ = tiny_set
    paths = sorted(str(p) for p in videos.glob("*.mp4"))[:3]
    ext = VisualExtractor(ExtractConfig.from_dict(SMALL))
    frames = [sample_frames(p) for p in paths]
    times = StageTimes()
    out = list(ext.run(iter([[(p, f) for p, f in zip(paths[:2], frames[:2])], [(paths[2], frames[2])]]), times))
    assert [p for b, _ in out for p, _ in b] == paths
    ref2d, ref3d = ext(frames)
    np.testing.assert_allclose(np.concatenate([o["resnet152"] for _, o in out]), ref2d, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.concatenate([o["r2plus1d_18"] for _, o in out]), ref3d, rtol=1e-5, atol=1e-6)
    assert {"copy to device", "preprocess", "ResNet-152", "R(2+1)D-18", "copy to host"} <= set(times.seconds)
    assert all(v >= 0 for v in times.seconds.values()) and times.seconds["ResNet-152"] > 0


@pytest.mark.slow
def test_one_driver_writes_visual_and_audio_shards_with_stage_times(tiny_set, tmp_path):
    videos, _, _ = tiny_set
    paths = sorted(str(p) for p in videos.glob("*.mp4"))[:3]
    paths.insert(1, str(tmp_path / "missing0001.mp4"))
    cfg = ExtractConfig.from_dict(SMALL)
    for ext, outs in (
        (VisualExtractor(cfg), {"resnet152": tmp_path / "r.h5", "r2plus1d_18": tmp_path / "s.h5"}),
        (AudioExtractor(cfg), {"vggish": tmp_path / "v.h5"}),
    ):
        times = StageTimes()
        with decoders(cfg, ext.frames_in_shared_memory, warm=True) as pool:
            fails = extract_shard(
                ext,
                paths,
                {k: str(v) for k, v in outs.items()},
                str(tmp_path / "f.tsv"),
                {"x": 1},
                progress=False,
                times=times,
                pool=pool,
            )
        assert [f[0] for f in fails] == ["missing0001"]
        for name, path in outs.items():
            ids, feats, attrs = store.read_shard(path)
            assert ids == [p.split("/")[-1][:-4] for p in paths if "missing" not in p]
            assert attrs["extractor"] == name and attrs["n_failed"] == 1 and attrs["config_json"] == '{"x": 1}'
        assert times.seconds["write"] > 0 and times.seconds["waiting for frames"] > 0
        assert [n for _, n in times.batches] == [1, 2]  # batches of 2 jobs; the missing file leaves 1 in the first
    assert store.read_full_shard(tmp_path / "v.h5").extra["has_audio"].tolist() == [True, True, True]


@pytest.mark.slow
def test_visual_frames_travel_through_shared_memory_and_are_timed(tiny_set, tmp_path):
    videos, _, _ = tiny_set
    paths = sorted(str(p) for p in videos.glob("*.mp4"))[:2]
    cfg = ExtractConfig.from_dict(SMALL)
    ext = VisualExtractor(cfg)
    times = StageTimes()
    with decoders(cfg, True) as pool:
        assert pool.ring is not None and pool.ring.slots == 2
        extract_shard(
            ext,
            paths,
            {"resnet152": str(tmp_path / "r.h5"), "r2plus1d_18": str(tmp_path / "s.h5")},
            str(tmp_path / "f.tsv"),
            {},
            progress=False,
            times=times,
            pool=pool,
        )
    assert times.seconds["copy out of shared memory"] > 0
    piped = ExtractConfig.from_dict({**SMALL, "transport": "pipe"})
    with decoders(piped, True) as pool:
        assert pool.ring is None
        extract_shard(
            VisualExtractor(piped),
            paths,
            {"resnet152": str(tmp_path / "r2.h5"), "r2plus1d_18": str(tmp_path / "s2.h5")},
            str(tmp_path / "f2.tsv"),
            {},
            progress=False,
        )
    for a, b in (("r.h5", "r2.h5"), ("s.h5", "s2.h5")):
        assert (
            store.read_shard(tmp_path / a)[2]["content_sha256"] == store.read_shard(tmp_path / b)[2]["content_sha256"]
        )


def test_steady_rate_leaves_out_the_first_batch():
    times = StageTimes()
    times.batches = [(10.0, 8), (12.0, 8), (14.0, 4)]
    assert times.steady_rate() == pytest.approx(12 / 4.0)
    assert np.isnan(StageTimes().steady_rate())


def test_normalisation_constants_are_built_once_per_device():
    x = torch.rand(2, 3, 4, 4)
    visual._stats.cache_clear()
    a = visual._normalise(x, visual.IMAGENET_MEAN, visual.IMAGENET_STD)
    b = visual._normalise(x, visual.IMAGENET_MEAN, visual.IMAGENET_STD)
    assert visual._stats.cache_info().misses == 1 and visual._stats.cache_info().hits == 1
    m = torch.tensor(visual.IMAGENET_MEAN).view(1, 3, 1, 1)
    s = torch.tensor(visual.IMAGENET_STD).view(1, 3, 1, 1)
    assert torch.equal(a, (x - m) / s) and torch.equal(a, b)
    with torch.inference_mode():  # constants made outside inference mode work inside it and back
        visual._normalise(x, visual.IMAGENET_MEAN, visual.IMAGENET_STD)
    visual._normalise(x.requires_grad_(), visual.IMAGENET_MEAN, visual.IMAGENET_STD).sum().backward()


@pytest.mark.slow
def test_r2plus1d_in_channels_last_3d_stays_within_the_tolerances(tiny_set):
    videos, _, _ = tiny_set
    frames = torch.from_numpy(sample_frames(sorted(videos.glob("*.mp4"))[0]))
    r21d = visual.build_r2plus1d_18(resolve("r2plus1d_18", "random"))
    x = visual.preprocess_3d(frames, 48)
    with torch.inference_mode():
        ref = r21d(x).float()
        cl = r21d.to(memory_format=torch.channels_last_3d)
        y32 = cl(x.contiguous(memory_format=torch.channels_last_3d)).float()
        with visual.autocast(torch.device("cpu"), "bf16"):
            y16 = cl(x.contiguous(memory_format=torch.channels_last_3d)).float()
    assert ((y32 - ref).norm() / ref.norm()) < 1e-4  # fp32: the same function, other summation order
    assert ((y16 - ref).norm() / ref.norm()) < 0.02  # the bf16 tolerance of the contiguous layout


def test_frames_leave_a_slot_as_a_copy_on_the_cpu():
    view = np.arange(24, dtype=np.uint8).reshape(2, 2, 2, 3)
    copy = host_copy(torch.device("cpu"))(view)
    assert isinstance(copy, np.ndarray) and not np.shares_memory(copy, view) and np.array_equal(copy, view)
    t = to_device(copy, torch.device("cpu"))
    assert isinstance(t, torch.Tensor) and np.shares_memory(t.numpy(), copy)
