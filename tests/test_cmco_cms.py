"""CM-Co module and CM-S loss (docs/models-and-evaluation.md, sections 5-6): shapes, layout, counts and
hand-computed values."""

import math

import pytest
import torch

from avvp_pipeline.models.cmco import CoOccurrence, HANCoOccurrence
from avvp_pipeline.models.mmil import label_aware_pool
from avvp_pipeline.training.cms import cms_loss, double_batch, swap_partners


def test_han_cmco_shapes_ranges_and_parameter_count():
    torch.manual_seed(0)
    model = HANCoOccurrence(25).eval()
    out = model(torch.randn(2, 10, 128), torch.randn(2, 80, 2048), torch.randn(2, 10, 512))
    assert out.frame_prob.shape == (2, 10, 2, 25) and out.x_audio.shape == (2, 10, 512)
    assert torch.all((out.global_prob >= 0) & (out.global_prob <= 1))
    # docs/models-and-evaluation.md, section 11: parameters actually used by HAN + CM-Co with occ_dim 128
    assert sum(p.numel() for p in model.parameters()) == 8_005_940


def test_class_tokens_are_class_major():
    occ = CoOccurrence(d_model=4, num_classes=3, occ_dim=2)
    with torch.no_grad():
        occ.proj_audio.weight.zero_()
        occ.proj_audio.bias.copy_(torch.arange(6.0))
    tokens = occ.class_tokens(torch.zeros(1, 2, 4), occ.proj_audio)
    assert tokens.shape == (2, 3, 2)
    assert tokens[0].tolist() == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]  # feature j -> class j // d_c


def test_one_class_layer_serves_both_modalities():
    torch.manual_seed(0)
    occ = CoOccurrence(d_model=8, num_classes=3, occ_dim=4).eval()
    with torch.no_grad():
        occ.proj_visual.load_state_dict(occ.proj_audio.state_dict())
        occ.score_visual.load_state_dict(occ.score_audio.state_dict())
    a, v = torch.randn(1, 2, 8), torch.randn(1, 2, 8)
    p = occ(a, v)
    q = occ(v, a)
    assert torch.allclose(p[:, :, 0], q[:, :, 1]) and torch.allclose(p[:, :, 1], q[:, :, 0])


def test_label_aware_pooling_hand_case():
    x = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # (1, T=2, d=2)
    logits = torch.zeros(1, 2, 3)
    logits[0, 1, 0] = math.log(3.0)  # class 0 prefers t=1 with odds 3:1
    f = label_aware_pool(x, logits, torch.tensor([[1.0, 0.0, 0.0]]))
    assert torch.allclose(f, torch.tensor([[0.25, 0.75]]))
    empty = label_aware_pool(x, logits, torch.zeros(1, 3))  # empty label: mean pooling
    assert torch.allclose(empty, torch.tensor([[0.5, 0.5]]))


def test_cms_loss_hand_values():
    f = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # positives on the diagonal; cos = identity: -log(e / (e + 1)) per row
    assert cms_loss(f, f, y, y).item() == pytest.approx(math.log(1 + math.exp(-1)), rel=1e-6)
    # row 1 shares nothing with any visual label: adds 0 but still counts in the mean
    y_a = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    assert cms_loss(f, f, y_a, y).item() == pytest.approx(math.log(1 + math.exp(-1)) / 2, rel=1e-6)
    # two positives for row 0: target 1/2 each
    y_v = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    expected_row0 = -0.5 * (math.log(math.e / (math.e + 1)) + math.log(1 / (math.e + 1)))
    expected_row1 = -math.log(math.e / (math.e + 1))  # its only positive is visual row 1
    assert cms_loss(f, f, y, y_v).item() == pytest.approx((expected_row0 + expected_row1) / 2, rel=1e-6)


def test_positives_count_shared_classes_of_smoothed_targets():
    f = torch.eye(3)
    y_a = torch.tensor([[0.05, 0.95, 0.0]] * 3)  # any non-zero entry counts, as in the code
    y_v = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    loss = cms_loss(f, f, y_a, y_v)
    sim_row = torch.log_softmax(torch.eye(3), dim=1)
    assert loss.item() == pytest.approx(-(sim_row[:, 0]).mean().item(), rel=1e-6)


def test_swap_partners_and_doubled_batch():
    g = torch.Generator().manual_seed(0)
    r = torch.stack([swap_partners(5, g) for _ in range(400)])
    assert not (r == torch.arange(5)).any()
    counts = torch.bincount(r[:, 0], minlength=5)
    assert counts[0] == 0 and counts[1:].min() > 60  # uniform over the four others
    a, vs, vst = torch.arange(3.0)[:, None], torch.arange(3.0)[:, None] + 10, torch.arange(3.0)[:, None] + 20
    ya, yv = torch.eye(3), torch.eye(3) * 2
    r = torch.tensor([2, 0, 1])
    a2, vs2, vst2, ya2, yv2 = double_batch(a, vs, vst, ya, yv, r)
    assert a2.squeeze().tolist() == [0, 1, 2, 0, 1, 2]
    assert vs2.squeeze().tolist() == [10, 11, 12, 12, 10, 11] and vst2.squeeze().tolist() == [20, 21, 22, 22, 20, 21]
    assert torch.equal(ya2, torch.cat([ya, ya])) and torch.equal(yv2, torch.cat([yv, yv[r]]))
    with pytest.raises(ValueError):
        swap_partners(1)
