"""Decoded frames through shared memory: same frames and order as the pipe, slots reused and grown,
and no /dev/shm segment left behind on success, on errors, or when the consumer is killed."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from avvp_pipeline.media import frame_ring
from avvp_pipeline.media.frame_ring import FrameRing, InSlot, Slot, deliver, remove_stale_segments, segments_of
from avvp_pipeline.media.jobs import decode_visual
from avvp_pipeline.media.pool import DecoderPool

pytestmark = pytest.mark.skipif(not os.path.isdir("/dev/shm"), reason="no /dev/shm on this system")


def _frames(seed: int, n: int = 8, h: int = 12, w: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def synthetic_job(job):
    """A decoder stand-in for the pool (importable by spawned workers): seeded frames of the asked size."""
    seed, n, h, w, *slot = job
    return seed, deliver(iter(_frames(seed, n, h, w)), n, slot[0] if slot else None), None


def test_deliver_writes_into_the_slot_and_the_ring_reads_it_back():
    with FrameRing(2, 8 * 12 * 16 * 3) as ring:
        slot = ring.acquire()
        done = deliver(iter(_frames(1)), 8, slot)
        assert isinstance(done, InSlot) and done.shape == (8, 12, 16, 3)
        np.testing.assert_array_equal(ring.frames(done), _frames(1))
        ring.release(slot)
        assert ring.free == 2


def test_frames_that_do_not_fit_come_back_whole_and_the_slot_grows():
    with FrameRing(1, 100, max_slot_bytes=10_000) as ring:
        slot = ring.acquire()
        big = deliver(iter(_frames(2)), 8, slot)
        assert isinstance(big, np.ndarray)
        np.testing.assert_array_equal(big, _frames(2))
        ring.release(slot, needed=big.nbytes)
        again = ring.acquire()
        assert again.index == slot.index and again.name != slot.name and again.capacity == big.nbytes
        assert not os.path.exists(f"/dev/shm/{slot.name}")  # the small segment is gone
        assert isinstance(deliver(iter(_frames(2)), 8, again), InSlot)


def test_wrong_frame_count_is_an_error():
    with FrameRing(1, 10_000) as ring:
        with pytest.raises(ValueError, match="expected 8 frames, got 3"):
            deliver(iter(_frames(3)[:3]), 8, ring.acquire())


def test_pool_through_the_ring_gives_the_pipe_results_in_order():
    jobs = [
        (
            seed,
            8,
            12 + seed % 3,
            16,
        )
        for seed in range(12)
    ]  # three frame sizes
    with DecoderPool(2) as pool:
        piped = list(pool.imap(synthetic_job, jobs))
    with FrameRing(4, 8 * 12 * 16 * 3, 8 * 20 * 16 * 3) as ring, DecoderPool(2, ring=ring) as pool:
        shared = list(pool.imap(synthetic_job, jobs))
        assert ring.free == ring.slots == 4  # every slot came back
    assert [s for s, _, _ in shared] == list(range(12))
    for (s1, a, e1), (s2, b, e2) in zip(piped, shared):
        assert s1 == s2 and e1 is None and e2 is None
        np.testing.assert_array_equal(a, b)


def test_real_decode_through_the_ring_matches_the_pipe(tiny_set):
    videos, _, _ = tiny_set
    jobs = [(str(p), 8.0, 80) for p in sorted(videos.glob("*.mp4"))[:3]] + [("/nonexistent/x.mp4", 8.0, 80)]
    with DecoderPool(1) as pool:
        piped = list(pool.imap(decode_visual, jobs))
    with FrameRing(2, 80 * 48 * 64 * 3) as ring, DecoderPool(1, ring=ring) as pool:
        shared = list(pool.imap(decode_visual, jobs))
    for (p1, a, e1), (p2, b, e2) in zip(piped, shared):
        assert p1 == p2 and e1 == e2
        if e1 is None:
            np.testing.assert_array_equal(a, b)
    assert shared[-1][1] is None and "no such file" in shared[-1][2]


def test_segments_are_unlinked_when_the_consumer_fails():
    ring = FrameRing(2, 1000)
    names = ring.names()
    with pytest.raises(RuntimeError, match="consumer failed"):
        with ring, DecoderPool(1, ring=ring) as pool:
            for _ in pool.imap(synthetic_job, [(s, 2, 4, 4) for s in range(6)]):
                raise RuntimeError("consumer failed")
    assert not any(os.path.exists(f"/dev/shm/{n}") for n in names)
    assert segments_of(os.getpid()) == []


KILLED = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {tests!r})
    from test_frame_ring import synthetic_job
    from avvp_pipeline.media.frame_ring import FrameRing
    from avvp_pipeline.media.pool import DecoderPool
    if __name__ == "__main__":
        with FrameRing(2, 8 * 12 * 16 * 3) as ring, DecoderPool(1, ring=ring) as pool:
            for out in pool.imap(synthetic_job, [(s, 8, 12, 16) for s in range(10 ** 6)]):
                print("running", flush=True)
                time.sleep(0.01)
""")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_no_segment_is_left_when_the_consumer_is_killed(tmp_path, sig):
    script = tmp_path / "consumer.py"
    script.write_text(KILLED.format(tests=os.path.dirname(__file__)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline().strip() == b"running"
    assert len(segments_of(proc.pid)) == 2
    proc.send_signal(sig)
    proc.wait(timeout=10)
    deadline = time.monotonic() + 15  # the resource tracker unlinks them once the consumer is gone
    while segments_of(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert segments_of(proc.pid) == []


def test_segments_of_a_process_that_no_longer_runs_are_removed(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    name = f"{frame_ring.PREFIX}-{dead.pid}-0123456789ab"
    (tmp_path / name).write_bytes(b"x")
    mine = f"{frame_ring.PREFIX}-{os.getpid()}-0123456789ab"
    (tmp_path / mine).write_bytes(b"x")
    (tmp_path / "unrelated").write_bytes(b"x")
    assert remove_stale_segments(str(tmp_path)) == [name]
    assert sorted(os.listdir(tmp_path)) == sorted([mine, "unrelated"])


def test_a_timed_out_job_frees_its_slot_and_the_rest_complete():
    jobs = [(0, 2, 4, 4), ("hang",), (2, 2, 4, 4)]
    with FrameRing(2, 1000) as ring, DecoderPool(1, timeout=2, ring=ring) as pool:
        out = list(pool.imap(hang_or_frames, jobs))
        assert ring.free == 2
    assert out[0][0] == 0 and out[2][0] == 2 and out[1][1] is None and "longer than 2 s" in out[1][2]
    np.testing.assert_array_equal(out[2][1], _frames(2, 2, 4, 4))


def hang_or_frames(job):
    if job[0] == "hang":
        time.sleep(60)
    return synthetic_job(job)


def test_slot_is_a_small_picklable_record():
    import pickle

    slot = Slot(3, "avvp-frames-1-abc", 100)
    assert pickle.loads(pickle.dumps(slot)) == slot
