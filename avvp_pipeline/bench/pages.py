"""pages: the page, thumbnail and exports `avvp parse` writes per video. Against the model's prediction of the
same videos (`--parse-model`)."""

from __future__ import annotations

import time

import numpy as np

from .common import add_videos_dir_flags, print_figures, print_machine, video_paths


def add_arguments(p) -> None:
    add_videos_dir_flags(p)
    p.add_argument(
        "--parse-model",
        metavar="MODEL_PT",
        help="a model.pt whose prediction of the same videos is the baseline (e.g. results/runs/han/model.pt)",
    )


def bench_pages(paths: list[str], model_path: str | None = None, unplayable: int = 4) -> dict:
    """Seconds per video of what ``avvp parse`` writes for people (exports, thumbnail, page: one
    :func:`write_video_outputs` call) for ``paths`` as they are, and for the first ``unplayable`` of them
    re-encoded to MPEG-4 Part 2 AVI first (so the page needs an H.264 copy); the run's index page; and, with
    ``model_path``, the model's own prediction of the same videos (``VideoParser.predict``) as the baseline."""
    import subprocess
    import tempfile
    from pathlib import Path

    from ..media.ffmpeg_bin import ffmpeg_exe
    from ..media.probe import probe
    from ..parse import events_json
    from ..reporting.parse_pages import write_parse_index, write_video_outputs

    res: dict = {"videos": len(paths)}
    parser = None
    if model_path:
        from ..parse import VideoParser

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


def main(args) -> int:
    print_machine()
    print_figures(bench_pages(video_paths(args.videos_dir, args.n, "pages"), args.parse_model))
    return 0
