"""The extraction benchmarks (`avvp bench transport|decode|extract`) run and report what they say."""
import pytest

from avvp_pipeline.bench import bench_transport


def test_bench_transport_compares_both_paths_on_the_same_frames():
    r = bench_transport(videos=6, workers=1, num_frames=4, height=24, width=32, repeat=1)
    assert r["videos"] == 6 and r["MB per video"] == pytest.approx(4 * 24 * 32 * 3 / 1e6)
    assert r["pipe (pickled through the pool), videos/s"] > 0 and r["shared-memory ring, videos/s"] > 0
    assert r["speed-up of shared memory over the pipe"] == pytest.approx(
        r["shared-memory ring, videos/s"] / r["pipe (pickled through the pool), videos/s"])


def test_bench_decode_checks_both_decoders_agree(tiny_set):
    from avvp_pipeline.bench import bench_decode

    videos, _, _ = tiny_set
    r = bench_decode(str(sorted(videos.glob("*.mp4"))[0]), repeat=1)
    assert r["frames"] == "80 at 8 fps, 64x48"
    assert r["now, videos/s (1 process)"] > 0 and r["previous way, videos/s"] > 0
    assert r["now, videos per CPU-second (ffmpeg subprocesses included)"] > 0
