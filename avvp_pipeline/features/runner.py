"""Extract one shard of features: decode in worker processes while the models run.

One driver, :func:`extract_shard`, for every extractor (``features/extractor.py``): the visual one
decodes each video once (80 frames at 8 fps) for both ResNet-152 and R(2+1)D-18, the audio one
loads 16 kHz mono for VGGish; decoded videos are batched per forward. With ``any_length`` each video is
read whole (its segments: ``media/probe.py: video_segments``) and the shards store the lengths. A video
that fails to decode is listed in the shard's failures file (id, path, reason) and left out of the shard; the rest of
the shard completes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..media.frame_ring import FrameRing
from ..media.pool import DecoderPool
from . import store
from .audio_extractor import AudioExtractor
from .config import ExtractConfig
from .extractor import Extractor
from .failures import write_failures
from .stage_times import StageTimes
from .visual_extractor import VisualExtractor

log = logging.getLogger(__name__)

__all__ = [
    "decoders",
    "extract_audio_shard",
    "extract_shard",
    "extract_visual_shard",
    "frame_ring",
]

# frames of one video at LLP's usual 320x240 fill a slot; larger ones grow it, up to 720p
SLOT_FRAME_BYTES = 240 * 320 * 3
MAX_SLOT_FRAME_BYTES = 720 * 1280 * 3


def _video_id(path: str) -> str:
    return Path(path).stem


def frame_ring(cfg: ExtractConfig) -> FrameRing | None:
    """The shared-memory ring visual decoders write into (``transport: shm`` with decoder processes), or
    None: frames then come back through the pool's pipe."""
    if cfg.transport not in ("shm", "pipe"):
        raise ValueError(f"transport must be 'shm' or 'pipe', got {cfg.transport!r}")
    if cfg.transport == "pipe" or cfg.decode_workers <= 0:
        return None
    try:
        return FrameRing(
            2 * cfg.decode_workers, cfg.num_frames * SLOT_FRAME_BYTES, cfg.num_frames * MAX_SLOT_FRAME_BYTES
        )
    except OSError as exc:
        log.warning("no shared memory for decoded frames (%s): they come back through the pipe", exc)
        return None


@contextmanager
def decoders(cfg: ExtractConfig, frames: bool, warm: bool = False) -> Iterator[DecoderPool]:
    """The decoder processes of an extraction (with the shared-memory ring when ``frames``), stopped
    and unlinked on exit; ``warm``: started and imported now (benchmarks keep start-up out of the timing)."""
    with ExitStack() as stack:
        ring = frame_ring(cfg) if frames else None
        if ring is not None:
            stack.enter_context(ring)
        pool = stack.enter_context(DecoderPool(cfg.decode_workers, cfg.decode_timeout, ring))  # closes first
        if warm:
            pool.start(warm=True)
        yield pool


def _batches(items: Iterator, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _good_batches(
    results: Iterator, cfg: ExtractConfig, failures: list, bar, times: StageTimes | None
) -> Iterator[list[tuple[str, object]]]:
    """Batches of ``(path, result)`` that decoded; the others are appended to ``failures`` as
    ``(video id, path, reason)`` and logged. Time spent waiting for decoders counts as such."""
    it = _batches(results, cfg.batch_videos)
    while True:
        if times is None:
            batch = next(it, None)
        else:
            with times.host("waiting for frames"):
                batch = next(it, None)
        if batch is None:
            return
        good = []
        for path, result, err in batch:
            if err is None:
                good.append((path, result))
            else:
                failures.append((_video_id(path), path, err))
                log.error("skipping %s", err)
        bar.update(len(batch))
        if good:
            yield good


def _timed_take(take: Callable, times: StageTimes | None) -> Callable:
    if times is None:
        return take

    def timed(view):
        with times.host("copy out of shared memory"):
            return take(view)

    return timed


def extract_shard(
    extractor: Extractor,
    video_paths: list[str],
    outputs: dict[str, str],
    failures_path: str,
    stage_cfg: dict,
    progress: bool = True,
    times: StageTimes | None = None,
    pool: DecoderPool | None = None,
) -> list[tuple[str, str, str]]:
    """Decode ``video_paths``, run ``extractor`` on them and write one shard per name in ``outputs``
    (keys: ``extractor.shards``) and the failures file; return the failures.

    ``stage_cfg`` is what the shards record; ``times`` collects seconds per stage; ``pool``: decoder
    processes already started (:func:`decoders`), else the driver starts its own."""
    cfg = extractor.cfg
    ids: list[str] = []
    feats: dict[str, list[np.ndarray]] = {name: [] for name in extractor.shards}
    extras: dict[str, list] = {name: [] for name in extractor.extra_dtypes}
    failures: list[tuple[str, str, str]] = []
    jobs = [extractor.job(str(p)) for p in video_paths]
    desc = f"{extractor.label} {Path(outputs[extractor.shards[0]]).name}"
    with ExitStack() as stack:
        if pool is None:
            pool = stack.enter_context(decoders(cfg, extractor.frames_in_shared_memory))
        bar = stack.enter_context(tqdm(total=len(jobs), desc=desc, unit="video", disable=not progress))
        results = pool.imap(extractor.decode, jobs, take=_timed_take(extractor.take, times))
        for batch, out in extractor.run(_good_batches(results, cfg, failures, bar, times), times):
            ids += [_video_id(p) for p, _ in batch]
            for name in extractor.shards:
                feats[name] += list(out[name])  # one (rows, width) array per video
            for name, values in extractor.extras(batch).items():
                extras[name] += values
            if times is not None:
                times.batch_ready(len(batch))
    with times.host("write") if times is not None else ExitStack():
        extra = {name: np.array(values, dtype=extractor.extra_dtypes[name]) for name, values in extras.items()}
        for name in extractor.shards:
            data, lengths = store.padded(name, feats[name]) if feats[name] else (extractor.empty(name), None)
            attrs = extractor.shard_attrs(name, stage_cfg, len(failures))
            store.write_shard(outputs[name], ids, data, attrs, extra=extra or None, lengths=lengths)
        write_failures(failures_path, failures)
    return failures


def extract_visual_shard(
    video_paths: list[str],
    out_resnet: str,
    out_r2plus1d: str,
    failures_path: str,
    cfg_dict: dict,
    progress: bool = True,
    stage_cfg: dict | None = None,
) -> list[tuple[str, str, str]]:
    """Decode each video once and write the ResNet-152 and R(2+1)D-18 shards; return failures.

    ``cfg_dict`` holds all options; ``stage_cfg`` (default: ``cfg_dict``) is what the shard records.
    """
    extractor = VisualExtractor(ExtractConfig.from_dict(cfg_dict))
    return extract_shard(
        extractor,
        video_paths,
        {"resnet152": out_resnet, "r2plus1d_18": out_r2plus1d},
        failures_path,
        cfg_dict if stage_cfg is None else stage_cfg,
        progress,
    )


def extract_audio_shard(
    video_paths: list[str],
    out_vggish: str,
    failures_path: str,
    cfg_dict: dict,
    progress: bool = True,
    stage_cfg: dict | None = None,
) -> list[tuple[str, str, str]]:
    """Load 16 kHz mono audio and write the VGGish shard (``has_audio`` flags silent fill-ins)."""
    extractor = AudioExtractor(ExtractConfig.from_dict(cfg_dict))
    return extract_shard(
        extractor,
        video_paths,
        {"vggish": out_vggish},
        failures_path,
        cfg_dict if stage_cfg is None else stage_cfg,
        progress,
    )
