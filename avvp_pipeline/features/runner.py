"""Extract one shard of features: decode in worker processes while the models run.

Visual: each video is decoded once (80 frames at 8 fps) and feeds both ResNet-152 and
R(2+1)D-18; frames of several videos are batched per forward. Audio: 16 kHz mono -> VGGish.
A video that fails to decode is listed in the shard's failures file (id, path, reason) and
left out of the shard; the rest of the shard completes.
"""
from __future__ import annotations

import json
import logging
import platform
from dataclasses import dataclass
from contextlib import ExitStack
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from tqdm import tqdm

from .. import __version__
from ..device import resolve_device
from ..media.frame_ring import FrameRing
from ..media.jobs import decode_audio, decode_visual
from ..media.pool import DecoderPool
from ..media.pool import decoded as _decoded  # noqa: F401  (the pipe-only form, kept for callers)
from . import store, visual, vggish
from .failures import write_failures
from .weights import ResolvedWeights, resolve

log = logging.getLogger(__name__)


@dataclass
class ExtractConfig:
    """Feature-stage options (config.yaml ``features``); defaults are the LLP recipe."""

    weights: str = "random"
    weights_dir: str | None = None
    seed: int = 0
    device: str = "auto"
    precision: str = "fp32"
    decode_workers: int = 2
    batch_videos: int = 8
    fps: float = 8.0
    num_frames: int = 80
    resnet_resize: int = 256
    resnet_crop: int = 224
    r2plus1d_size: int = 112
    sample_rate: int = 16000
    example_hop: float = 1.0
    postprocess: str = "none"
    decode_timeout: float = 300.0
    transport: str = "shm"  # decoded frames reach the models through shared memory (shm) or the pool's pipe

    @classmethod
    def from_dict(cls, d: dict) -> "ExtractConfig":
        """Build from a flat dict; keys that are not options (``shard_size``, ``version``) are ignored."""
        unknown = set(d) - set(cls.__dataclass_fields__) - {"shard_size", "version"}
        if unknown:
            raise ValueError(f"unknown feature options: {sorted(unknown)}")
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    @property
    def segments(self) -> int:
        return int(round(self.num_frames / self.fps))

    def torch_device(self) -> torch.device:
        return resolve_device(self.device)


def _video_id(path: str) -> str:
    return Path(path).stem


# frames of one video at LLP's usual 320x240 fill a slot; larger ones grow it, up to 720p
SLOT_FRAME_BYTES = 240 * 320 * 3
MAX_SLOT_FRAME_BYTES = 720 * 1280 * 3


def frame_ring(cfg: "ExtractConfig") -> FrameRing | None:
    """The shared-memory ring visual decoders write into (``transport: shm`` with decoder processes), or
    None: frames then come back through the pool's pipe."""
    if cfg.transport not in ("shm", "pipe"):
        raise ValueError(f"transport must be 'shm' or 'pipe', got {cfg.transport!r}")
    if cfg.transport == "pipe" or cfg.decode_workers <= 0:
        return None
    try:
        return FrameRing(2 * cfg.decode_workers, cfg.num_frames * SLOT_FRAME_BYTES,
                         cfg.num_frames * MAX_SLOT_FRAME_BYTES)
    except OSError as exc:
        log.warning("no shared memory for decoded frames (%s): they come back through the pipe", exc)
        return None


