"""Every clip of a synthetic set rendered by a pool of processes, then its annotations (:func:`generate`)."""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
from pathlib import Path

from avvp_pipeline.data.synth.annotations import check_layout, write_annotations
from avvp_pipeline.data.synth.clip_file import write_clip
from avvp_pipeline.data.synth.clip_plan import Clip, plan
from avvp_pipeline.data.synth.spec import SynthSpec


def _render_job(spec: SynthSpec, clip: Clip, videos_dir: str) -> str:
    write_clip(spec, clip, Path(videos_dir) / f"{clip.video_id}.mp4")
    return clip.filename


def generate(
    spec: SynthSpec,
    videos_dir: str | os.PathLike[str],
    annotations_dir: str | os.PathLike[str],
    *,
    jobs: int = 1,
    progress: bool = True,
    layout: str = "llp",
) -> None:
    """Render every clip of ``plan(spec)`` to ``videos_dir/<id>.mp4`` and write the annotations in
    ``layout`` (``llp``: the LLP CSVs; ``custom``: a custom data set's files, docs/datasets.md).

    Clips are rendered by a pool of ``jobs`` processes (in-process when ``jobs == 1``) with a
    tqdm progress bar when ``progress``; the annotation files are written once all clips exist. A spec
    the layout cannot hold (:func:`.annotations.check_layout`) is refused before any clip is made.
    Workers are started with ``spawn`` (safe when torch is loaded), so a script calling this with
    ``jobs > 1`` needs the usual ``if __name__ == "__main__":`` guard.
    """
    from tqdm import tqdm

    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    check_layout(spec, layout)
    clips = plan(spec)
    vdir = Path(videos_dir).resolve()
    vdir.mkdir(parents=True, exist_ok=True)
    bar = tqdm(total=len(clips), desc="synth", unit="clip", disable=not progress)
    try:
        if jobs == 1 or len(clips) <= 1:
            for clip in clips:
                _render_job(spec, clip, str(vdir))
                bar.update(1)
        else:
            ctx = multiprocessing.get_context("spawn")
            with concurrent.futures.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                futures = [pool.submit(_render_job, spec, c, str(vdir)) for c in clips]
                try:
                    for fut in concurrent.futures.as_completed(futures):
                        fut.result()
                        bar.update(1)
                except BaseException:
                    for fut in futures:
                        fut.cancel()
                    raise
    finally:
        bar.close()
    write_annotations(spec, clips, annotations_dir, layout)
