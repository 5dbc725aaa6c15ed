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
    """Probabilities for every video of ``fs``: global/audio/visual (N,25) and frame (N,10,2,25).

    With ``aggregate``, also ``agg_audio`` / ``agg_visual`` (N, d): the post-encoder features pooled
    over time with the attention of the video's weak labels (CM-S Eq. 7; the t-SNE figure's input).
    """
    model.eval()
    parts: dict[str, list[np.ndarray]] = {k: [] for k in PROBS}
    if aggregate:
        parts.update(agg_audio=[], agg_visual=[])
    for start in range(0, len(fs), batch_size):
        idx = torch.arange(start, min(start + batch_size, len(fs)), device=fs.audio.device)
        probs, out = _forward(model, fs.batch(idx))
        for k in PROBS:
            parts[k].append(probs[k])
        if aggregate:
            y = fs.labels[idx]
            for m, (k, x) in enumerate((("agg_audio", out.x_audio), ("agg_visual", out.x_visual))):
                parts[k].append(label_aware_pool(x, out.frame_att_logits[:, :, m], y).float().cpu().numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}
