"""VGGish embeddings (one per second) of 16 kHz mono soundtracks, with the optional PCA post-processing."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import numpy as np
import torch

from ..media.jobs import decode_audio
from . import vggish, visual
from .config import ExtractConfig, provenance_attrs
from .extractor import Decoded, to_device
from .stage_times import StageTimes
from .weights import resolve

log = logging.getLogger(__name__)


class AudioExtractor:
    """16 kHz mono waveforms -> VGGish; silent fill-ins for videos without sound are flagged ``has_audio``."""

    label = "audio"
    shards = ("vggish",)
    decode = staticmethod(decode_audio)
    frames_in_shared_memory = False
    extra_dtypes = {"has_audio": bool}
    take = staticmethod(np.copy)

    def __init__(self, cfg: ExtractConfig):
        self.cfg, self.device = cfg, cfg.torch_device()
        self.weights = resolve("vggish", cfg.weights, weights_dir=cfg.weights_dir, seed=cfg.seed)
        if self.weights.is_random:
            log.warning("RANDOM weights for VGGish (%s): features are not pretrained ones", self.weights.weights_id)
        self.model = vggish.build_vggish(self.weights).to(self.device)
        self.front = vggish.LogMelFrontEnd(hop_s=cfg.example_hop, n_examples=cfg.segments).to(self.device)
        self.pca_weights = (
            None
            if cfg.postprocess == "none"
            else resolve("vggish_pca", cfg.weights, weights_dir=cfg.weights_dir, seed=cfg.seed)
        )
        post = vggish.build_postprocess(cfg.postprocess, self.pca_weights)
        self.post = post.to(self.device) if post is not None else None

    def job(self, path: str) -> tuple:
        return path, self.cfg.sample_rate, None if self.cfg.any_length else self.cfg.segments

    @torch.inference_mode()
    def embed(self, waves: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
        """Waveforms of whole segments -> ``(B, segments, 128)``; with ``any_length``, one
        ``(segments, 128)`` array per video (the examples of all of them in one pass)."""
        if not self.cfg.any_length:
            return self(np.stack(waves))
        segments = [len(w) // self.cfg.sample_rate for w in waves]
        examples = [self.front(self._wave(w[None]), n).flatten(0, 1) for w, n in zip(waves, segments)]
        return np.split(self._embeddings(torch.cat(examples)), np.cumsum(segments)[:-1])

    def _wave(self, waves: np.ndarray) -> torch.Tensor:
        return to_device(np.ascontiguousarray(waves, dtype=np.float32), self.device)

    def _embeddings(self, examples: torch.Tensor) -> np.ndarray:
        """``(N, 1, 96, 64)`` log-mel examples -> ``(N, 128)``."""
        with visual.autocast(self.device, self.cfg.precision):
            emb = self.model(examples).float()  # log-mel front end stays in fp32
        if self.post is not None:
            emb = self.post(emb)
        return emb.cpu().numpy()

    @torch.inference_mode()
    def __call__(self, waves: np.ndarray) -> np.ndarray:
        """``(B, segments * sample_rate)`` float32 -> ``(B, segments, 128)``."""
        examples = self.front(self._wave(waves))
        return self._embeddings(examples.flatten(0, 1)).reshape(len(waves), self.cfg.segments, -1)

    def run(
        self, batches: Iterator[Decoded], times: StageTimes | None = None
    ) -> Iterator[tuple[Decoded, dict[str, np.ndarray]]]:
        for batch in batches:
            for path, (_, present) in batch:
                if not present:
                    log.warning("%s: no audio track, using silence (has_audio=0)", path)
            if times is None:
                yield batch, {"vggish": self.embed([r[0] for _, r in batch])}
            else:
                with times.host("VGGish"):
                    emb = self.embed([r[0] for _, r in batch])
                yield batch, {"vggish": emb}

    def extras(self, batch: Decoded) -> dict[str, list]:
        return {"has_audio": [bool(r[1]) for _, r in batch]}

    def shard_attrs(self, name: str, stage_cfg: dict, n_failed: int) -> dict:
        cfg = self.cfg
        attrs = provenance_attrs(cfg, self.weights, stage_cfg)
        attrs.update(
            sample_rate=cfg.sample_rate, example_hop=cfg.example_hop, postprocess=cfg.postprocess, n_failed=n_failed
        )
        if self.pca_weights is not None:
            attrs.update(pca_weights_id=self.pca_weights.weights_id, pca_weights_sha256=self.pca_weights.sha256)
        return attrs

    def empty(self, name: str) -> np.ndarray:
        return np.zeros((0, self.cfg.segments, 128), np.float32)
