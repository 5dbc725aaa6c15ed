"""JoMoLD (ECCV 2022): the estimator's and the denoised model's losses, gradients and one Adam step, the
noise-ratio computation, the ramped label flips, all equal to an oracle written from the official code
(MCG-NJU/JoMoLD: nets/net_audiovisual.py, main.py); the noise-ratio file and its checks; the rows trained
one tiny epoch through the real trainer."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from factories import random_feature_set

from avvp_pipeline.cli import main
from avvp_pipeline.data.llp import CLASSES
from avvp_pipeline.data.noise_ratios import NoiseRatioError, import_official, read_noise_ratios, write_noise_ratios
from avvp_pipeline.models.checkpoint import load_trained
from avvp_pipeline.models.official import official_key
from avvp_pipeline.models.registry import build_model
from avvp_pipeline.models.rows import full_options, spec, train_options
from avvp_pipeline.training.config import TrainConfig
from avvp_pipeline.training.jomold import (
    contrastive_loss,
    estimate_noise_ratios,
    flip_labels,
    noise_ratios,
    ramped_ratios,
)
from avvp_pipeline.training.stages import noise_ratio_stage
from avvp_pipeline.training.step import backward_step, step_loss
from avvp_pipeline.training.trainer import build_optimizer, train

# ---------------------------------------------------------------------------------------------------------
# The oracle: the official network, losses and steps, re-expressed (sequence-first attention as there).


class _FixedDrop(nn.Module):
    """A dropout with a fixed mask, so that both implementations drop the same visual units."""

    def __init__(self, keep: torch.Tensor, p: float = 0.5):
        super().__init__()
        self.keep, self.p = keep, p

    def forward(self, x):
        return x * self.keep / (1 - self.p)


class _Layer(nn.Module):
    """The official HANLayer: cross-modal attention only when asked (with_ca), post-norm, FFN."""

    def __init__(self, d=512):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(d, 1, dropout=0.0)
        self.cm_attn = nn.MultiheadAttention(d, 1, dropout=0.0)
        self.linear1, self.linear2 = nn.Linear(d, d), nn.Linear(d, d)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)

    def forward(self, q, kv, with_ca):
        q, kv = q.transpose(0, 1), kv.transpose(0, 1)
        h = q + self.self_attn(q, q, q)[0]
        if with_ca:
            h = h + self.cm_attn(q, kv, kv)[0]
        h = self.norm1(h)
        h = self.norm2(h + self.linear2(F.relu(self.linear1(h))))
        return h.transpose(0, 1)


class _Official(nn.Module):
    """The official MMIL_Net: fc_* projections, one shared layer, sims of the encoded streams, dropout on the
    encoded visual stream only, MMIL pooling; returns its six outputs."""

    def __init__(self, keep: torch.Tensor):
        super().__init__()
        self.fc_prob, self.fc_frame_att, self.fc_av_att = (nn.Linear(512, 25) for _ in range(3))
        self.fc_a, self.fc_v, self.fc_st = nn.Linear(128, 512), nn.Linear(2048, 512), nn.Linear(512, 512)
        self.fc_fusion = nn.Linear(1024, 512)
        self.layer = _Layer()
        self.dropout = _FixedDrop(keep)

    def forward(self, audio, visual, visual_st, with_ca):
        b = audio.shape[0]
        xa = self.fc_a(audio)
        frames = self.fc_v(visual).permute(0, 2, 1).unsqueeze(-1)
        xs = F.avg_pool2d(frames, (8, 1)).squeeze(-1).permute(0, 2, 1)
        xv = self.fc_fusion(torch.cat((xs, self.fc_st(visual_st)), dim=-1))
        xa, xv = self.layer(xa, xv, with_ca), self.layer(xv, xa, with_ca)
        sims = (F.normalize(xa, dim=-1) @ F.normalize(xv, dim=-1).permute(0, 2, 1) / 0.2).reshape(-1, 10)
        target = torch.arange(10).repeat(b)
        x = torch.stack([xa, self.dropout(xv)], dim=-2)
        prob = torch.sigmoid(self.fc_prob(x))
        weighted = torch.softmax(self.fc_frame_att(x), dim=1) * prob
        glob = (weighted * torch.softmax(self.fc_av_att(x), dim=2)).sum(dim=2).sum(dim=1)
        return glob, weighted[:, :, 0].sum(dim=1), weighted[:, :, 1].sum(dim=1), prob, sims, target

    def load_from(self, ours: nn.Module) -> None:
        """Our model's weights under the official names (hat_encoder.layers.0 is ``layer`` here)."""
        theirs = {official_key(k).replace("hat_encoder.layers.0.", "layer."): v for k, v in ours.state_dict().items()}
        self.load_state_dict(theirs)


