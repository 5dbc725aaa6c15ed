"""MA label refinement (Wu & Yang, CVPR 2021), as the published code does it.

Stage 1 trains a HAN base model with MA's audio-visual contrastive loss. Stage 2 freezes it and,
for every training video i, swaps one track with a partner j that shares no label with i. A class
of i's label that the model stops predicting in both modalities once i's audio is replaced came
from the audio: it is dropped from i's visual label. Likewise a class that vanishes once i's
visual track is replaced is dropped from i's audio label. The thresholds scale with how often
the model is wrong about each class on the original pairs (kappa). Videos of different lengths are
run with their padding masked; a swapped pair lasts as long as its shorter video. A video that shares a
label with every other one (a short class list) has no partner: its labels are kept.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..data.feature_sets import FeatureSet
from ..data.refined_labels import write_refined_labels


def ma_contrastive_loss(
    x_audio: torch.Tensor,
    x_visual_in: torch.Tensor,
    temperature: float = 0.2,
    smoothing: float = 0.1,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Segment-level contrastive loss: post-HAN audio segment t should match pre-HAN visual segment t.

    ``sim[b, t, t'] = cos(x_a[b, t], x_v[b, t']) / temperature``; cross-entropy over t' with target
    ``1 - smoothing`` on t and ``smoothing / (T - 1)`` on every other segment; the mean over all segments.
    With a padding ``mask`` (B, T): t' runs over video b's real segments (T is its length), and the mean
    is over the real segments of the batch.
    """
    sim = F.normalize(x_audio, dim=-1) @ F.normalize(x_visual_in, dim=-1).transpose(1, 2) / temperature
    if mask is not None:
        return _padded_contrastive(sim, mask, smoothing)
    t = sim.shape[-1]
    # with one segment there is no other t' (and its only term, log_softmax = 0, is 0 whatever the target)
    target = torch.full((t, t), smoothing / max(t - 1, 1), device=sim.device)
    target.fill_diagonal_(1.0 - smoothing)
    return -(target * F.log_softmax(sim, dim=-1)).sum(-1).mean()


def _padded_contrastive(sim: torch.Tensor, mask: torch.Tensor, smoothing: float) -> torch.Tensor:
    """:func:`ma_contrastive_loss` of the similarities ``sim`` (B, T, T) of a padded batch."""
    pairs = mask[:, :, None] & mask[:, None, :]  # (b, t, t'): both real
    others = (mask.sum(dim=1) - 1).clamp(min=1).to(sim.dtype)[:, None, None]
    eye = torch.eye(sim.shape[-1], dtype=torch.bool, device=sim.device)
    target = torch.where(eye, 1.0 - smoothing, smoothing / others) * pairs
    # padded t' get probability 0; a padded row t keeps finite logits and is dropped by its zero target
    log_p = F.log_softmax(sim.masked_fill(~mask[:, None, :], float("-inf")), dim=-1).masked_fill(~pairs, 0.0)
    return -(target * log_p).sum() / mask.sum()


def label_disjoint_partners(labels: np.ndarray, rng: np.random.Generator, max_tries: int = 10_000) -> np.ndarray:
    """For each video a partner drawn uniformly among the videos sharing no label with it (rejection
    sampling); -1 for a video that no other video is label-disjoint from (a short class list: one that has
    most classes)."""
    n = len(labels)
    partners = np.empty(n, dtype=np.int64)
    for i in range(n):
        for _ in range(max_tries):
            j = int(rng.integers(n))
            if j != i and not (labels[i] & labels[j]).any():
                partners[i] = j
                break
        else:
            if _has_disjoint(labels, i):
                raise ValueError(f"video {i} has no label-disjoint partner after {max_tries} draws")
            partners[i] = -1
    return partners


def _has_disjoint(labels: np.ndarray, i: int) -> bool:
    """Whether a video other than ``i`` shares no label with it."""
    disjoint = ~(labels & labels[i]).any(axis=1)
    disjoint[i] = False
    return bool(disjoint.any())


