"""The extraction benchmarks (`avvp bench transport|decode|extract`) run and report what they say."""
import pytest

from avvp_pipeline.bench import bench_transport


def test_bench_transport_compares_both_paths_on_the_same_frames():
    r = bench_transport(videos=6, workers=1, num_frames=4, height=24, width=32, repeat=1)
    assert r["videos"] == 6 and r["MB per video"] == pytest.approx(4 * 24 * 32 * 3 / 1e6)
    assert r["pipe (pickled through the pool), videos/s"] > 0 and r["shared-memory ring, videos/s"] > 0
    assert r["speed-up of shared memory over the pipe"] == pytest.approx(
        r["shared-memory ring, videos/s"] / r["pipe (pickled through the pool), videos/s"])