def _official_nce(sims, target, smoothing=0.1, classes=10):
    """LabelSmoothingNCELoss: minus the mean log of the smoothed target's softmax probability."""
    p = sims.softmax(dim=-1)
    dist = torch.full_like(p, smoothing / (classes - 1)).scatter_(1, target[:, None], 1 - smoothing)
    return -torch.mean(torch.log(torch.sum(dist * p, dim=-1)))


def _clamped(*ps, eps=1e-7):
    return [torch.clamp(p, min=eps, max=1 - eps) for p in ps]


def _official_estimator_loss(net, batch):
    audio, video, st, label = batch
    pa_t, pv_t = label, 0.9 * label + 0.05  # a_smooth 1.0, v_smooth 0.9
    glob, a, v, _, sims, target = net(audio, video, st, with_ca=False)
    glob, a, v = _clamped(glob, a, v)
    bce = nn.BCELoss()
    return bce(a, pa_t) + bce(v, pv_t) + bce(glob, label) + _official_nce(sims, target)


def _official_ramp(r, epoch, batch_idx, iters, warm_up):
    """One in-place rescale of the official loop (noise_ratios = min(cat(r, r * step / ...)))."""
    scaled = r.reshape(1, -1) * ((epoch - 1) * iters + batch_idx) / (warm_up * iters)
    return torch.min(torch.cat((r.reshape(1, -1), scaled), dim=0), dim=0)[0]


def _official_flips(a_prob, v_prob, pa, pv, ratio_a, ratio_v):
    """The official per-class flip loop on (clamped) probabilities and the smoothed targets."""
    pa, pv = pa.clone(), pv.clone()
    batch = len(pa)
    loss_a = nn.BCELoss(reduction="none")(a_prob, pa)
    loss_v = nn.BCELoss(reduction="none")(v_prob, pv)
    _, by_a = torch.sort(loss_a, dim=0)
    _, by_v = torch.sort(loss_v, dim=0)
    pos_a, pos_v = pa > 0.5, pv > 0.5
    for i in range(pa.shape[1]):
        n_a = torch.mul(ratio_a[i], sum(pos_a[:, i].type(torch.IntTensor))).type(torch.IntTensor)
        n_v = torch.mul(ratio_v[i], sum(pos_v[:, i].type(torch.IntTensor))).type(torch.IntTensor)
        m_a, m_v = torch.zeros(batch), torch.zeros(batch)
        if n_v > 0:
            m_a[by_a[pos_v[by_a[:, i], i], i][:n_v]] = 1
            m_v[by_v[pos_v[by_v[:, i], i], i][-n_v:]] = 1
        pv[torch.nonzero(m_a * m_v).squeeze(-1), i] = 0
        m_a, m_v = torch.zeros(batch), torch.zeros(batch)
        if n_a > 0:
            m_a[by_a[pos_a[by_a[:, i], i], i][-n_a:]] = 1
            m_v[by_v[pos_a[by_v[:, i], i], i][:n_a]] = 1
        pa[torch.nonzero(m_a * m_v).squeeze(-1), i] = 0
    return pa, pv


def _official_denoise_loss(net, batch, ratio_a, ratio_v):
    audio, video, st, label = batch
    pa, pv = label.clone(), 0.9 * label + 0.05
    with torch.no_grad():
        _, a, v, _, _, _ = net(audio, video, st, with_ca=False)
        a, v = _clamped(a, v)
        pa, pv = _official_flips(a, v, pa, pv, ratio_a, ratio_v)
    glob, a, v, _, sims, target = net(audio, video, st, with_ca=True)
    glob, a, v = _clamped(glob, a, v)
    bce = nn.BCELoss()
    return bce(a, pa) * 2.0 + bce(v, pv) * 1.0 + bce(glob, label) * 1.0 + _official_nce(sims, target) * 1.0


