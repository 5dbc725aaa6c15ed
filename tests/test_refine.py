"""MA label refinement on a constructed case whose answer is known, and MA's contrastive loss."""

import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from avvp_pipeline.data.feature_sets import FeatureSet
from avvp_pipeline.models.mmil import MMILOutput
from avvp_pipeline.models.registry import build_model
from avvp_pipeline.training.refine import (
    kappa,
    label_disjoint_partners,
    ma_contrastive_loss,
    pair_probs,
    refine_labels,
)


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
    assert label_disjoint_partners(np.ones((3, 25), np.uint8), np.random.default_rng(0)).tolist() == [-1] * 3
    rare = np.ones((50, 25), np.uint8)
    rare[49] = 0  # video 0's one partner: drawn with probability 1/50 per try
    with pytest.raises(ValueError, match="video 0 has no label-disjoint partner after 2 draws"):
        label_disjoint_partners(rare, np.random.default_rng(0), max_tries=2)


def test_ma_contrastive_loss_hand_value():
    # T = 2, identical orthogonal segments: sim = I / 0.2 -> logits [5, 0] per row
    x = torch.eye(2)[None]
    log_p = torch.log_softmax(torch.tensor([5.0, 0.0]), 0)
    expected = -(0.9 * log_p[0] + 0.1 * log_p[1]).item()
    assert ma_contrastive_loss(x, x).item() == pytest.approx(expected, rel=1e-6)
    assert math.isfinite(ma_contrastive_loss(torch.randn(3, 10, 8), torch.randn(3, 10, 8)).item())


def test_refinement_of_videos_of_different_lengths_reads_no_padding():
    """A real HAN over videos of 3 to 12 segments: each pair's probabilities are those of the pair run alone,
    cut to its shorter video, and the refined labels are the same whatever fills the padding."""
    g = torch.Generator().manual_seed(0)
    lengths = np.array([3, 12, 7, 5, 9, 4])
    x = [torch.randn(6, 12 * per, 8, generator=g) for per in (1, 8, 1)]
    shapes = {"audio": (10, 8), "visual_2d": (80, 8), "visual_3d": (10, 8)}
    model = build_model("han", {"hidden": 16, "ffn": 16}, shapes, num_classes=3).eval()
    labels = torch.eye(3).repeat(2, 1)
    ids = list("abcdef")

    def refined(x):
        fs = FeatureSet("train", ids, ids, *x, labels, None, None, lengths=lengths, classes=("p", "q", "r"))
        return fs, refine_labels(model, fs)

    fs, before = refined(x)
    audio_rows, visual_rows = torch.tensor([0, 1, 2, 3]), torch.tensor([1, 2, 0, 0])
    got = pair_probs(model, fs, audio_rows, visual_rows)
    for i, (a, v) in enumerate(zip(audio_rows.tolist(), visual_rows.tolist())):
        n = min(lengths[a], lengths[v])
        with torch.inference_mode():
            alone = model(x[0][a : a + 1, :n], x[1][v : v + 1, : 8 * n], x[2][v : v + 1, :n])
        np.testing.assert_allclose(got[0][i], alone.audio_prob[0].numpy(), atol=1e-5)
        np.testing.assert_allclose(got[1][i], alone.visual_prob[0].numpy(), atol=1e-5)
    for t, per in zip(x, (1, 8, 1)):  # what lies past each video's end is never read
        t += 100.0 * (torch.arange(12 * per) >= torch.from_numpy(lengths)[:, None] * per)[:, :, None]
    _, after = refined(x)
    assert before[2] == after[2]
    for b, a in zip(before[:2], after[:2]):
        np.testing.assert_array_equal(b, a)


def test_a_video_sharing_a_label_with_every_other_keeps_its_labels():
    """Three classes: the video with all of them has no label-disjoint partner; it is refined with no swap
    (its labels kept, counted); the others are given partners as before."""
    labels = np.array([[1, 1, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [0, 1, 0]], np.uint8)
    partners = label_disjoint_partners(labels, np.random.default_rng(3))
    assert partners[0] == -1 and all(not (labels[i] & labels[j]).any() for i, j in enumerate(partners) if i)
    g = torch.Generator().manual_seed(0)
    x = [torch.randn(6, 10 * per, 8, generator=g) for per in (1, 8, 1)]
    shapes = {"audio": (10, 8), "visual_2d": (80, 8), "visual_3d": (10, 8)}
    model = build_model("han", {"hidden": 16, "ffn": 16}, shapes, num_classes=3).eval()
    ids = list("abcdef")
    fs = FeatureSet("train", ids, ids, *x, torch.from_numpy(labels).float(), None, None, classes=("p", "q", "r"))
    audio, visual, stats = refine_labels(model, fs, seed=3)
    assert audio[0].tolist() == visual[0].tolist() == [1, 1, 1] and stats["without_partner"] == 1
