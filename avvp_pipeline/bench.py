"""``avvp bench``: speed measurements, each against a baseline measured in the same run."""

from __future__ import annotations

import platform
import time
from functools import partial

import numpy as np


def _best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_metrics(videos: int = 1849, repeat: int = 5, seed: int = 0) -> dict:
    """Vectorised LLP F-scores vs the per-video loop reference on random predictions and truth."""
    from .evaluation.metrics import llp_f_scores
    from .evaluation.reference import llp_f_scores_loop

    rng = np.random.default_rng(seed)
    arrays = [(rng.random((videos, 25, 10)) < p).astype(np.uint8) for p in (0.1, 0.1, 0.08, 0.08)]
    fast = _best_of(lambda: llp_f_scores(*arrays), repeat)
    slow = _best_of(lambda: llp_f_scores_loop(*arrays), 1)
    a, b = llp_f_scores(*arrays), llp_f_scores_loop(*arrays)
    max_diff = max(abs(a[k] - b[k]) for k in a)
    return {"videos": videos, "vectorised_s": fast, "loop_s": slow, "speedup": slow / fast, "max_abs_diff": max_diff}


def stage_table(bench_dir: str = "results/benchmarks") -> str:
    """Markdown table of Snakemake ``benchmark:`` files: jobs, summed wall time and peak memory per rule."""
    import csv
    from pathlib import Path

    rows: dict[str, list[tuple[float, float]]] = {}
    for tsv in sorted(Path(bench_dir).rglob("*.tsv")):
        rule = tsv.parent.name if tsv.parent != Path(bench_dir) else tsv.stem
        with open(tsv) as fh:
            for rec in csv.DictReader(fh, delimiter="\t"):
                rss = float(rec["max_rss"]) if rec.get("max_rss") not in (None, "", "NA", "-") else float("nan")
                rows.setdefault(rule, []).append((float(rec["s"]), rss))
    if not rows:
        raise ValueError(f"no benchmark files under {bench_dir}")
    lines = [
        "| stage (rule) | jobs | wall time, summed (s) | peak memory of one job (MiB) |",
        "| --- | --- | --- | --- |",
    ]
    for rule, recs in rows.items():
        lines.append(f"| {rule} | {len(recs)} | {sum(r[0] for r in recs):.1f} | {max(r[1] for r in recs):.0f} |")
    return "\n".join(lines)


def generate_release(folder: str, n: int, seed: int = 0) -> list[str]:
    """Write (or complete) a released-layout folder of ``n`` ids with random float32 features; return the ids.

    Files already there with the right size are kept, so a folder can be reused between runs.
    """
    import os

    from .features.kinds import DEFAULT_KINDS
    from .features.released import RELEASE_FOLDERS, SHAPES

    ids = [f"bench{i:06d}" for i in range(n)]  # 11 characters, like a YouTube id
    rng = np.random.default_rng(seed)
    for name in DEFAULT_KINDS:  # the HAN release's three folders
        sub = RELEASE_FOLDERS[name]
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
        size = 128 + 4 * int(np.prod(SHAPES[name]))  # .npy header (version 1, 128 bytes) + float32 data
        for vid in ids:
            path = os.path.join(folder, sub, f"{vid}.npy")
            if not (os.path.isfile(path) and os.path.getsize(path) == size):
                np.save(path, rng.random(SHAPES[name], dtype=np.float32))
    return ids


def _release_ids(folder: str) -> list[str]:
    import os

    from .features.kinds import DEFAULT_KINDS
    from .features.released import RELEASE_FOLDERS

    stems = [
        {e.name[:-4] for e in os.scandir(os.path.join(folder, RELEASE_FOLDERS[name])) if e.name.endswith(".npy")}
        for name in DEFAULT_KINDS
    ]
    return sorted(set.intersection(*stems))