def _to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 frames/samples to the device; on CUDA through pinned memory, without blocking the host."""
    t = torch.from_numpy(array)
    return t.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else t


def _batches(items: Iterator, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _good_batches(fn: Callable, jobs: list, cfg: ExtractConfig, failures: list, desc: str,
                  progress: bool, ring: bool = False) -> Iterator[list[tuple[str, object]]]:
    """Decode ``jobs`` in worker processes and yield batches of ``(path, result)`` that decoded;
    the others are appended to ``failures`` as ``(video id, path, reason)`` and logged. ``ring``:
    frames travel through shared memory (:func:`frame_ring`)."""
    with ExitStack() as stack, tqdm(total=len(jobs), desc=desc, unit="video", disable=not progress) as bar:
        shm = frame_ring(cfg) if ring else None
        if shm is not None:
            stack.enter_context(shm)
        pool = stack.enter_context(DecoderPool(cfg.decode_workers, cfg.decode_timeout, shm))  # closes before shm
        for batch in _batches(pool.imap(fn, jobs), cfg.batch_videos):
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


def provenance_attrs(cfg: ExtractConfig, w: ResolvedWeights, stage_cfg: dict) -> dict:
    """Attributes every shard carries: what made it, with which weights and libraries."""
    import decord
    import h5py
    import torchvision

    return {
        "extractor": w.extractor,
        **w.attrs(),
        "weights_random": int(w.is_random),
        "config_hash": store.config_hash(stage_cfg),
        "config_json": json.dumps(stage_cfg, sort_keys=True),
        "avvp_pipeline_version": __version__,
        "torch_version": torch.__version__,
        "torchvision_version": torchvision.__version__,
        "h5py_version": h5py.__version__,
        "numpy_version": np.__version__,
        "decord_version": decord.__version__,
        "python_version": platform.python_version(),
        "precision": cfg.precision,
    }


class VisualExtractor:
    """ResNet-152 (per frame) and R(2+1)D-18 (per 8-frame segment) features of decoded frames."""

    def __init__(self, cfg: ExtractConfig):
        if cfg.num_frames % cfg.segments or cfg.num_frames // cfg.segments != 8:
            raise ValueError(f"num_frames/fps must give 8 frames per 1-s segment, got {cfg.num_frames} at {cfg.fps}")
        self.cfg, self.device = cfg, cfg.torch_device()
        self.resnet_w = resolve("resnet152", cfg.weights, weights_dir=cfg.weights_dir, seed=cfg.seed)
        self.r21d_w = resolve("r2plus1d_18", cfg.weights, weights_dir=cfg.weights_dir, seed=cfg.seed)
        if self.resnet_w.is_random:
            log.warning("RANDOM weights for ResNet-152 and R(2+1)D-18 (%s): features are not pretrained ones",
                        self.resnet_w.weights_id)
        self.resnet = visual.build_resnet152(self.resnet_w).to(self.device, memory_format=torch.channels_last)
        self.r21d = visual.build_r2plus1d_18(self.r21d_w).to(self.device)

    @torch.inference_mode()
    def __call__(self, frames: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """``num_frames`` uint8 RGB frames per video -> ``(B, num_frames, 2048)``, ``(B, segments, 512)``."""
        cfg, device = self.cfg, self.device
        on_device = [_to_device(f, device) for f in frames]
        x2d = torch.cat([visual.preprocess_2d(f, cfg.resnet_resize, cfg.resnet_crop)
                         for f in on_device]).contiguous(memory_format=torch.channels_last)
        x3d = torch.cat([visual.preprocess_3d(f, cfg.r2plus1d_size) for f in on_device])
        with visual.autocast(device, cfg.precision):
            y2d = self.resnet(x2d).float().view(len(frames), cfg.num_frames, -1)
            y3d = self.r21d(x3d).float().view(len(frames), cfg.segments, -1)
        return y2d.cpu().numpy(), y3d.cpu().numpy()


def extract_visual_shard(video_paths: list[str], out_resnet: str, out_r2plus1d: str, failures_path: str,
                         cfg_dict: dict, progress: bool = True, stage_cfg: dict | None = None) -> list[tuple[str, str, str]]:
    """Decode each video once and write the ResNet-152 and R(2+1)D-18 shards; return failures.

    ``cfg_dict`` holds all options; ``stage_cfg`` (default: ``cfg_dict``) is what the shard records.
    """
    cfg = ExtractConfig.from_dict(cfg_dict)
    stage_cfg = cfg_dict if stage_cfg is None else stage_cfg
    extractor = VisualExtractor(cfg)
    ids, feats2d, feats3d, failures = [], [], [], []
    jobs = [(str(p), cfg.fps, cfg.num_frames) for p in video_paths]
    for good in _good_batches(decode_visual, jobs, cfg, failures, f"visual {Path(out_resnet).name}", progress,
                              ring=True):
        y2d, y3d = extractor([f for _, f in good])
        ids += [_video_id(p) for p, _ in good]
        feats2d.append(y2d)
        feats3d.append(y3d)
    for w, out, arrays, dim in ((extractor.resnet_w, out_resnet, feats2d, 2048),
                                (extractor.r21d_w, out_r2plus1d, feats3d, 512)):
        name = w.extractor
        T = cfg.num_frames if name == "resnet152" else cfg.segments
        data = np.concatenate(arrays) if arrays else np.zeros((0, T, dim), np.float32)
        attrs = provenance_attrs(cfg, w, stage_cfg)
        attrs.update(fps=cfg.fps, num_frames=cfg.num_frames,
                     image_size=(f"resize{cfg.resnet_resize}-crop{cfg.resnet_crop}" if name == "resnet152"
                                 else f"{cfg.r2plus1d_size}x{cfg.r2plus1d_size}"),
                     n_failed=len(failures))
        store.write_shard(out, ids, data, attrs)
    write_failures(failures_path, failures)
    return failures


class AudioExtractor:
    """VGGish embeddings (one per second) of 16 kHz mono waveforms, with the optional PCA post-processing."""

    def __init__(self, cfg: ExtractConfig):
        self.cfg, self.device = cfg, cfg.torch_device()
        self.weights = resolve("vggish", cfg.weights, weights_dir=cfg.weights_dir, seed=cfg.seed)
        if self.weights.is_random:
            log.warning("RANDOM weights for VGGish (%s): features are not pretrained ones", self.weights.weights_id)
        self.model = vggish.build_vggish(self.weights).to(self.device)
        self.front = vggish.LogMelFrontEnd(hop_s=cfg.example_hop, n_examples=cfg.segments).to(self.device)
        self.pca_weights = None if cfg.postprocess == "none" else resolve(
            "vggish_pca", cfg.weights, weights_dir=cfg.weights_dir, seed=cfg.seed)
        post = vggish.build_postprocess(cfg.postprocess, self.pca_weights)
        self.post = post.to(self.device) if post is not None else None

    @torch.inference_mode()
    def __call__(self, waves: np.ndarray) -> np.ndarray:
        """``(B, segments * sample_rate)`` float32 -> ``(B, segments, 128)``."""
        cfg = self.cfg
        examples = self.front(_to_device(np.ascontiguousarray(waves, dtype=np.float32), self.device))
        with visual.autocast(self.device, cfg.precision):
            emb = self.model(examples.flatten(0, 1)).float()  # log-mel front end stays in fp32
        if self.post is not None:
            emb = self.post(emb)
        return emb.view(len(waves), cfg.segments, -1).cpu().numpy()


def extract_audio_shard(video_paths: list[str], out_vggish: str, failures_path: str, cfg_dict: dict,
                        progress: bool = True, stage_cfg: dict | None = None) -> list[tuple[str, str, str]]:
    """Load 16 kHz mono audio and write the VGGish shard (``has_audio`` flags silent fill-ins)."""
    cfg = ExtractConfig.from_dict(cfg_dict)
    stage_cfg = cfg_dict if stage_cfg is None else stage_cfg
    extractor = AudioExtractor(cfg)
    ids, feats, has_audio, failures = [], [], [], []
    jobs = [(str(p), cfg.sample_rate, cfg.segments) for p in video_paths]
    for good in _good_batches(decode_audio, jobs, cfg, failures, f"audio {Path(out_vggish).name}", progress):
        for path, (_, present) in good:
            if not present:
                log.warning("%s: no audio track, using silence (has_audio=0)", path)
        feats.append(extractor(np.stack([r[0] for _, r in good])))
        ids += [_video_id(p) for p, _ in good]
        has_audio += [bool(r[1]) for _, r in good]
    data = np.concatenate(feats) if feats else np.zeros((0, cfg.segments, 128), np.float32)
    attrs = provenance_attrs(cfg, extractor.weights, stage_cfg)
    attrs.update(sample_rate=cfg.sample_rate, example_hop=cfg.example_hop, postprocess=cfg.postprocess,
                 n_failed=len(failures))
    if extractor.pca_weights is not None:
        attrs.update(pca_weights_id=extractor.pca_weights.weights_id, pca_weights_sha256=extractor.pca_weights.sha256)
    store.write_shard(out_vggish, ids, data, attrs, extra={"has_audio": np.array(has_audio, dtype=bool)})
    write_failures(failures_path, failures)
    return failures
