"""decode: decoding one clip now vs the previous way. One process, `--video`."""

from __future__ import annotations

import os
import time

import numpy as np

from .common import add_json_flag, cpu_seconds, print_figures, print_machine, write_json


def add_arguments(p) -> None:
    p.add_argument("--video", help="the clip to decode (default: the LLP clip in $AVVP_LLP_DIR)")
    p.add_argument("--repeat", type=int, default=5, help="best of this many rounds each")
    add_json_flag(p)


def _decode_previous_way(path: str, fps: float, num_frames: int, probe_times: int = 1) -> np.ndarray:
    """The decoding this package did before (the baseline of ``bench decode``): ``ffmpeg -i``'s log read
    with regular expressions (``probe_times`` times: ``avvp parse`` probed three times per video), then
    every frame up to the last one kept converted to RGB, in chunks of 32 (``get_batch``)."""
    import decord

    from ..media.decode import frame_indices
    from ..media.probe import info_from_ffmpeg_log, run_ffmpeg

    for _ in range(probe_times):
        proc = run_ffmpeg(["-hide_banner", "-i", path], path, 60.0, "reading the stream summary")
        info_from_ffmpeg_log(path, proc.stderr.decode(errors="replace"))
    reader = decord.VideoReader(path, ctx=decord.cpu(0), num_threads=1)
    pts = reader.get_frame_timestamp(np.arange(len(reader)))[:, 0]
    idx = frame_indices(np.sort(pts[pts >= -1e-6]), fps, num_frames)
    out = []
    for start in range(0, int(idx[-1]) + 1, 32):
        stop = min(start + 32, int(idx[-1]) + 1)
        chunk = reader.get_batch(list(range(start, stop))).asnumpy()
        out += [chunk[i - start].copy() for i in idx if start <= i < stop]
    return np.stack(out)


def bench_decode(path: str, repeat: int = 5, fps: float = 8.0, num_frames: int = 80) -> dict:
    """Videos/s decoding ``path`` in one process (one core): now (one probe, structured when ffprobe is
    there; only kept frames converted) vs the previous way, alternating, best of ``repeat``; the frames
    of both must be equal."""
    from ..media.decode import sample_frames
    from ..media.ffmpeg_bin import ffprobe_exe
    from ..media.probe import probe

    new, old = sample_frames(path, fps, num_frames), _decode_previous_way(path, fps, num_frames)
    if not np.array_equal(new, old):
        raise AssertionError(f"{path}: the two decoders gave different frames")
    times = {
        "now": [],
        "previous": [],
        "previous, 3 probes (avvp parse)": [],
        "probe now": [],
        "probe previous (ffmpeg -i log)": [],
    }
    from ..media.probe import info_from_ffmpeg_log, run_ffmpeg

    run = {
        "now": lambda: sample_frames(path, fps, num_frames),
        "previous": lambda: _decode_previous_way(path, fps, num_frames),
        "previous, 3 probes (avvp parse)": lambda: _decode_previous_way(path, fps, num_frames, 3),
        "probe now": lambda: probe(path),
        "probe previous (ffmpeg -i log)": lambda: info_from_ffmpeg_log(
            path, run_ffmpeg(["-hide_banner", "-i", path], path, 60.0, "probe").stderr.decode(errors="replace")
        ),
    }
    cpu = {k: [] for k in run}
    for r in range(repeat):
        for what in list(run) if r % 2 == 0 else list(run)[::-1]:
            c0, t0 = cpu_seconds(), time.perf_counter()
            run[what]()
            times[what].append(time.perf_counter() - t0)
            cpu[what].append(cpu_seconds() - c0)
    best = {k: min(v) for k, v in times.items()}
    best_cpu = {k: min(v) for k, v in cpu.items()}
    return {
        "video": path,
        "frames": f"{num_frames} at {fps:g} fps, {new.shape[2]}x{new.shape[1]}",
        "probe source": "ffprobe JSON" if ffprobe_exe() else "ffmpeg -i log (no ffprobe beside ffmpeg)",
        "now, videos/s (1 process)": 1 / best["now"],
        "previous way, videos/s": 1 / best["previous"],
        "previous way with 3 probes (avvp parse), videos/s": 1 / best["previous, 3 probes (avvp parse)"],
        "probe now, ms": best["probe now"] * 1e3,
        "probe previous, ms": best["probe previous (ffmpeg -i log)"] * 1e3,
        "speed-up over the previous way": best["previous"] / best["now"],
        "now, videos per CPU-second (ffmpeg subprocesses included)": 1 / best_cpu["now"],
        "previous way, videos per CPU-second": 1 / best_cpu["previous"],
        "previous way with 3 probes, videos per CPU-second": 1 / best_cpu["previous, 3 probes (avvp parse)"],
    }


def main(args) -> int:
    print_machine()
    if not args.video and not os.environ.get("AVVP_LLP_DIR"):
        raise ValueError("bench decode needs --video CLIP (or AVVP_LLP_DIR naming the folder with the LLP clip)")
    video = args.video or os.path.join(os.environ["AVVP_LLP_DIR"], "BjCEufrlXm4.mp4")
    r = bench_decode(video, args.repeat)
    write_json(args.json, r)
    print(f"decode, one process, best of {args.repeat} rounds each, alternating; frames equal")
    print_figures(r, digits=2)
    return 0