def bench_import(folder: str, threads: int = 2, repeat: int = 3, shard_size: int = 256) -> dict:
    """Import throughput of a released-layout folder (shards of ``shard_size``, ``threads`` readers)
    against reading the same files' bytes (``open().read()``, one thread), both warm, in alternating
    order; best of ``repeat`` rounds each. Also timed: reading and hashing (sha256) every file, which the
    import must do at least once (the shard format's own checksum hashes the features a second time)."""
    import hashlib
    import os
    import tempfile

    from .features.kinds import DEFAULT_KINDS
    from .features.released import RELEASE_FOLDERS, import_shard, release_path

    ids = _release_ids(folder)
    if not ids:
        folders = ", ".join(RELEASE_FOLDERS[name] for name in DEFAULT_KINDS)
        raise ValueError(f"{folder}: no video with all of {folders} (use --generate N)")
    files = [release_path(folder, name, vid) for vid in ids for name in DEFAULT_KINDS]
    total = sum(os.path.getsize(f) for f in files)

    def raw() -> None:
        for f in files:
            with open(f, "rb") as fh:
                fh.read()

    def hashed() -> None:
        for f in files:
            with open(f, "rb") as fh:
                hashlib.sha256(fh.read()).digest()

    def imported(out: str) -> float:
        """Seconds spent importing; each shard is deleted once written (only the import is timed)."""
        spent = 0.0
        for k in range(0, len(ids), shard_size):
            outputs = {name: os.path.join(out, f"{name}.h5") for name in DEFAULT_KINDS}
            t0 = time.perf_counter()
            import_shard(
                ids[k : k + shard_size],
                folder,
                outputs,
                os.path.join(out, "failures.tsv"),
                {"source": "released", "released_dir": folder},
                threads=threads,
                progress=False,
            )
            spent += time.perf_counter() - t0
            for path in outputs.values():
                os.unlink(path)
        return spent

    def timed(fn) -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    raw()  # warm the page cache
    times = {"raw": [], "sha256": [], "import": []}
    with tempfile.TemporaryDirectory() as tmp:
        run = {"raw": lambda: timed(raw), "sha256": lambda: timed(hashed), "import": lambda: imported(tmp)}
        for r in range(repeat):
            for what in list(run) if r % 2 == 0 else list(run)[::-1]:
                times[what].append(run[what]())
    best = {what: min(t) for what, t in times.items()}
    out = {
        "videos": len(ids),
        "files": len(files),
        "MB": total / 1e6,
        "threads": threads,
        "shard_size": shard_size,
        "ratio": best["raw"] / best["import"],
    }
    for what, t in best.items():
        out.update({f"{what}_s": t, f"{what}_MB_s": total / 1e6 / t, f"{what}_videos_s": len(ids) / t})
    return out