def _official_noise_ratios(batches, v_thres=1.8, a_thres=0.6):
    """calculate_noise_ratio on the estimator's (a_prob, v_prob, label) of each batch, in loader order."""
    a_mean = np.mean([a.mean(dim=0).numpy() for a, _, _ in batches], axis=0)
    v_mean = np.mean([v.mean(dim=0).numpy() for _, v, _ in batches], axis=0)
    noisy_a, noisy_v, events = np.zeros(25), np.zeros(25), np.zeros(25)
    for a, v, label in batches:
        pa = label.double().type(torch.FloatTensor)
        pv = (0.9 * label.double() + 0.05).type(torch.FloatTensor)
        a, v = a * pa, v * pv
        for b in range(len(a)):
            for c in range(25):
                if label[b][c] != 0:
                    events[c] += 1
                    noisy_v[c] += bool(v[b][c] / v_mean[c] < v_thres)
                    noisy_a[c] += bool(a[b][c] / a_mean[c] < a_thres)
    return np.divide(noisy_a, events), np.divide(noisy_v, events)


# ---------------------------------------------------------------------------------------------------------


def _pair(name: str, seed: int = 0):
    """Our row ``name`` (dropout 0 in the attention and FFN) and the oracle with the same weights and the
    same visual dropout mask."""
    torch.manual_seed(seed)
    ours = build_model(name, {"dropout": 0.0})
    keep = (torch.rand(6, 10, 512) > 0.5).float()
    ours.visual_dropout = _FixedDrop(keep)
    theirs = _Official(keep)
    theirs.load_from(ours)
    return ours, theirs


def _batch(n=6, seed=1):
    fs = random_feature_set(n, seed=seed, label_rate=0.5)
    fs.labels[:, 0] = 1.0  # every video has class 0: the flips have candidates
    return fs, (fs.audio, fs.video_s, fs.video_st, fs.labels)


def _named_grads(model):
    return {official_key(k): p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}


def _official_grads(net):
    return {
        k.replace("layer.", "hat_encoder.layers.0."): p.grad.clone()
        for k, p in net.named_parameters()
        if p.grad is not None
    }


def _assert_same_step(ours, theirs, our_loss, their_loss, cfg):
    assert our_loss.item() == pytest.approx(their_loss.item(), rel=1e-6, abs=1e-6)
    opt_ours, _ = build_optimizer(ours, cfg, torch.device("cpu"))
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=5e-4)
    backward_step(ours, opt_ours, our_loss, cfg)
    their_loss.backward()
    opt_theirs.step()
    g_ours, g_theirs = _named_grads(ours), _official_grads(theirs)
    assert g_ours.keys() == g_theirs.keys()
    for k in g_ours:
        torch.testing.assert_close(g_ours[k], g_theirs[k], rtol=1e-4, atol=1e-7, msg=k)
    # Adam's first step moves each weight by about lr * sign(g): where |g| is down at float noise (near Adam's
    # eps, 1e-8) the two sums' rounding decides the sign, so only weights with a clear gradient are held to 1e-7
    after = {k.replace("layer.", "hat_encoder.layers.0."): v for k, v in theirs.state_dict().items()}
    for k, v in ours.state_dict().items():
        clear = g_theirs[official_key(k)].abs() > 1e-6 if official_key(k) in g_theirs else torch.ones_like(v).bool()
        torch.testing.assert_close(v[clear], after[official_key(k)][clear], rtol=1e-5, atol=1e-7, msg=k)
        torch.testing.assert_close(v, after[official_key(k)], rtol=0, atol=5e-4 * 1.001, msg=k)


def test_estimator_loss_gradients_and_step_equal_the_official():
    ours, theirs = _pair("jomold-estimator")
    fs, batch = _batch()
    cfg = TrainConfig.from_dict(train_options("jomold-estimator"))
    ours.train(), theirs.train()
    loss = step_loss(ours, "jomold-estimator", fs, torch.arange(6), 1, cfg)
    _assert_same_step(ours, theirs, loss, _official_estimator_loss(theirs, batch), cfg)
    # the estimator never trains its cross-modal attention
    assert all(p.grad is None for p in ours.encoder.layers[0].cm_attn.parameters())


