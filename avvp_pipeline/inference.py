"""Run a parsing model over features: per-video and per-second probabilities of a split held in memory
(:func:`predict`) or of one batch of arrays (:func:`predict_arrays`, the windows of a parsed video)."""

from __future__ import annotations

import numpy as np
import torch

from .data.feature_sets import FeatureSet
from .models.mmil import label_aware_pool

PROBS = ("global_prob", "audio_prob", "visual_prob", "frame_prob")


def _forward(model: torch.nn.Module, inputs) -> tuple[dict[str, np.ndarray], object]:
    """The forward pass: ``model``'s probabilities for one batch as float32 arrays, and its whole output."""
    out = model(*inputs)
    return {k: getattr(out, k).float().cpu().numpy() for k in PROBS}, out


@torch.inference_mode()
def predict_arrays(
    model: torch.nn.Module, audio: np.ndarray, video_s: np.ndarray, video_st: np.ndarray
) -> dict[str, np.ndarray]:
    """Probabilities of one batch of feature arrays (on the CPU), computed on ``model``'s device: the
    keys of :func:`predict`."""
    model.eval()
    device = next(model.parameters()).device
    return _forward(model, [torch.from_numpy(x).to(device) for x in (audio, video_s, video_st)])[0]


@torch.inference_mode()
def predict(
    model: torch.nn.Module, fs: FeatureSet, batch_size: int = 256, aggregate: bool = False
) -> dict[str, np.ndarray]:
    """Probabilities for every video of ``fs``: global/audio/visual (N,C) and frame (N,T,2,C), 0 past a
    shorter video's length (each batch is cut to its longest video and run with its padding mask).

    With ``aggregate``, also ``agg_audio`` / ``agg_visual`` (N, d): the post-encoder features pooled
    over time with the attention of the video's weak labels (CM-S Eq. 7; the t-SNE figure's input).
    """
    model.eval()
    parts: dict[str, list[np.ndarray]] = {k: [] for k in PROBS}
    if aggregate:
        parts.update(agg_audio=[], agg_visual=[])
    for start in range(0, len(fs), batch_size):
        stop = min(start + batch_size, len(fs))
        idx = torch.arange(start, stop, device=fs.audio.device)
        segments = fs.batch_length(np.arange(start, stop))
        mask = fs.padding_mask(idx, segments)
        if mask is None:
            probs, out = _forward(model, fs.batch(idx))
        else:
            probs, out = _forward(model, (*fs.batch(idx, segments), mask))
            probs["frame_prob"] = _pad_seconds(probs["frame_prob"], fs.segments)
        for k in PROBS:
            parts[k].append(probs[k])
        if aggregate:
            y = fs.labels[idx]
            for m, (k, x) in enumerate((("agg_audio", out.x_audio), ("agg_visual", out.x_visual))):
                pooled = label_aware_pool(x, out.frame_att_logits[:, :, m], y, out.mask)
                parts[k].append(pooled.float().cpu().numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}


def _pad_seconds(frame_prob: np.ndarray, segments: int) -> np.ndarray:
    """``frame_prob`` (B, T', 2, C) padded with zeros to ``segments`` seconds."""
    return np.pad(frame_prob, [(0, 0), (0, segments - frame_prob.shape[1]), (0, 0), (0, 0)])