def bench_pages(paths: list[str], model_path: str | None = None, unplayable: int = 4) -> dict:
    """Seconds per video of what ``avvp parse`` writes for people (exports, thumbnail, page: one
    :func:`write_video_outputs` call) for ``paths`` as they are, and for the first ``unplayable`` of them
    re-encoded to MPEG-4 Part 2 AVI first (so the page needs an H.264 copy); the run's index page; and, with
    ``model_path``, the model's own prediction of the same videos (``VideoParser.predict``) as the baseline."""
    import subprocess
    import tempfile
    from pathlib import Path

    from .media.ffmpeg_bin import ffmpeg_exe
    from .media.probe import probe
    from .parse import events_json
    from .reporting.parse_pages import write_parse_index, write_video_outputs

    res: dict = {"videos": len(paths)}
    parser = None
    if model_path:
        from .parse import VideoParser

        parser = VideoParser.load(model_path, "cpu")
        parser.predict(paths[0])  # warm-up: first calls allocate
    rng = np.random.default_rng(0)
    t_pred = t_pages = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        docs = []
        for i, path in enumerate(paths):
            if parser is not None:
                t0 = time.perf_counter()
                result = parser.predict(path)
                t_pred += time.perf_counter() - t0
            else:  # the shapes a parse gives: per-second probabilities, events where they exceed 0.5
                seconds = max(1, int(np.ceil(probe(path).duration - 1e-6)))
                prob = rng.random((2, 25, seconds)).astype(np.float32) ** 4
                result = {
                    "duration": float(seconds),
                    "seconds": seconds,
                    "windows": -(-seconds // 10),
                    "has_audio": True,
                    "pred_audio": prob[0] > 0.5,
                    "pred_visual": prob[1] > 0.5,
                    "prob_audio": prob[0],
                    "prob_visual": prob[1],
                }
            doc = events_json(result, path, "bench", model_path or "", "global")
            docs.append((path, doc, result))
            t0 = time.perf_counter()
            write_video_outputs(Path(tmp) / f"v{i}", doc, result, path)
            t_pages += time.perf_counter() - t0
        res["page + exports, playable input (s/video)"] = t_pages / len(paths)
        t0 = time.perf_counter()
        write_parse_index(tmp, {p: f"v{i}" for i, (p, _, _) in enumerate(docs)}, {p: "ok" for p, _, _ in docs}, "bench")
        res["index page of the run (s)"] = time.perf_counter() - t0
        t_copy, few = 0.0, docs[:unplayable]
        for i, (path, doc, result) in enumerate(few):
            avi = f"{tmp}/u{i}.avi"
            subprocess.run(
                [ffmpeg_exe(), "-v", "error", "-y", "-i", path, "-c:v", "mpeg4", "-q:v", "3", "-c:a", "mp3", avi],
                check=True,
            )
            t0 = time.perf_counter()
            write_video_outputs(Path(tmp) / f"u{i}", doc, result, avi)
            t_copy += time.perf_counter() - t0
        if few:
            res["page + exports + H.264 copy, unplayable input (s/video)"] = t_copy / len(few)
    if parser is not None:
        res["baseline: the model's prediction, VideoParser.predict (s/video)"] = t_pred / len(paths)
        res["page + exports / prediction, playable input"] = t_pages / t_pred
    return res


def _transport_job(job):
    """A decoder stand-in for the transport benchmark: ``num_frames`` frames of a constant (no decoding)."""
    from .media.frame_ring import deliver

    seed, num_frames, height, width, *slot = job
    frames = (np.full((height, width, 3), (seed + k) % 251, np.uint8) for k in range(num_frames))
    return seed, deliver(frames, num_frames, slot[0] if slot else None), None


def bench_transport(
    videos: int = 64, workers: int = 1, num_frames: int = 80, height: int = 240, width: int = 320, repeat: int = 3
) -> dict:
    """Decoder processes -> consumer hand-off of ``videos`` videos' frames, through the pool's pipe
    (pickled) and through the shared-memory ring, in alternating order, best of ``repeat`` rounds each.
    The decoders write constant frames (no decoding) and the consumer's model is trivial (a checksum
    of a few pixels), so the hand-off is all that is timed; pools start before the timed window."""
    from .media.frame_ring import FrameRing
    from .media.pool import DecoderPool

    jobs = [(i, num_frames, height, width) for i in range(videos)]
    nbytes = num_frames * height * width * 3
    times: dict[str, list[float]] = {"pipe": [], "shm": []}
    checks: dict[str, int] = {}

    def once(mode: str) -> float:
        ring = FrameRing(2 * workers, nbytes) if mode == "shm" else None
        try:
            with DecoderPool(workers, ring=ring) as pool:
                pool.start(warm=True)
                list(pool.imap(_transport_job, jobs[: 2 * workers]))  # slots attached, pipes warm
                t0 = time.perf_counter()
                check = 0
                for _seed, frames, _err in pool.imap(_transport_job, jobs):
                    check += int(frames[:, ::60, ::80, 0].sum())  # the trivial model
                dt = time.perf_counter() - t0
        finally:
            if ring is not None:
                ring.close()
        checks[mode] = check
        return dt

    for r in range(repeat):
        for mode in ("pipe", "shm") if r % 2 == 0 else ("shm", "pipe"):
            times[mode].append(once(mode))
    if checks["pipe"] != checks["shm"]:
        raise AssertionError("the two transports delivered different frames")
    best = {m: min(t) for m, t in times.items()}
    return {
        "videos": videos,
        "workers": workers,
        "MB per video": nbytes / 1e6,
        "pipe (pickled through the pool), videos/s": videos / best["pipe"],
        "shared-memory ring, videos/s": videos / best["shm"],
        "pipe, MB/s": videos * nbytes / 1e6 / best["pipe"],
        "shared-memory ring, MB/s": videos * nbytes / 1e6 / best["shm"],
        "speed-up of shared memory over the pipe": best["pipe"] / best["shm"],
    }


def _decode_previous_way(path: str, fps: float, num_frames: int, probe_times: int = 1) -> np.ndarray:
    """The decoding this package did before (the baseline of ``bench decode``): ``ffmpeg -i``'s log read
    with regular expressions (``probe_times`` times: ``avvp parse`` probed three times per video), then
    every frame up to the last one kept converted to RGB, in chunks of 32 (``get_batch``)."""
    import decord

    from .media.decode import frame_indices
    from .media.probe import info_from_ffmpeg_log, run_ffmpeg

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
    from .media.decode import sample_frames
    from .media.ffmpeg_bin import ffprobe_exe
    from .media.probe import probe

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
    from .media.probe import info_from_ffmpeg_log, run_ffmpeg

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
            c0, t0 = _cpu_seconds(), time.perf_counter()
            run[what]()
            times[what].append(time.perf_counter() - t0)
            cpu[what].append(_cpu_seconds() - c0)
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


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the ffmpeg subprocesses), user + system."""
    import resource

    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _write_json(args, result: dict) -> None:
    if getattr(args, "json", None):
        import json

        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=1, default=str)


def bench_teachers(n: int = 2, threads: int = 2, seed: int = 0) -> dict:
    """Seconds per video of VALOR's teachers on the CPU (decoding excluded: LLP-sized 240 x 320 frames and a
    10-s 48 kHz soundtrack made here), with random full-size networks (ViT-L/14 CLIP, HTS-AT + RoBERTa
    CLAP) against the small random ones of the tests and the demo, each after one warm-up video."""
    import torch

    from .teachers.stage import Teachers

    torch.set_num_threads(max(1, threads))
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (10, 240, 320, 3), dtype=np.uint8)
    wave = (0.1 * rng.standard_normal(480000)).astype(np.float32)
    weak = np.ones(25, np.float32)
    out: dict = {"videos": n, "threads": threads}
    for size in ("small", "full"):
        t0 = time.perf_counter()
        t = Teachers({"random_size": size, "seed": seed}, device="cpu")
        out[f"{size}_load_s"] = time.perf_counter() - t0
        for name, fn in (("clip", partial(t.clip.labels, frames, weak)), ("clap", partial(t.clap.labels, wave, weak))):
            fn()
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            out[f"{size}_{name}_s_per_video"] = (time.perf_counter() - t0) / n
        out[f"{size}_parameters_M"] = sum(p.numel() for m in (t.clip.model, t.clap.model) for p in m.parameters()) / 1e6
    for name in ("clip", "clap"):
        out[f"{name}_full_vs_small"] = out[f"full_{name}_s_per_video"] / out[f"small_{name}_s_per_video"]
    return out


def run(what: str, args) -> int:
    """Run the benchmark named ``what`` and print its figures (``--json FILE``: also as JSON)."""
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}")
    if what == "metrics":
        r = bench_metrics(args.videos, args.repeat)
        print(
            f"LLP F-scores over {r['videos']} videos: vectorised {r['vectorised_s'] * 1e3:.1f} ms, "
            f"per-video loop {r['loop_s']:.2f} s -> {r['speedup']:.0f}x faster "
            f"(max |difference| {r['max_abs_diff']:.1e})"
        )
        return 0
    if what == "teachers":
        r = bench_teachers(args.n, args.threads)
        for k, v in r.items():
            print(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}")
        _write_json(args, r)
        return 0
    if what == "extract":
        from pathlib import Path

        paths = sorted(str(p) for p in Path(args.videos_dir).glob("*.mp4"))[: args.n] if args.videos_dir else []
        if not paths:
            raise ValueError(
                "bench extract needs --videos-dir with mp4 files (e.g. resources/demo/videos after the demo)"
            )
        cfg = {
            "weights": args.weights,
            "precision": args.precision,
            "resnet_resize": args.resnet_resize,
            "resnet_crop": args.resnet_crop,
            "r2plus1d_size": args.r2plus1d_size,
            "batch_videos": args.batch_videos,
            "weights_dir": args.weights_dir,
        }
        print(f"config: {cfg}, threads {args.threads}")
        r = bench_extract(
            paths, cfg, args.threads, reference=not args.no_reference, stage_n=args.stage_n, device=args.device
        )
        for k, v in r.items():
            print(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}")
        _write_json(args, r)
        return 0
    if what == "train":
        sizes = [int(x) for x in args.batch_sizes.split(",")]
        r = bench_train(
            args.model,
            args.videos,
            sizes,
            tuple(args.train_precisions.split(",")),
            device=args.device,
            cuda_graphs=args.cuda_graphs,
        )
        _write_json(args, r)
        for k, v in r.items():
            print(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}")
        return 0
    if what == "pages":
        from pathlib import Path

        paths = sorted(str(p) for p in Path(args.videos_dir).glob("*.mp4"))[: args.n] if args.videos_dir else []
        if not paths:
            raise ValueError(
                "bench pages needs --videos-dir with mp4 files (e.g. resources/demo/videos after the demo)"
            )
        for k, v in bench_pages(paths, args.parse_model).items():
            print(f"{k}: {v:.3f}" if isinstance(v, float) else f"{k}: {v}")

    if what == "transport":
        r = bench_transport(args.n, args.workers, repeat=args.repeat)
        _write_json(args, r)
        print(
            f"transport of {r['videos']} videos ({r['MB per video']:.1f} MB of frames each) from {r['workers']} "
            f"decoder process(es) to the consumer; best of {args.repeat} rounds each, alternating"
        )
        for k, v in r.items():
            if k not in ("videos", "workers", "MB per video"):
                print(f"{k}: {v:.1f}" + ("x" if "speed-up" in k else ""))
        return 0
    if what == "decode":
        import os

        if not args.video and not os.environ.get("AVVP_LLP_DIR"):
            raise ValueError("bench decode needs --video CLIP (or AVVP_LLP_DIR naming the folder with the LLP clip)")
        video = args.video or os.path.join(os.environ["AVVP_LLP_DIR"], "BjCEufrlXm4.mp4")
        r = bench_decode(video, args.repeat)
        _write_json(args, r)
        print(f"decode, one process, best of {args.repeat} rounds each, alternating; frames equal")
        for k, v in r.items():
            print(f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}")
        return 0
    if what == "stages":
        print(stage_table(args.dir))
        return 0
    if what == "import":
        if not args.released_dir:
            raise ValueError("bench import needs --released-dir (with --generate N to write one first)")
        if args.generate:
            t0 = time.perf_counter()
            generate_release(args.released_dir, args.generate)
            print(
                f"released-layout folder {args.released_dir}: {args.generate} ids ready in "
                f"{time.perf_counter() - t0:.0f} s"
            )
        r = bench_import(args.released_dir, args.threads, args.repeat, args.shard_size)
        print(
            f"{r['videos']} videos, {r['files']} files, {r['MB']:.0f} MB; best of {args.repeat} rounds each, warm, "
            "alternating order"
        )
        print(
            f"raw read (open().read(), 1 thread): {r['raw_s']:.2f} s, {r['raw_MB_s']:.0f} MB/s, "
            f"{r['raw_videos_s']:.0f} videos/s"
        )
        print(
            f"read + sha256 (1 thread, for reference): {r['sha256_s']:.2f} s, {r['sha256_MB_s']:.0f} MB/s, "
            f"{r['sha256_videos_s']:.0f} videos/s"
        )
        threads = f"{r['threads']} thread{'s' if r['threads'] != 1 else ''}"
        print(
            f"import ({threads}, shards of {r['shard_size']}): {r['import_s']:.2f} s, {r['import_MB_s']:.0f} MB/s, "
            f"{r['import_videos_s']:.0f} videos/s"
        )
        print(f"import / raw read throughput: {r['ratio']:.2f}")
        return 0
    raise ValueError(f"unknown benchmark {what!r}")


def _reference_visual(path: str, workdir: str, resnet, r21d, cfg) -> None:
    """Reference-style visual extraction of one video: ffmpeg -r 8 JPEGs, PIL, one fp32 forward per model."""
    import glob
    import os
    import subprocess

    import torch
    from PIL import Image
    from torchvision import transforms

    from .features.visual import IMAGENET_MEAN, IMAGENET_STD, KINETICS_MEAN, KINETICS_STD
    from .media.ffmpeg_bin import ffmpeg_exe

    out = os.path.join(workdir, "frames")
    os.makedirs(out, exist_ok=True)
    for f in glob.glob(os.path.join(out, "*.jpg")):
        os.unlink(f)
    subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", path, "-r", str(cfg.fps), os.path.join(out, "%06d.jpg")], check=True
    )
    files = sorted(glob.glob(os.path.join(out, "*.jpg")))
    pick = np.round(np.linspace(0, len(files) - 1, cfg.num_frames)).astype(int)
    images = [Image.open(files[i]).convert("RGB") for i in pick]
    t2d = transforms.Compose(
        [
            transforms.Resize(cfg.resnet_resize),
            transforms.CenterCrop(cfg.resnet_crop),
            transforms.ToTensor(),
            transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )
    t3d = transforms.Compose(
        [
            transforms.Resize((cfg.r2plus1d_size, cfg.r2plus1d_size)),
            transforms.ToTensor(),
            transforms.Normalize(KINETICS_MEAN, KINETICS_STD),
        ]
    )
    device = next(resnet.parameters()).device
    with torch.inference_mode():
        resnet(torch.stack([t2d(im) for im in images]).to(device))
        clips = torch.stack([t3d(im) for im in images]).view(-1, 8, 3, cfg.r2plus1d_size, cfg.r2plus1d_size)
        r21d(clips.permute(0, 2, 1, 3, 4).to(device))
    if device.type == "cuda":
        torch.cuda.synchronize()


class _GpuUtilisation:
    """Mean GPU utilisation (%) while it runs: ``torch.cuda.utilization`` (needs pynvml) or ``nvidia-smi``,
    sampled every 0.2 s in a thread."""

    def __init__(self, device):
        import threading

        self.device, self.samples, self.source = device, [], None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        import subprocess

        import torch

        if self.source in (None, "torch.cuda.utilization"):
            try:
                value = float(torch.cuda.utilization(self.device))
                self.source = "torch.cuda.utilization"
                return value
            except Exception:
                self.source = "nvidia-smi"
        index = self.device.index if self.device.index is not None else 0
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits", "-i", str(index)],
            capture_output=True,
            text=True,
            timeout=5,
        )
        return float(out.stdout.strip().splitlines()[0])

    def _run(self):
        while not self._stop.is_set():
            try:
                self.samples.append(self._sample())
            except Exception:
                self.source = "unavailable"
                return
            self._stop.wait(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float:
        return float(np.mean(self.samples)) if self.samples else float("nan")


def _timed_shard(extractor, paths: list[str], outputs: dict, pool, device) -> tuple[float, object, object]:
    """Seconds for one shard with an extractor built and decoders started beforehand; stage times; GPU use."""
    import contextlib

    from .features.runner import extract_shard
    from .features.stage_times import StageTimes

    times = StageTimes()
    gpu = _GpuUtilisation(device) if device.type == "cuda" else contextlib.nullcontext()
    with gpu:
        times.start = t0 = time.perf_counter()
        extract_shard(
            extractor,
            paths,
            outputs,
            outputs[extractor.shards[0]] + ".failures.tsv",
            {},
            progress=False,
            times=times,
            pool=pool,
        )
        dt = time.perf_counter() - t0
    return dt, times, gpu


def _stage_report(res: dict, label: str, n: int, dt: float, times, gpu) -> None:
    res[f"{label}: videos/s end to end (models built, decoders started before)"] = n / dt
    res[f"{label}: videos/s steady (after the first batch)"] = times.steady_rate()
    for stage, sec in sorted(times.seconds.items(), key=lambda kv: -kv[1]):
        res[f"{label}: {stage}, s"] = sec
    if gpu is not None and hasattr(gpu, "mean"):
        res[f"{label}: GPU utilisation, mean % ({gpu.source})"] = gpu.mean


def bench_extract(
    paths: list[str], cfg_dict: dict, threads: int, reference: bool = True, stage_n: int = 16, device: str = "auto"
) -> dict:
    """Videos/s end to end over ``paths``: the pipeline (frames through shared memory, batches overlapped on
    CUDA) and, in the same run, the sequential path (frames through the pool's pipe, each stage after the
    other), each with seconds per stage (CUDA events on a GPU, perf_counter on the CPU) and its steady
    rate; models are built and decoder processes started outside the timed window. Also: 1-process decode
    and each model alone over the first ``stage_n`` clips, the audio shard, and the reference style."""
    import tempfile

    import torch

    from .features import store, visual
    from .features.audio_extractor import AudioExtractor
    from .features.config import ExtractConfig
    from .features.runner import decoders
    from .features.visual_extractor import VisualExtractor
    from .features.weights import resolve
    from .media.decode import sample_frames

    torch.set_num_threads(threads)
    cfg = ExtractConfig.from_dict(
        {**cfg_dict, "device": device, "decode_workers": max(1, threads - 1) if threads > 1 else 0}
    )
    dev = cfg.torch_device()
    n = len(paths)
    res: dict = {
        "videos": n,
        "device": str(dev) + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else ""),
        "decoder processes": cfg.decode_workers,
    }
    few = paths[:stage_n]
    t0 = time.perf_counter()
    frames = [sample_frames(p, cfg.fps, cfg.num_frames) for p in few]
    res["decode, 1 process, videos/s"] = len(few) / (time.perf_counter() - t0)
    resnet = visual.build_resnet152(resolve("resnet152", cfg.weights, weights_dir=cfg.weights_dir, seed=cfg.seed))
    r21d = visual.build_r2plus1d_18(resolve("r2plus1d_18", cfg.weights, weights_dir=cfg.weights_dir, seed=cfg.seed))
    resnet_cl = resnet.to(dev, memory_format=torch.channels_last)
    r21d = r21d.to(dev)
    with torch.inference_mode():
        x2d = torch.cat(
            [visual.preprocess_2d(torch.from_numpy(f).to(dev), cfg.resnet_resize, cfg.resnet_crop) for f in frames]
        ).contiguous(memory_format=torch.channels_last)
        x3d = torch.cat([visual.preprocess_3d(torch.from_numpy(f).to(dev), cfg.r2plus1d_size) for f in frames])
        for name, model, x in (("ResNet-152", resnet_cl, x2d), ("R(2+1)D-18", r21d, x3d)):
            step = max(1, x.shape[0] // len(few) * cfg.batch_videos)
            with visual.autocast(dev, cfg.precision):
                model(x[:step])  # warm-up: cuDNN algorithm choice and allocator growth are not throughput
                if dev.type == "cuda":
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
                for i in range(0, x.shape[0], step):
                    model(x[i : i + step])
            if dev.type == "cuda":
                torch.cuda.synchronize()
            res[f"{name} model alone, {cfg.precision}, {cfg.batch_videos} videos/batch, videos/s"] = len(few) / (
                time.perf_counter() - t0
            )
    del x2d, x3d
    with tempfile.TemporaryDirectory() as tmp:
        feats = {}
        for label, over in (
            ("pipeline (shared memory, overlapped)", {}),
            ("sequential (pipe, one stage after the other)", {"transport": "pipe", "overlap": False}),
        ):
            c = ExtractConfig.from_dict({**cfg.__dict__, **over})
            ext = VisualExtractor(c)
            ext([frames[0]])  # warm-up outside the timed window
            outs = {name: f"{tmp}/{name}-{len(feats)}.h5" for name in ext.shards}
            with decoders(c, True, warm=True) as pool:
                dt, times, gpu = _timed_shard(ext, paths, outs, pool, dev)
            _stage_report(res, f"visual, {label}", n, dt, times, gpu if dev.type == "cuda" else None)
            feats[label] = {name: store.read_shard(path)[1] for name, path in outs.items()}
            del ext
        a, b = feats.values()
        res["visual: max |difference| of the features, pipeline vs sequential"] = max(
            float(np.abs(a[k] - b[k]).max()) if a[k].size else 0.0 for k in a
        )
        res["visual: speed-up of the pipeline over the sequential path"] = (
            res[
                "visual, pipeline (shared memory, overlapped): videos/s end to end (models built, decoders started "
                "before)"
            ]
            / res[
                "visual, sequential (pipe, one stage after the other): videos/s end to end (models "
                "built, decoders started before)"
            ]
        )
        aud = AudioExtractor(cfg)
        with decoders(cfg, False, warm=True) as pool:
            dt, times, gpu = _timed_shard(aud, paths, {"vggish": f"{tmp}/vggish.h5"}, pool, dev)
        _stage_report(res, "audio", n, dt, times, gpu if dev.type == "cuda" else None)
        if reference:
            resnet32 = resnet.to(memory_format=torch.contiguous_format).float()
            t0 = time.perf_counter()
            for p in few:
                _reference_visual(p, tmp, resnet32, r21d, cfg)
            t_ref = time.perf_counter() - t0
            res["reference style, visual (JPEG + PIL + fp32, 1 video/forward), videos/s"] = len(few) / t_ref
            res["speed-up of the pipeline's visual shard over the reference style"] = res[
                "visual, pipeline (shared memory, overlapped): videos/s end to end (models built, decoders "
                "started before)"
            ] / (len(few) / t_ref)
    return res


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports ru_maxrss in KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def bench_train(
    model_name: str,
    videos: int,
    batch_sizes: list[int],
    precisions: tuple[str, ...] = ("fp32",),
    device: str = "auto",
    seed: int = 0,
    cuda_graphs: bool = False,
) -> dict:
    """Seconds per training epoch over ``videos`` synthetic LLP-shaped videos held on the device, for
    the recipe's batch size in fp32 (the reference) and each (batch size, precision) setting; one
    warm-up pass over a tenth of the data per setting first. With ``cuda_graphs`` (CUDA only) each setting
    is timed again with the graphed step, and one seeded epoch at the recipe's batch size is run both ways
    to report how far apart their losses and weights end."""
    import torch

    from .data.feature_sets import FeatureSet
    from .device import resolve_device
    from .features.kinds import default_shapes
    from .models.registry import build_model
    from .models.rows import spec, train_options
    from .training.config import TrainConfig
    from .training.graphed import GraphedStep
    from .training.trainer import _optimizer, train_epoch

    dev = resolve_device(device)
    if cuda_graphs and dev.type != "cuda":
        raise ValueError(f"bench train --cuda-graphs needs a CUDA device, got {dev}")
    g = torch.Generator().manual_seed(seed)
    labels = (torch.rand(videos, 25, generator=g) < 0.08).float()
    ids = [f"v{i:010d}" for i in range(videos)]
    kinds = spec(model_name).features  # the row's feature kinds' shapes (LLP's for every row but valor++)
    fs = FeatureSet(
        "train",
        ids,
        ids,
        *(torch.randn(videos, *shape, generator=g).to(dev) for shape in default_shapes(kinds).values()),
        labels.to(dev),
        None,
        None,
        kinds=kinds,
    )
    fs.labels_audio, fs.labels_visual = fs.labels, fs.labels
    if spec(model_name).pseudo_labels:  # VALOR rows: the weak label in every second as pseudo labels
        fs.pseudo_audio = fs.pseudo_visual = fs.labels[:, None, :].repeat(1, 10, 1)
        fs.pseudo_present = torch.ones(videos, device=dev)
    feature_bytes = sum(t.numel() * t.element_size() for t in (fs.audio, fs.video_s, fs.video_st, fs.labels))
    recipe_bs = train_options(model_name)["batch_size"]
    settings = [(recipe_bs, "fp32")] + [
        (bs, p) for bs in batch_sizes for p in precisions if (bs, p) != (recipe_bs, "fp32")
    ]
    out = {
        "device": str(dev) + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else ""),
        "model": model_name,
        "videos": videos,
    }
    times = {}
    out["features held in memory (MB)"] = feature_bytes / 1e6

    def fresh(cfg: TrainConfig, graphed: bool):
        """The run's seeded model and optimiser (and graphed step) with its epoch function."""
        torch.manual_seed(seed)
        model = build_model(model_name, train_options(model_name)).to(dev).train()
        opt, _ = _optimizer(model, cfg, dev)
        step = GraphedStep(model, model_name, fs, opt, cfg) if graphed else None
        rng = torch.Generator().manual_seed(seed)

        def epoch(n: int) -> float:
            """Seconds and mean loss of the trainer's own epoch over ``n`` videos (CM-S rows with their
            CM-S loss on)."""
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            loss = train_epoch(model, model_name, fs, opt, cfg.init_epoch + 1, cfg, rng, rng, videos=n, graphed=step)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            return time.perf_counter() - t0, loss

        return model, epoch

    for bs, precision in settings:
        cfg = TrainConfig.from_dict({**train_options(model_name), "batch_size": bs, "precision": precision})
        for graphed in (False, True) if cuda_graphs else (False,):
            label = f"batch {bs} {precision}" + (" cuda graphs" if graphed else "")
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
            _, epoch = fresh(cfg, graphed)
            warm, _ = epoch(min(videos, max(bs, videos // 10)))
            times[(bs, precision, graphed)] = epoch(videos)[0] * 10_000 / videos
            out[f"{label}: s/epoch (10,000 videos)"] = times[(bs, precision, graphed)]
            if graphed:
                out[f"{label}: warm-up pass with the capture (s)"] = warm
            if dev.type == "cuda":
                out[f"{label}: peak GPU memory allocated (MB)"] = torch.cuda.max_memory_allocated(dev) / 1e6
    if cuda_graphs:  # one seeded epoch both ways, from the same start
        cfg = TrainConfig.from_dict(train_options(model_name))
        (m_eager, ep_eager), (m_graph, ep_graph) = fresh(cfg, False), fresh(cfg, True)
        loss_eager, loss_graph = ep_eager(videos)[1], ep_graph(videos)[1]
        weights = max(
            (a.float() - b.float()).abs().max().item()
            for a, b in zip(m_eager.state_dict().values(), m_graph.state_dict().values())
        )
        out[f"batch {recipe_bs} fp32, one epoch, cuda graphs vs eager: loss difference"] = abs(loss_eager - loss_graph)
        out[f"batch {recipe_bs} fp32, one epoch, cuda graphs vs eager: largest weight difference"] = weights
    out["peak CPU memory of the process, RSS (MB)"] = _peak_rss_mb()
    ref = times[(recipe_bs, "fp32", False)]
    fastest = min(times, key=times.get)
    out["reference"] = f"batch {recipe_bs} fp32 (the recipe): {ref:.3f} s/epoch"
    out["fastest"] = (
        f"batch {fastest[0]} {fastest[1]}{' cuda graphs' if fastest[2] else ''}: {times[fastest]:.3f} s/epoch, "
        f"{ref / times[fastest]:.1f}x the reference"
    )
    if cuda_graphs:
        graphed = times[(recipe_bs, "fp32", True)]
        out["cuda graphs at the recipe's batch"] = (
            f"batch {recipe_bs} fp32: {graphed:.3f} s/epoch, {ref / graphed:.1f}x the eager reference"
        )
    return out