@pytest.mark.parametrize("epoch, batch_idx", [(2, 1), (1, 0)])
def test_denoising_step_equals_the_official(epoch, batch_idx):
    """Epoch 2: the flips at the full ratios; epoch 1: the ramp has set them to 0."""
    ours, theirs = _pair("jomold", seed=3)
    fs, batch = _batch(seed=4)
    g = torch.Generator().manual_seed(5)
    ratios = (torch.rand(25, generator=g, dtype=torch.float64) * 0.9, torch.rand(25, generator=g, dtype=torch.float64))
    fs.noise_ratios = ratios
    cfg = TrainConfig.from_dict(train_options("jomold"))
    iters = 3
    r_a, r_v = ratios
    for b in range(batch_idx + 1):
        r_a, r_v = (_official_ramp(r, epoch, b, iters, 0.9) for r in (r_a, r_v))
    ours.train(), theirs.train()
    loss = step_loss(ours, "jomold", fs, torch.arange(6), epoch, cfg, position=(batch_idx, iters))
    _assert_same_step(ours, theirs, loss, _official_denoise_loss(theirs, batch, r_a, r_v), cfg)


def test_flips_equal_the_official_loop():
    g = torch.Generator().manual_seed(0)
    b, c = 40, 25
    labels = (torch.rand(b, c, generator=g) < 0.4).float()
    pa, pv = labels.clone(), 0.9 * labels + 0.05
    a_prob, v_prob = torch.rand(b, c, generator=g), torch.rand(b, c, generator=g)
    ratio_a, ratio_v = (torch.rand(c, generator=g, dtype=torch.float64) for _ in range(2))
    from avvp_pipeline.models.mmil import MMILOutput

    out = MMILOutput(a_prob, a_prob, v_prob, torch.zeros(b, 10, 2, c), torch.zeros(b, 10, 2, c))
    ours = flip_labels(out, pa, pv, ratio_a, ratio_v)
    theirs = _official_flips(*_clamped(a_prob, v_prob), pa, pv, ratio_a, ratio_v)
    assert torch.equal(ours[0], theirs[0]) and torch.equal(ours[1], theirs[1])
    assert (ours[0] != pa).any() and (ours[1] != pv).any()  # something was flipped
    assert ((ours[1] != pv) <= (pv > 0.5)).all()  # only labelled entries, set to a hard 0
    assert (ours[1][ours[1] != pv] == 0).all()


