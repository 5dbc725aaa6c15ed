"""AVE and AVSDN adapted to parsing, the rows built on them, and the 21 named rows of the CM-Co paper's Tables 1-4."""

import pytest
import torch

from avvp_pipeline.models import rows
from avvp_pipeline.models.ave_avsdn import AVE, AVSDN, AudioGuidedInputs, BiLSTMEncoder, Seq2SeqEncoder
from avvp_pipeline.models.cmco import CoOccurrence
from avvp_pipeline.models.complexity import gflops_per_video, trainable_parameters
from avvp_pipeline.models.registry import build_model
from avvp_pipeline.models.rows import MODELS, RECIPES, spec, train_options

PAPER_ROWS = (
    "ave avsdn avsdn+ours han han+ours ma ma* ma*+ours han+cms han+cmco ma+cmco ma*+cms ma*+cmco "
    "han+a_only han+v_only han+av ma*+a_only ma*+v_only ma*+av han_2layers han_3layers"
).split()


def _inputs(b=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(b, 10, 128, generator=g),
        torch.randn(b, 80, 2048, generator=g),
        torch.randn(b, 10, 512, generator=g),
    )


@pytest.mark.parametrize("cls", [AVE, AVSDN])
@pytest.mark.parametrize("cooc", [None, "cmco"])
def test_shapes_and_ranges(cls, cooc):
    torch.manual_seed(0)
    out = cls(25, cooccurrence=cooc).eval()(*_inputs())
    assert out.global_prob.shape == (3, 25) and out.frame_prob.shape == (3, 10, 2, 25)
    assert out.x_audio.shape == out.x_visual.shape == out.x_visual_in.shape == (3, 10, 512)
    for t in (out.global_prob, out.audio_prob, out.visual_prob, out.frame_prob):
        assert torch.all(t >= 0) and torch.all(t <= 1)
    assert (cls(25, cooccurrence=cooc).mmil.fc_prob is None) == (cooc is not None)


def test_audio_guided_attention_weights_sum_to_one_and_pick_the_matching_frame():
    torch.manual_seed(0)
    m = AudioGuidedInputs(d_model=4, att_dim=4)
    x_a = torch.randn(2, 10, 4)
    frames = torch.randn(2, 10, 8, 4)
    w = m.frame_weights(x_a, frames)
    assert w.shape == (2, 10, 8) and torch.allclose(w.sum(-1), torch.ones(2, 10))
    # a hand-set attention that scores frames by their agreement with the audio: the frame equal
    # to the audio feature gets the largest weight
    with torch.no_grad():
        for lin in (m.att_v, m.att_g):
            lin.weight.copy_(torch.eye(4))
            lin.bias.zero_()
        m.att_h.weight.fill_(1.0)
        m.att_h.bias.zero_()
    x_a = torch.tensor([[[1.0, 1.0, 1.0, 1.0]]])
    frames = -torch.ones(1, 1, 8, 4)
    frames[0, 0, 5] = 1.0
    assert m.frame_weights(x_a, frames).argmax().item() == 5


def test_ave_pools_frames_with_weights_not_a_mean():
    torch.manual_seed(0)
    m = AudioGuidedInputs()
    audio, video_s, video_st = _inputs(1)
    x_a, x_v = m(audio, video_s, video_st)
    s = m.fc_v(video_s).view(1, 10, 8, 512)
    w = m.frame_weights(x_a, s)
    expect = m.fc_fusion(torch.cat([(w.unsqueeze(-1) * s).sum(2), m.fc_st(video_st)], -1))
    assert torch.allclose(x_v, expect, atol=1e-5)
    assert not torch.allclose(w, torch.full_like(w, 1 / 8))


def test_bilstm_sees_the_future_and_the_seq2seq_global_feature_too():
    """Segment 0's output changes when the last segment changes: bidirectional LSTM (AVE) and the
    global encoder state fed to every decoder step (AVSDN); a causal LSTM alone could not."""
    torch.manual_seed(0)
    for enc in (BiLSTMEncoder(16, dropout=0.0), Seq2SeqEncoder(16, dropout=0.0)):
        enc.eval()
        x_a, x_v = torch.randn(1, 10, 16), torch.randn(1, 10, 16)
        a0, v0 = enc(x_a, x_v)
        x_v2 = x_v.clone()
        x_v2[0, -1] += 3.0
        a1, v1 = enc(x_a, x_v2)
        assert not torch.allclose(v0[0, 0], v1[0, 0])
        if isinstance(enc, Seq2SeqEncoder):  # the visual sequence reaches the audio branch via the global state
            assert not torch.allclose(a0[0, 0], a1[0, 0])
        else:  # AVE's branches are independent until MMIL
            assert torch.allclose(a0, a1)


def test_lstm_flops_are_counted():
    # AVSDN's four LSTMs: 2 encoders 4*512*(512+512) MACs per step, 2 decoders 4*512*(1536+512), 10 steps
    lstm = 2 * 10 * (2 * 4 * 512 * 1024 + 2 * 4 * 512 * 2048)
    assert gflops_per_video(AVSDN(25)) * 1e9 > lstm
    one = torch.nn.LSTM(8, 4, batch_first=True, bidirectional=True)
    counted = gflops_per_video(
        type(
            "M",
            (torch.nn.Module,),
            {
                "__init__": lambda self: (torch.nn.Module.__init__(self), setattr(self, "lstm", one))[0],
                "forward": lambda self, a, vs, vst: self.lstm(a[..., :8]),
            },
        )()
    )
    assert counted * 1e9 == pytest.approx(2 * 10 * 2 * 4 * 4 * (8 + 4))


def test_the_21_paper_rows_resolve_and_build():
    assert len(PAPER_ROWS) == 21 and set(PAPER_ROWS) <= set(MODELS)
    assert set(PAPER_ROWS) == set(rows.PAPER_ROWS)  # the table layout lists the same 21
    for name in PAPER_ROWS:
        model = build_model(name, train_options(name))
        assert trainable_parameters(model) > 0
    assert isinstance(build_model("ave", {}), AVE) and isinstance(build_model("avsdn", {}), AVSDN)
    ours = build_model("avsdn+ours", train_options("avsdn+ours"))
    assert isinstance(ours, AVSDN) and isinstance(ours.cooccurrence, CoOccurrence) and spec("avsdn+ours").cms
    assert train_options("avsdn+ours")["dropout"] == RECIPES["cmco"]["dropout"]


def test_ma_cmco_is_the_ma_row_with_the_cmco_head():
    s, ma = spec("ma+cmco"), spec("ma")
    assert (s.labels, s.ma_loss, s.ma_targets) == (ma.labels, ma.ma_loss, ma.ma_targets)
    assert s.arch == "cmco" and not s.cms
    # MA's targets leave the global probability audio-only: the row is gated like ma, by p_a / p_v
    assert train_options("ma+cmco")["gate"] == train_options("ma")["gate"] == "modality"
    assert train_options("ma+cmco")["lr"] == RECIPES["cmco"]["lr"]
    assert all(train_options(n).get("gate", "global") == "modality" for n in MODELS if spec(n).ma_targets)
    torch.manual_seed(0)
    out = build_model("ma+cmco", train_options("ma+cmco")).eval()(*_inputs())
    assert out.x_visual_in is not None  # MA's contrastive loss needs the pre-encoder visual features
