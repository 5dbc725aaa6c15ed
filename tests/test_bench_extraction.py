"""The extraction benchmarks (`avvp bench transport|decode|extract`) run and report what they say."""

import pytest

from avvp_pipeline.bench.transport import bench_transport


def test_bench_transport_compares_both_paths_on_the_same_frames():
    r = bench_transport(videos=6, workers=1, num_frames=4, height=24, width=32, repeat=1)
    assert r["videos"] == 6 and r["MB per video"] == pytest.approx(4 * 24 * 32 * 3 / 1e6)
    assert r["pipe (pickled through the pool), videos/s"] > 0 and r["shared-memory ring, videos/s"] > 0
    assert r["speed-up of shared memory over the pipe"] == pytest.approx(
        r["shared-memory ring, videos/s"] / r["pipe (pickled through the pool), videos/s"]
    )


def test_bench_decode_checks_both_decoders_agree(tiny_set):
    from avvp_pipeline.bench.decode import bench_decode

    videos, _, _ = tiny_set
    r = bench_decode(str(sorted(videos.glob("*.mp4"))[0]), repeat=1)
    assert r["frames"] == "80 at 8 fps, 64x48"
    assert r["now, videos/s (1 process)"] > 0 and r["previous way, videos/s"] > 0
    assert r["now, videos per CPU-second (ffmpeg subprocesses included)"] > 0


@pytest.mark.slow
def test_bench_extract_reports_stages_and_both_paths(tiny_set):
    from avvp_pipeline.bench.extract import bench_extract

    videos, _, _ = tiny_set
    paths = sorted(str(p) for p in videos.glob("*.mp4"))[:4]
    cfg = {
        "weights": "random",
        "precision": "bf16",
        "resnet_resize": 32,
        "resnet_crop": 32,
        "r2plus1d_size": 16,
        "batch_videos": 2,
    }
    r = bench_extract(paths, cfg, threads=2, reference=True, stage_n=2, device="cpu")
    new, seq = "visual, pipeline (shared memory, overlapped)", "visual, sequential (pipe, one stage after the other)"
    for label in (new, seq):
        for stage in ("waiting for frames", "preprocess", "ResNet-152", "R(2+1)D-18", "write"):
            assert r[f"{label}: {stage}, s"] >= 0
        assert r[f"{label}: videos/s steady (after the first batch)"] > 0
    assert r[f"{new}: copy out of shared memory, s"] > 0 and f"{seq}: copy out of shared memory, s" not in r
    assert r["visual: max |difference| of the features, pipeline vs sequential"] == 0.0  # CPU: the same computation
    assert r["audio: VGGish, s"] > 0 and r["reference style, visual (JPEG + PIL + fp32, 1 video/forward), videos/s"] > 0