@pytest.mark.parametrize("warm_up", [0.9, 2.5])
def test_ramp_equals_the_official_in_place_rescaling(warm_up):
    ratios = torch.rand(25, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    iters = 5
    for epoch in (1, 2, 3, 4):
        r = ratios.clone()  # the official loop reloads the file every epoch
        for b in range(iters):
            r = _official_ramp(r, epoch, b, iters, warm_up)
            assert torch.equal(ramped_ratios(ratios, epoch, b, iters, warm_up), r), (epoch, b)
    # with the default 0.9 the first epoch flips nothing and the others use the full ratios
    assert not ramped_ratios(ratios, 1, 4, iters).any()
    assert torch.equal(ramped_ratios(ratios, 2, 0, iters), ratios)


def test_noise_ratios_equal_the_official_computation():
    g = torch.Generator().manual_seed(0)
    n, bs = 23, 5  # a short last batch: its mean weighs as much as a full batch's
    labels = (torch.rand(n, 25, generator=g) < 0.3).float()
    labels[:, 3] = 1.0
    p_a, p_v = torch.rand(n, 25, generator=g), torch.rand(n, 25, generator=g)
    batches = [(p_a[i : i + bs], p_v[i : i + bs], labels[i : i + bs]) for i in range(0, n, bs)]
    ratio_a, ratio_v = _official_noise_ratios(batches)
    ours = noise_ratios(p_a.numpy(), p_v.numpy(), labels.numpy(), batch_size=bs)
    present = labels.sum(0).numpy() > 0
    np.testing.assert_array_equal(ours["audio"][present], ratio_a[present])
    np.testing.assert_array_equal(ours["visual"][present], ratio_v[present])
    assert (ours["audio"][~present] == 0).all()  # the official 0 / 0 is NaN: a class no video has gets 0
    assert 0 < ours["audio"][3] < 1 and 0 < ours["visual"][3] < 1


def test_contrastive_loss_is_the_officials_and_pads_cleanly():
    g = torch.Generator().manual_seed(0)
    xa, xv = torch.randn(3, 10, 16, generator=g), torch.randn(3, 10, 16, generator=g)
    sims = (F.normalize(xa, dim=-1) @ F.normalize(xv, dim=-1).transpose(1, 2) / 0.2).reshape(-1, 10)
    expected = _official_nce(sims, torch.arange(10).repeat(3))
    assert contrastive_loss(xa, xv).item() == pytest.approx(expected.item(), rel=1e-6)
    mask = torch.ones(3, 10, dtype=torch.bool)
    assert torch.equal(contrastive_loss(xa, xv, mask=mask), contrastive_loss(xa, xv))
    mask[1, 6:] = False  # video 1 lasts 6 s: alone it is its 6 segments
    mask[0, 1:] = False
    alone = [contrastive_loss(xa[i : i + 1, :k], xv[i : i + 1, :k]) for i, k in enumerate((1, 6, 10))]
    padded = contrastive_loss(xa, xv, mask=mask)
    assert padded.item() == pytest.approx(((alone[0] + 6 * alone[1] + 10 * alone[2]) / 17).item(), rel=1e-6)


def test_the_rows_and_their_recipe():
    for name in ("jomold-estimator", "jomold"):
        opts = full_options(name)
        assert (opts["epochs"], opts["batch_size"], opts["lr"], opts["step_size"], opts["gamma"], opts["seed"]) == (
            25,
            128,
            5e-4,
            6,
            0.25,
            6,
        )
        assert (opts["select_metric"], opts["gate"], opts["visual_smoothing"]) == ("ev_audio", "modality", 0.9)
    assert not build_model("jomold-estimator", {}).cross_attention and build_model("jomold", {}).cross_attention
    assert spec("jomold").jomold == "denoise"
    cfg = TrainConfig.from_dict(train_options("jomold"))
    assert [cfg.lr * cfg.lr_factor(i) for i in (0, 5, 6, 12)] == pytest.approx([5e-4, 5e-4, 1.25e-4, 3.125e-5])


def test_noise_ratio_file_checks_and_the_official_npz(tmp_path, fifo):
    r = np.linspace(0, 1, 25)
    write_noise_ratios(tmp_path / "r.h5", list(CLASSES), r, r[::-1], {"source": "test"})
    a, v = read_noise_ratios(tmp_path / "r.h5")
    assert np.array_equal(a, r) and np.array_equal(v, r[::-1]) and a.dtype == np.float64
    with pytest.raises(NoiseRatioError, match=r"r\.h5: ratios of 25 classes .* the training set has 3"):
        read_noise_ratios(tmp_path / "r.h5", ("a", "b", "c"))
    with pytest.raises(NoiseRatioError, match="visual ratio of class Car is 1.5"):
        write_noise_ratios(tmp_path / "bad.h5", list(CLASSES), r, np.where(r == r[1], 1.5, r), {})
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(NoiseRatioError, match="other.h5: not a noise-ratio file"):
        read_noise_ratios(tmp_path / "other.h5")
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(ValueError, match="text.h5: cannot be read as a noise-ratio file"):
        read_noise_ratios(tmp_path / "text.h5")

    np.savez(tmp_path / "noise_ratios.npz", audio=r, visual=r[::-1])  # what the official script writes
    prov = import_official(tmp_path / "noise_ratios.npz", tmp_path / "imported.h5")
    assert prov["source"] == "official npz" and np.array_equal(read_noise_ratios(tmp_path / "imported.h5")[1], r[::-1])
    trap = tmp_path / "unpickled"
    np.savez(tmp_path / "objects.npz", audio=np.array([_Trap(str(trap))], dtype=object), visual=r)
    with pytest.raises(NoiseRatioError, match="objects.npz: cannot be read"):
        import_official(tmp_path / "objects.npz", tmp_path / "x.h5")
    assert not trap.exists()
    np.savez(tmp_path / "nan.npz", audio=np.where(r == r[2], np.nan, r), visual=r)
    with pytest.raises(NoiseRatioError, match="nan.npz: audio ratio of class Cheering is nan"):
        import_official(tmp_path / "nan.npz", tmp_path / "x.h5")
    np.savez(tmp_path / "keys.npz", a=r)
    with pytest.raises(NoiseRatioError, match="keys.npz: not the official noise_ratios.npz"):
        import_official(tmp_path / "keys.npz", tmp_path / "x.h5")
    (tmp_path / "plain.npz").write_text("not a zip")
    with pytest.raises(NoiseRatioError, match="plain.npz"):
        import_official(tmp_path / "plain.npz", tmp_path / "x.h5")
    fifo(tmp_path / "pipe.npz")
    with pytest.raises(ValueError, match="pipe.npz: a FIFO"):
        import_official(tmp_path / "pipe.npz", tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()


class _Trap:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_three_stages_through_the_real_trainer(tmp_path):
    """The estimator trains one tiny epoch, its noise ratios are computed from its model.pt, and the jomold
    row trains one epoch with them (and refuses to without them)."""
    small = {"epochs": 1, "batch_size": 4, "hidden": 32, "ffn": 32}
    train_set, val = random_feature_set(10, seed=0, label_rate=0.4), random_feature_set(4, "val", seed=1)
    cfg = TrainConfig.from_dict({**train_options("jomold-estimator"), **small})
    summary = train("jomold-estimator", train_set, val, cfg, tmp_path / "est", {"synthetic": True}, progress=False)
    assert summary["select_metric"] == "ev_audio" and summary["selected_epoch"] == 1
    trained = load_trained(tmp_path / "est" / "model.pt", torch.device("cpu"))
    assert trained.gate == "modality" and not trained.net.cross_attention
    stats = estimate_noise_ratios(trained.net, train_set, tmp_path / "ratios.h5", {"source": "test"}, batch_size=4)
    assert stats["events"] == train_set.labels.sum(0).int().tolist()
    with h5py.File(tmp_path / "ratios.h5") as f:
        assert json.loads(f.attrs["provenance"])["visual_threshold"] == 1.8

    cfg = TrainConfig.from_dict({**train_options("jomold"), **small, "epochs": 2})
    with pytest.raises(ValueError, match="--noise-ratios"):
        train("jomold", train_set, val, cfg, tmp_path / "none", {"synthetic": True}, progress=False)
    train_set.with_noise_ratios(tmp_path / "ratios.h5")
    summary = train(
        "jomold", train_set, val, cfg, tmp_path / "run", {"synthetic": True}, progress=False, noise_ratios={"id": 1}
    )
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert summary["noise_ratios"] == {"id": 1} and len(history["epochs"]) == 2
    assert load_trained(tmp_path / "run" / "model.pt", torch.device("cpu")).net.cross_attention
    with pytest.raises(ValueError, match="model.pt: a jomold model; .* come from a jomold-estimator"):
        noise_ratio_stage(tmp_path / "run" / "model.pt", tmp_path / "index.h5", {}, tmp_path / "r2.h5")


def test_cli_imports_the_official_npz_and_names_a_bad_one_in_one_line(tmp_path, caplog):
    r = np.full(25, 0.25)
    np.savez(tmp_path / "noise_ratios.npz", audio=r, visual=r)
    assert main(["import", "noise-ratios", str(tmp_path / "noise_ratios.npz"), "--out", str(tmp_path / "r.h5")]) == 0
    assert read_noise_ratios(tmp_path / "r.h5")[0].tolist() == r.tolist()
    np.savez(tmp_path / "short.npz", audio=r[:3], visual=r)
    assert main(["import", "noise-ratios", str(tmp_path / "short.npz"), "--out", str(tmp_path / "s.h5")]) == 1
    assert "short.npz: audio ratios are a float64 array of shape (3,), expected 25 numbers" in caplog.text
