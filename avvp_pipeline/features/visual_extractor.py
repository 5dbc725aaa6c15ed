"""ResNet-152 (per frame) and R(2+1)D-18 (per 8-frame segment) features of decoded videos.

On CUDA, :meth:`VisualExtractor.run` overlaps the stages of consecutive batches: host-to-device and
device-to-host copies run on their own stream, and the features of batch k are collected (into
host memory) only after batch k+1 has been queued, so the host waits for decoders and copies the
next frames to pinned memory while the GPU works. On the CPU everything is synchronous and the
features are those of :meth:`VisualExtractor.__call__`, the sequential form.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from contextlib import nullcontext

import numpy as np
import torch

from ..media.jobs import decode_visual
from . import visual
from .config import ExtractConfig, provenance_attrs
from .extractor import Decoded, host_copy, to_device
from .stage_times import StageTimes
from .weights import resolve

log = logging.getLogger(__name__)

CLIP_FRAMES = 8  # the frames of one R(2+1)D clip: one segment


class VisualExtractor:
    """Decode each video once (``num_frames`` at ``fps``) and feed both ResNet-152 and R(2+1)D-18."""

    label = "visual"
    shards = ("resnet152", "r2plus1d_18")
    decode = staticmethod(decode_visual)
    frames_in_shared_memory = True
    extra_dtypes: dict[str, type] = {}

    def __init__(self, cfg: ExtractConfig):
        if cfg.num_frames % cfg.segments or cfg.num_frames // cfg.segments != 8:
            raise ValueError(f"num_frames/fps must give 8 frames per 1-s segment, got {cfg.num_frames} at {cfg.fps}")
        self.cfg, self.device = cfg, cfg.torch_device()
        self.resnet_w = resolve("resnet152", cfg.weights, weights_dir=cfg.weights_dir, seed=cfg.seed)
        self.r21d_w = resolve("r2plus1d_18", cfg.weights, weights_dir=cfg.weights_dir, seed=cfg.seed)
        if self.resnet_w.is_random:
            log.warning(
                "RANDOM weights for ResNet-152 and R(2+1)D-18 (%s): features are not pretrained ones",
                self.resnet_w.weights_id,
            )
        self.resnet = visual.build_resnet152(self.resnet_w).to(self.device, memory_format=torch.channels_last)
        # channels_last_3d runs cuDNN's NDHWC kernels on a GPU; the CPU keeps the layout its features were made with
        self.r21d_format = torch.channels_last_3d if self.device.type == "cuda" else torch.contiguous_format
        self.r21d = visual.build_r2plus1d_18(self.r21d_w).to(self.device, memory_format=self.r21d_format)
        self.take = host_copy(self.device)
        self._copies = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None

    def job(self, path: str) -> tuple:
        return path, self.cfg.fps, None if self.cfg.any_length else self.cfg.num_frames

    def _inputs(self, on_device: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.cfg
        x2d = torch.cat([visual.preprocess_2d(f, cfg.resnet_resize, cfg.resnet_crop) for f in on_device]).contiguous(
            memory_format=torch.channels_last
        )
        x3d = torch.cat([visual.preprocess_3d(f, cfg.r2plus1d_size) for f in on_device])
        return x2d, x3d.contiguous(memory_format=self.r21d_format)

    @torch.inference_mode()
    def __call__(self, frames: list, times: StageTimes | None = None) -> tuple:
        """``num_frames`` uint8 RGB frames per video -> ``(B, num_frames, 2048)``, ``(B, segments, 512)``,
        each stage after the other (host timers). Videos of different frame counts (``any_length``) give
        a list of ``(frames, 2048)`` and one of ``(segments, 512)`` arrays instead."""
        counts = [len(f) for f in frames]
        if len(set(counts)) > 1:
            y2d, y3d = self._uniform(frames, times, 1, sum(counts))
            split2d = np.cumsum(counts)[:-1]
            return np.split(y2d[0], split2d), np.split(y3d[0], split2d // CLIP_FRAMES)
        return self._uniform(frames, times, len(frames), counts[0])

    def _uniform(self, frames: list, times: StageTimes | None, n: int, per_video: int) -> tuple[np.ndarray, np.ndarray]:
        """Features of ``n`` videos of ``per_video`` frames each: ``(n, per_video, 2048)``, ``(n, segments, 512)``."""
        cfg, device = self.cfg, self.device
        timed = times.host if times is not None else (lambda name: nullcontext())
        sync = torch.cuda.synchronize if device.type == "cuda" and times is not None else (lambda: None)
        with timed("copy to device"):
            on_device = [to_device(f, device) for f in frames]
            sync()
        with timed("preprocess"):
            x2d, x3d = self._inputs(on_device)
            sync()
        with visual.autocast(device, cfg.precision):
            with timed("ResNet-152"):
                y2d = self.resnet(x2d).float().view(n, per_video, -1)
                sync()
            with timed("R(2+1)D-18"):
                y3d = self.r21d(x3d).float().view(n, per_video // CLIP_FRAMES, -1)
                sync()
        with timed("copy to host"):
            return y2d.cpu().numpy(), y3d.cpu().numpy()

    def run(
        self, batches: Iterator[Decoded], times: StageTimes | None = None
    ) -> Iterator[tuple[Decoded, dict[str, np.ndarray]]]:
        """Features of each batch of ``(path, frames)``, in order (overlapped on CUDA, see module doc)."""
        if self._copies is None or not self.cfg.overlap or self.cfg.any_length:
            for batch in batches:
                y2d, y3d = self([f for _, f in batch], times)
                yield batch, {"resnet152": y2d, "r2plus1d_18": y3d}
            return
        queued: deque = deque()
        for batch in batches:  # waiting here for decoders overlaps the GPU's work on the batches queued
            queued.append((batch, self._launch([f for _, f in batch], times is not None)))
            if len(queued) == 2:
                yield self._collect(*queued.popleft(), times)
        while queued:
            yield self._collect(*queued.popleft(), times)

    @torch.inference_mode()
    def _launch(self, frames: list, timing: bool):
        """Queue one batch on the GPU: copy in (copy stream), preprocess and both models (compute stream),
        copy out to pinned memory (copy stream). Returns what :meth:`_collect` needs."""
        cfg, device, n = self.cfg, self.device, len(frames)
        compute, copies = torch.cuda.current_stream(device), self._copies
        ev = {k: torch.cuda.Event(enable_timing=timing) for k in ("in0", "in1", "pre0", "pre1", "res", "r21", "out")}
        with torch.cuda.stream(copies):
            ev["in0"].record()
            on_device = [to_device(f, device) for f in frames]
            ev["in1"].record()
        compute.wait_event(ev["in1"])
        for t in on_device:
            t.record_stream(compute)  # allocated on the copy stream, used on the compute stream
        ev["pre0"].record(compute)
        x2d, x3d = self._inputs(on_device)
        ev["pre1"].record(compute)
        with visual.autocast(device, cfg.precision):
            y2d = self.resnet(x2d).float().view(n, cfg.num_frames, -1)
            ev["res"].record(compute)
            y3d = self.r21d(x3d).float().view(n, cfg.segments, -1)
            ev["r21"].record(compute)
        copies.wait_event(ev["r21"])
        with torch.cuda.stream(copies):
            out2d = torch.empty(y2d.shape, dtype=y2d.dtype, pin_memory=True)
            out3d = torch.empty(y3d.shape, dtype=y3d.dtype, pin_memory=True)
            out2d.copy_(y2d, non_blocking=True)
            out3d.copy_(y3d, non_blocking=True)
            ev["out"].record()
        y2d.record_stream(copies)
        y3d.record_stream(copies)
        return out2d, out3d, ev

    def _collect(self, batch: Decoded, launched, times: StageTimes | None):
        out2d, out3d, ev = launched
        ev["out"].synchronize()
        if times is not None:
            times.cuda_events(
                [
                    ("copy to device", ev["in0"], ev["in1"]),
                    ("preprocess", ev["pre0"], ev["pre1"]),
                    ("ResNet-152", ev["pre1"], ev["res"]),
                    ("R(2+1)D-18", ev["res"], ev["r21"]),
                    ("copy to host", ev["r21"], ev["out"]),
                ]
            )
        return batch, {"resnet152": out2d.numpy().copy(), "r2plus1d_18": out3d.numpy().copy()}

    def extras(self, batch: Decoded) -> dict[str, list]:
        return {}

    def shard_attrs(self, name: str, stage_cfg: dict, n_failed: int) -> dict:
        cfg = self.cfg
        attrs = provenance_attrs(cfg, self.resnet_w if name == "resnet152" else self.r21d_w, stage_cfg)
        attrs.update(
            fps=cfg.fps,
            num_frames=cfg.num_frames,
            image_size=(
                f"resize{cfg.resnet_resize}-crop{cfg.resnet_crop}"
                if name == "resnet152"
                else f"{cfg.r2plus1d_size}x{cfg.r2plus1d_size}"
            ),
            n_failed=n_failed,
        )
        return attrs

    def empty(self, name: str) -> np.ndarray:
        if name == "resnet152":
            return np.zeros((0, self.cfg.num_frames, 2048), np.float32)
        return np.zeros((0, self.cfg.segments, 512), np.float32)
