"""HAN, MMIL pooling and the HAN loss: shapes, value ranges, hand-worked sums and losses."""

import math

import pytest
import torch

from avvp_pipeline.models.han import HAN, HANEncoder, HANLayer
from avvp_pipeline.models.mmil import mmil_pool
from avvp_pipeline.models.normalize import Standardized
from avvp_pipeline.models.registry import build_model
from avvp_pipeline.training.losses import han_loss, smooth


def _inputs(b=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(b, 10, 128, generator=g),
        torch.randn(b, 80, 2048, generator=g),
        torch.randn(b, 10, 512, generator=g),
    )


def test_han_shapes_and_ranges():
    torch.manual_seed(0)
    out = HAN(25).eval()(*_inputs())
    assert out.global_prob.shape == (3, 25) and out.audio_prob.shape == (3, 25)
    assert out.frame_prob.shape == (3, 10, 2, 25) and out.frame_att_logits.shape == (3, 10, 2, 25)
    for t in (out.global_prob, out.audio_prob, out.visual_prob, out.frame_prob):
        assert torch.all(t >= 0) and torch.all(t <= 1)


def test_han_parameter_counts_match_the_documented_counts():
    model = HAN(25)
    assert sum(p.numel() for p in model.parameters()) == 4_569_675
    # Table 4 convention: Linear layers only, MHA projections excluded
    linear = sum(p.numel() for m in model.modules() if type(m) is torch.nn.Linear for p in m.parameters())
    assert linear == 2_466_379


def test_han_layer_is_shared_between_streams():
    """Swapping the two streams swaps the outputs: one layer serves both (docs/models-and-evaluation.md, 3.2)."""
    torch.manual_seed(0)
    layer = HANLayer(d_model=16, dim_feedforward=16).eval()
    enc = HANEncoder(1, d_model=16, dim_feedforward=16).eval()
    enc.layers[0].load_state_dict(layer.state_dict())
    a, v = torch.randn(2, 10, 16), torch.randn(2, 10, 16)
    out_a, out_v = enc(a, v)
    swap_v, swap_a = enc(v, a)
    assert torch.allclose(out_a, swap_a) and torch.allclose(out_v, swap_v)
    assert torch.allclose(out_a, layer(a, v))


def test_official_stacking_keeps_only_last_layer():
    torch.manual_seed(0)
    enc = HANEncoder(3, "official", d_model=16, dim_feedforward=16).eval()
    a, v = torch.randn(2, 10, 16), torch.randn(2, 10, 16)
    assert torch.allclose(enc(a, v)[0], enc.layers[2](a, v))
    seq = HANEncoder(3, "sequential", d_model=16, dim_feedforward=16).eval()
    seq.load_state_dict(enc.state_dict())
    assert not torch.allclose(seq(a, v)[0], enc(a, v)[0])


def test_2d_features_projected_before_pooling_in_groups_of_8():
    torch.manual_seed(0)
    model = HAN(25).eval()
    audio, vs, vst = _inputs(1)
    # permuting frames inside a group of 8 changes nothing; moving a frame across groups does
    perm = torch.arange(80).view(10, 8).flip(1).reshape(-1)
    assert torch.allclose(model(audio, vs[:, perm], vst).frame_prob, model(audio, vs, vst).frame_prob, atol=1e-6)
    swap = torch.arange(80)
    swap[[7, 8]] = swap[[8, 7]]
    assert not torch.allclose(model(audio, vs[:, swap], vst).frame_prob, model(audio, vs, vst).frame_prob)


def test_pooling_before_the_visual_projection_equals_the_published_order():
    """Inputs average the 8 frames of a second before fc_v; the published model projects every frame
    first. Outputs and gradients of both orders agree to 1e-5."""
    torch.manual_seed(0)
    model = HAN(25).eval()
    audio, vs, vst = _inputs(3)
    inputs = model.inputs

    def published(audio, video_s, video_st):  # project every frame, then average groups of 8
        s = inputs.fc_v(video_s)
        s = s.view(s.shape[0], 10, 8, -1).mean(dim=2)
        return inputs.fc_a(audio), inputs.fc_fusion(torch.cat([s, inputs.fc_st(video_st)], dim=-1))

    ours = model(audio, vs, vst)
    xa, xv = inputs(audio, vs, vst)
    xa_ref, xv_ref = published(audio, vs, vst)
    assert torch.allclose(xv, xv_ref, atol=1e-5) and torch.equal(xa, xa_ref)
    grads = []
    for fn in (inputs, published):
        model.zero_grad()
        fn(audio, vs, vst)[1].square().sum().backward()
        grads.append(inputs.fc_v.weight.grad.clone())
    assert torch.allclose(grads[0], grads[1], rtol=1e-4, atol=1e-5)
    assert ours.frame_prob.shape == (3, 10, 2, 25)