@torch.inference_mode()
def pair_probs(
    model, fs: FeatureSet, audio_rows: torch.Tensor, visual_rows: torch.Tensor, batch: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """``(p_a, p_v)`` (N, C) of ``model`` on the audio of the videos ``audio_rows`` paired with the visual
    tracks of ``visual_rows``. Of videos of different lengths, a pair lasts as long as its shorter video:
    past it one track is padding, which the model's mask leaves out."""
    p_a, p_v = [], []
    for s in range(0, len(audio_rows), batch):
        a_idx, v_idx = audio_rows[s : s + batch], visual_rows[s : s + batch]
        if fs.uniform:
            out = model(fs.audio[a_idx], fs.video_s[v_idx], fs.video_st[v_idx])
        else:
            lengths = np.minimum(fs.lengths[a_idx.cpu().numpy()], fs.lengths[v_idx.cpu().numpy()])
            segments = int(lengths.max())
            mask = torch.arange(segments, device=a_idx.device) < torch.from_numpy(lengths).to(a_idx.device)[:, None]
            out = model(fs.batch(a_idx, segments)[0], *fs.batch(v_idx, segments)[1:], mask)
        p_a.append(out.audio_prob.float().cpu().numpy())
        p_v.append(out.visual_prob.float().cpu().numpy())
    return np.concatenate(p_a), np.concatenate(p_v)


def kappa(prob: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-class error rate of ``prob > 0.5`` against the labels, divided by the largest (0 if none)."""
    err = 1.0 - ((prob > 0.5) == labels.astype(bool)).mean(axis=0)
    top = err.max()
    return err / top if top > 0 else np.zeros_like(err)


def refine_labels(model: torch.nn.Module, fs: FeatureSet, seed: int = 0) -> tuple[np.ndarray, np.ndarray, dict]:
    """Return ``(audio_labels, visual_labels)`` (N, C) uint8 for the training set ``fs`` and statistics."""
    model.eval()
    y = fs.labels.cpu().numpy().astype(np.uint8)
    drawn = label_disjoint_partners(y, np.random.default_rng(seed))
    alone = drawn < 0  # no partner to swap with: its labels are kept as they are
    own = torch.arange(len(fs), device=fs.audio.device)
    partners = torch.from_numpy(np.where(alone, np.arange(len(fs)), drawn)).to(fs.audio.device)
    pa, pv = pair_probs(model, fs, own, own)
    # i's audio with partner's visual track, and partner's audio with i's visual track
    pa_av, pv_av = pair_probs(model, fs, own, partners)
    pa_va, pv_va = pair_probs(model, fs, partners, own)
    k_a, k_v = kappa(pa, y), kappa(pv, y)
    present = y.astype(bool)
    drop_visual = present & (pv_va < 0.5 * k_v) & (pa_va < 0.5 * k_v) & ~alone[:, None]
    drop_audio = present & (pa_av < 0.5 * k_a) & (pv_av < 0.5 * k_a) & ~alone[:, None]
    audio_labels = (present & ~drop_audio).astype(np.uint8)
    visual_labels = (present & ~drop_visual).astype(np.uint8)
    stats = {
        "videos": int(len(y)),
        "labels": int(y.sum()),
        "dropped_audio": int(drop_audio.sum()),
        "dropped_visual": int(drop_visual.sum()),
        "dropped_both": int((drop_audio & drop_visual).sum()),
        "empty_audio": int((audio_labels.sum(1) == 0).sum()),
        "empty_visual": int((visual_labels.sum(1) == 0).sum()),
        "kappa_audio": k_a.round(4).tolist(),
        "kappa_visual": k_v.round(4).tolist(),
        **({"without_partner": int(alone.sum())} if alone.any() else {}),
    }
    return audio_labels, visual_labels, stats


def write_refined(path, fs: FeatureSet, audio_labels: np.ndarray, visual_labels: np.ndarray, stats: dict) -> None:
    """Refined labels of the training set ``fs`` to HDF5 (see :func:`write_refined_labels`)."""
    labels = fs.labels.cpu().numpy()
    write_refined_labels(path, fs.filenames, fs.video_ids, labels, audio_labels, visual_labels, stats, fs.classes)
