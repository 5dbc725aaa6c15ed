"""MA label refinement on a constructed case whose answer is known, and MA's contrastive loss."""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from avvp_pipeline.data.feature_sets import FeatureSet
from avvp_pipeline.models.mmil import MMILOutput
from avvp_pipeline.training.refine import kappa, label_disjoint_partners, ma_contrastive_loss, refine_labels


class LeakyModel(nn.Module):
    """Predicts each modality mostly from its own track, with a 0.3 leak from the other track
    (like a HAN trained on video-level labels). Audio evidence: audio[:, 0, :25]; visual: video_st[:, 0, :25]."""

    def forward(self, audio, video_s, video_st):
        a, v = audio[:, 0, :25], video_st[:, 0, :25]
        p_a, p_v = (0.9 * a + 0.3 * v).clamp(0, 1), (0.9 * v + 0.3 * a).clamp(0, 1)
        frame = torch.stack([p_a, p_v], 1)[:, None].expand(-1, 10, -1, -1)
        return MMILOutput(torch.maximum(p_a, p_v), p_a, p_v, frame, torch.zeros_like(frame))


def _set(heard: list[set], seen: list[set]) -> FeatureSet:
    n = len(heard)
    audio, vs, vst = torch.zeros(n, 10, 128), torch.zeros(n, 80, 2048), torch.zeros(n, 10, 512)
    labels = torch.zeros(n, 25)
    for i, (h, s) in enumerate(zip(heard, seen)):
        for c in h:
            audio[i, :, c] = 1
        for c in s:
            vst[i, :, c] = 1
        labels[i, sorted(h | s)] = 1
    ids = [f"v{i:010d}" for i in range(n)]
    return FeatureSet("train", ids, ids, audio, vs, vst, labels, None, None)


def test_refinement_drops_exactly_the_missing_modality():
    # type A: class 0 heard only, class 1 heard and seen; type B: class 2 seen only, 3 both;
    # type C: classes 4/5 heard and seen (label-disjoint partners for A and B)
    heard = [{0, 1}] * 4 + [{3}] * 4 + [{4, 5}] * 4
    seen = [{1}] * 4 + [{2, 3}] * 4 + [{4, 5}] * 4
    audio_labels, visual_labels, stats = refine_labels(LeakyModel(), _set(heard, seen), seed=0)
    for i in range(12):
        assert set(np.flatnonzero(audio_labels[i])) == heard[i], i
        assert set(np.flatnonzero(visual_labels[i])) == seen[i], i
    assert stats["dropped_visual"] == 4 and stats["dropped_audio"] == 4 and stats["dropped_both"] == 0


def test_a_perfect_model_drops_nothing():
    labels = np.zeros((4, 25), np.uint8)
    labels[[0, 1], 0] = labels[[2, 3], 1] = 1
    assert not kappa(labels.astype(float), labels).any()


def test_partners_share_no_label():
    labels = np.zeros((30, 25), np.uint8)
    rng = np.random.default_rng(0)
    for i in range(30):
        labels[i, rng.choice(6, 2, replace=False)] = 1
    partners = label_disjoint_partners(labels, np.random.default_rng(1))
    assert all(not (labels[i] & labels[j]).any() and i != j for i, j in enumerate(partners))
    with pytest.raises(ValueError, match="no label-disjoint partner"):
        label_disjoint_partners(np.ones((3, 25), np.uint8), np.random.default_rng(0), max_tries=50)


def test_ma_contrastive_loss_hand_value():
    # T = 2, identical orthogonal segments: sim = I / 0.2 -> logits [5, 0] per row
    x = torch.eye(2)[None]
    log_p = torch.log_softmax(torch.tensor([5.0, 0.0]), 0)
    expected = -(0.9 * log_p[0] + 0.1 * log_p[1]).item()
    assert ma_contrastive_loss(x, x).item() == pytest.approx(expected, rel=1e-6)
    assert math.isfinite(ma_contrastive_loss(torch.randn(3, 10, 8), torch.randn(3, 10, 8)).item())