def test_mmil_pool_hand_case():
    # B=1, T=2, C=1. Equal attention logits -> W = 0.5 per step, M = 0.5 per modality.
    p = torch.tensor([[[[0.2], [0.6]], [[0.4], [1.0]]]])  # (1, T=2, 2, 1): [t][modality]
    zeros = torch.zeros_like(p)
    out = mmil_pool(p, zeros, zeros)
    assert out.audio_prob.item() == pytest.approx(0.5 * 0.2 + 0.5 * 0.4)
    assert out.visual_prob.item() == pytest.approx(0.5 * 0.6 + 0.5 * 1.0)
    assert out.global_prob.item() == pytest.approx(0.5 * (0.3 + 0.8))
    # attention over time: a large logit at t=1 for audio puts all audio weight there
    att = zeros.clone()
    att[0, 1, 0, 0] = 50.0
    assert mmil_pool(p, att, zeros).audio_prob.item() == pytest.approx(0.4)
    # attention over modalities: a large logit for visual at both steps -> global = p_v
    av = zeros.clone()
    av[0, :, 1, 0] = 50.0
    out = mmil_pool(p, zeros, av)
    assert out.global_prob.item() == pytest.approx(out.visual_prob.item())


def test_han_loss_hand_values():
    # one video, 25 classes, class 0 present; p = 0.5 everywhere except the listed ones
    y = torch.zeros(1, 25)
    y[0, 0] = 1
    half = torch.full((1, 25), 0.5)
    out = type("O", (), {"global_prob": half, "audio_prob": half, "visual_prob": half})()
    # BCE(0.5, t) = ln 2 for any target t: three terms -> 3 ln 2
    assert han_loss(out, y).item() == pytest.approx(3 * math.log(2), rel=1e-6)
    g = half.clone()
    g[0, 0] = 0.9
    out = type("O", (), {"global_prob": g, "audio_prob": half, "visual_prob": half})()
    expected = (24 * math.log(2) - math.log(0.9)) / 25 + 2 * math.log(2)
    assert han_loss(out, y).item() == pytest.approx(expected, rel=1e-6)


def test_visual_smoothing_targets():
    y = torch.tensor([[1.0, 0.0]])
    assert torch.allclose(smooth(y, 0.9), torch.tensor([[0.95, 0.05]]))
    assert torch.allclose(smooth(y, 1.0), y)


def test_loss_clamps_zero_and_one():
    y = torch.zeros(1, 25)
    y[0, 0] = 1
    p = torch.zeros(1, 25)
    p[0, 0] = 0.0  # a certain wrong answer: finite thanks to the 1e-7 clamp
    out = type("O", (), {"global_prob": p, "audio_prob": p, "visual_prob": p})()
    assert math.isfinite(han_loss(out, y).item())


def test_registry_builds_and_rejects():
    assert isinstance(build_model("han", {}), HAN)
    assert isinstance(build_model("han", {"feature_norm": "standardize"}), Standardized)
    with pytest.raises(ValueError, match="unknown model"):
        build_model("nope", {})


def test_standardized_applies_training_statistics():
    torch.manual_seed(0)
    inner = HAN(25).eval()
    wrapped = Standardized(inner).eval()
    a, vs, vst = _inputs(4)
    wrapped.fit(a * 3 + 5, vs * 2 - 1, vst + 7)
    out = wrapped(a * 3 + 5, vs * 2 - 1, vst + 7).frame_prob
    ref = inner(
        *(
            x.sub(x.reshape(-1, x.shape[-1]).mean(0)).div(x.reshape(-1, x.shape[-1]).std(0))
            for x in (a * 3 + 5, vs * 2 - 1, vst + 7)
        )
    ).frame_prob
    assert torch.allclose(out, ref, atol=1e-5)


@pytest.mark.slow
def test_named_layer_rows():
    assert len(build_model("han_2layers", {}).encoder.layers) == 2
    assert len(build_model("han_3layers", {"num_layers": 1}).encoder.layers) == 3  # the name wins
    from avvp_pipeline.models.registry import describe_models

    text = describe_models()
    assert "han_3layers" in text and "3,517,003" in text and "7.976" in text


def test_ma_targets_alias_global_to_audio_and_zero_dropped_visual_classes():
    from avvp_pipeline.training.losses import ma_guided_loss

    y = torch.tensor([[1.0, 1.0, 0.0]])
    y_audio = torch.tensor([[1.0, 0.0, 0.0]])  # class 1 dropped from audio
    y_visual = torch.tensor([[0.0, 1.0, 0.0]])  # class 0 dropped from visual
    p = torch.tensor([[0.6, 0.3, 0.2]])
    out = type("O", (), {"global_prob": p, "audio_prob": p, "visual_prob": p})()

    def bce(q, t):
        return -(t * torch.log(q) + (1 - t) * torch.log(1 - q)).mean().item()

    visual_target = torch.tensor([[0.0, 0.95, 0.05]])
    expected = bce(p, y_audio) + bce(p, y_audio) + bce(p, visual_target)
    assert ma_guided_loss(out, y, y_audio, y_visual, 1.0, 0.9).item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("network", ["HAN", "HANCoOccurrence", "AVE", "AVSDN", "MMILHead", "CoOccurrence"])
def test_a_network_is_never_built_for_llps_25_classes_unasked(network):
    """Every network takes its class count from its caller (the data set's class list), none defaults to 25."""
    from avvp_pipeline.models import ave_avsdn, cmco, han, mmil

    cls = next(getattr(m, network) for m in (han, cmco, ave_avsdn, mmil) if hasattr(m, network))
    with pytest.raises(TypeError, match="num_classes"):
        cls() if network not in ("MMILHead", "CoOccurrence") else cls(d_model=8)
    heads = cls(4) if network not in ("MMILHead", "CoOccurrence") else cls(d_model=8, num_classes=4)
    assert {p.shape[0] for n, p in heads.named_parameters() if n.endswith("fc_frame_att.weight")} <= {4}
