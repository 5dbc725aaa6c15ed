"""Run a parsing model over a split held in memory: per-video and per-second probabilities."""

from __future__ import annotations

import numpy as np
import torch

from .data.feature_sets import FeatureSet
from .models.mmil import label_aware_pool


@torch.inference_mode()
def predict(
    model: torch.nn.Module, fs: FeatureSet, batch_size: int = 256, aggregate: bool = False
) -> dict[str, np.ndarray]:
    """Probabilities for every video of ``fs``: global/audio/visual (N,25) and frame (N,10,2,25).

    With ``aggregate``, also ``agg_audio`` / ``agg_visual`` (N, d): the post-encoder features pooled
    over time with the attention of the video's weak labels (CM-S Eq. 7; the t-SNE figure's input).
    """
    model.eval()
    parts = {"global_prob": [], "audio_prob": [], "visual_prob": [], "frame_prob": []}
    if aggregate:
        parts.update(agg_audio=[], agg_visual=[])
    for start in range(0, len(fs), batch_size):
        idx = torch.arange(start, min(start + batch_size, len(fs)), device=fs.audio.device)
        out = model(*fs.batch(idx))
        for k in ("global_prob", "audio_prob", "visual_prob", "frame_prob"):
            parts[k].append(getattr(out, k).float().cpu().numpy())
        if aggregate:
            y = fs.labels[idx]
            for m, (k, x) in enumerate((("agg_audio", out.x_audio), ("agg_visual", out.x_visual))):
                parts[k].append(label_aware_pool(x, out.frame_att_logits[:, :, m], y).float().cpu().numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}
