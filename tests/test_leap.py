"""LEAP equals its official code: an oracle transcribed here from the official network and training step (kept
apart from the implementation), the same weights and batch: outputs, losses, gradients and one Adam step.
Also the label-embedding file's checks, the row's recipe, and a run with (and refused without) its embeddings."""

from __future__ import annotations

import copy
import math
import re

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from factories import embeddings_file, random_feature_set

from avvp_pipeline.cli import main
from avvp_pipeline.fileio import sha256_file
from avvp_pipeline.models.checkpoint import load_trained
from avvp_pipeline.models.leap import load_label_embeddings, read_label_embeddings
from avvp_pipeline.models.registry import build_model
from avvp_pipeline.models.rows import train_options
from avvp_pipeline.plan import PlanError
from avvp_pipeline.plan_results_dir import check_results_dir
from avvp_pipeline.torch_files import CheckpointError
from avvp_pipeline.train_plan import check_label_embeddings, label_embeddings_file
from avvp_pipeline.training.config import TrainConfig
from avvp_pipeline.training.losses import leap_loss
from avvp_pipeline.training.step import step_loss
from avvp_pipeline.training.trainer import run_hash, train

# ---- the oracle: the official network, transcribed (CPU instead of .cuda(); unused modules kept) ----


def _o_attention(q, k, v, masksize, dropout, raw_scores=False):
    s = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(q.size(-1))
    if masksize != 1:
        half = int(masksize / 2)
        keep = torch.ones(s.size())
        for i in range(keep.shape[2]):
            if i - half > 0:
                keep[:, :, i, : i - half] = 0
            if i + half + 1 < keep.shape[3]:
                keep[:, :, i, half + i + 1 :] = 0
        s = s.masked_fill(keep == 0, -1e9)
    p = dropout(F.softmax(s, dim=-1))
    return torch.matmul(p, v), (s if raw_scores else p)


class OMHA(nn.Module):
    def __init__(self, h, d, masksize=1, dropout=0.1, raw_scores=False):
        super().__init__()
        self.d_k, self.h, self.masksize, self.raw = d // h, h, masksize, raw_scores
        proto = nn.Linear(d, d)
        self.linears = nn.ModuleList(copy.deepcopy(proto) for _ in range(4))
        self.layer_norm = nn.LayerNorm(d)
        self.dropout = nn.Dropout(dropout)

    def forward(self, q, k, v):
        b = q.size(0)
        q, k, v = (lin(x).view(b, -1, self.h, self.d_k).transpose(1, 2) for lin, x in zip(self.linears, (q, k, v)))
        x, a = _o_attention(q, k, v, self.masksize, self.dropout, self.raw)
        return self.linears[-1](x.transpose(1, 2).contiguous().view(b, -1, self.h * self.d_k)), a


class OFF(nn.Module):
    def __init__(self, d, f, dropout=0.1):
        super().__init__()
        self.w_1, self.w_2, self.dropout = nn.Linear(d, f), nn.Linear(f, d), nn.Dropout(dropout)

    def forward(self, x):
        return self.w_2(self.dropout(F.relu(self.w_1(x))))


class OSub(nn.Module):
    def __init__(self, d, dropout):
        super().__init__()
        self.norm, self.dropout = nn.LayerNorm(d), nn.Dropout(dropout)

    def forward(self, x, f):
        return x + self.dropout(f(self.norm(x)))


class OTL(nn.Module):
    def __init__(self, d, attn, ff, dropout, vanilla=False):
        super().__init__()
        self.self_attn, self.feed_forward, self.vanilla = attn, ff, vanilla
        self.sublayer = nn.ModuleList(copy.deepcopy(OSub(d, dropout)) for _ in range(2))

    def forward(self, q, k, v):
        q = self.sublayer[0](q, lambda x: self.self_attn(x, k, v)[0])
        if not self.vanilla:
            return self.sublayer[1](q, self.feed_forward)
        attn = self.self_attn(q, k, v)[1]
        return self.sublayer[1](q, self.feed_forward), attn


class OTB(nn.Module):
    def __init__(self, n, dilation):
        super().__init__()
        self.conv1 = nn.Conv1d(n, n, 3, stride=1, padding=dilation, dilation=dilation)
        self.conv2 = nn.Conv1d(n, n, 1)

    def forward(self, x):
        return F.relu(self.conv2(F.relu(self.conv1(x))) + x)


class OIntegrate(nn.Module):
    def __init__(self, vsa, asa, cma, d):
        super().__init__()
        self.vsa, self.asa, self.cma = vsa, asa, cma
        self.lv1, self.lv2 = nn.Linear(2 * d, d), nn.Linear(2 * d, d)
        self.la1, self.la2 = nn.Linear(2 * d, d), nn.Linear(2 * d, d)

    def forward(self, v, a):
        v_sa, a_sa = self.vsa(v, v, v), self.asa(a, a, a)
        v_c, a_c = self.cma(v, a, a), self.cma(a, v, v)
        vq, aq = torch.cat((v_sa, v_c), -1), torch.cat((a_sa, a_c), -1)
        v_out = torch.sigmoid(self.lv1(vq)) * v_sa + torch.sigmoid(self.lv2(vq)) * v_c
        a_out = torch.sigmoid(self.la1(aq)) * a_sa + torch.sigmoid(self.la2(aq)) * a_c
        return v_out, a_out


class OCapture(nn.Module):
    def __init__(self, d, f, levels, dropout=0.2, h=8):
        super().__init__()
        self.multiheadattn, self.feedforward = OMHA(h, d), OFF(d, f, dropout)
        vl, al, ml = [], [], []
        for i in range(levels):
            vl.append(OTB(d, 2**i))
            al.append(OTB(d, 2**i))
            tls = []
            for _ in range(3):
                tls.append(OTL(d, OMHA(h, d, masksize=2**i * 2), copy.deepcopy(self.feedforward), dropout))
            ml.append(OIntegrate(*tls, d))
        self.vnetwork, self.anetwork, self.msa = nn.ModuleList(vl), nn.ModuleList(al), nn.ModuleList(ml)

    def forward(self, v, a):
        vs, as_ = [], []
        for i in range(len(self.vnetwork)):
            v, a = self.msa[i](v, a)
            v = self.vnetwork[i](v.permute(0, 2, 1).contiguous()).permute(0, 2, 1).contiguous()
            a = self.anetwork[i](a.permute(0, 2, 1).contiguous()).permute(0, 2, 1).contiguous()
            vs.append(v)
            as_.append(a)
        v, a = torch.stack(vs, dim=2), torch.stack(as_, dim=2)
        return v.view(-1, v.size(2), v.size(3)), a.view(-1, a.size(2), a.size(3))


class OFusion(nn.Module):
    def __init__(self, d, f, dropout=0.2, h=8):
        super().__init__()
        self.d = d
        self.multiheadattn, self.feedforward = OMHA(h, d), OFF(d, f, dropout)
        self.vint = OTL(d, copy.deepcopy(self.multiheadattn), copy.deepcopy(self.feedforward), dropout)
        self.aint = OTL(d, copy.deepcopy(self.multiheadattn), copy.deepcopy(self.feedforward), dropout)
        self.vsel, self.asel = nn.Linear(d, 1), nn.Linear(d, 1)

    def forward(self, v, a):
        vi, ai = self.vint(v, v, v), self.aint(a, a, a)
        vw, aw = torch.sigmoid(self.vsel(vi)), torch.sigmoid(self.asel(ai))
        v_out = torch.bmm(vi.permute(0, 2, 1).contiguous(), vw).view(-1, 10, self.d)
        a_out = torch.bmm(ai.permute(0, 2, 1).contiguous(), aw).view(-1, 10, self.d)
        return v_out, a_out


class OAVL(nn.Module):
    def __init__(self, d, f, layers=2, dropout=0.2, h=8):
        super().__init__()
        self.multiheadattn, self.feedforward = OMHA(h, d, raw_scores=True), OFF(d, f, dropout)
        lv, la = [], []
        for _ in range(layers):
            c = copy.deepcopy
            lv.append(OTL(d, c(self.multiheadattn), c(self.feedforward), dropout, vanilla=True))
            la.append(OTL(d, c(self.multiheadattn), c(self.feedforward), dropout, vanilla=True))
        self.lv, self.la = nn.ModuleList(lv), nn.ModuleList(la)

    def forward(self, v, a, label):
        lv = la = label
        for i in range(len(self.lv)):
            lv, lv_attn = self.lv[i](lv, v, v)
            la, la_attn = self.la[i](la, a, a)
        return lv, lv_attn, la, la_attn


class OfficialLEAP(nn.Module):
    def __init__(self, d=512, f=512, levels=4, label_dim=300, layers=2, widths=(128, 2048, 512)):
        super().__init__()
        self.fc_a, self.fc_v = nn.Linear(widths[0], d), nn.Linear(widths[1], d)
        self.fc_st, self.fc_fusion = nn.Linear(widths[2], d), nn.Linear(2 * d, d)
        self.capture, self.fusion = OCapture(d, f, levels), OFusion(d, f)
        self.fc_l = nn.Linear(label_dim, d)
        self.AVL = OAVL(d, f, layers)
        self.fc_la, self.fc_lv = nn.Linear(d, 1), nn.Linear(d, 1)

    def forward(self, audio, visual, visual_st, label):
        f_l, f_a = self.fc_l(label), self.fc_a(audio)
        vs = F.avg_pool2d(self.fc_v(visual).permute(0, 2, 1).unsqueeze(-1), (8, 1)).squeeze(-1).permute(0, 2, 1)
        f_v = self.fc_fusion(torch.cat((vs, self.fc_st(visual_st)), dim=-1))
        v_o, a_o = self.fusion(*self.capture(f_v, f_a))
        lv_f, lv_attn, la_f, la_attn = self.AVL(v_o, a_o, f_l)
        v_prob = torch.sigmoid(self.fc_lv(lv_f).squeeze(-1))
        a_prob = torch.sigmoid(self.fc_la(la_f).squeeze(-1))
        a_t, v_t = (a_prob >= 0.5).float(), (v_prob >= 0.5).float()
        v_frame = torch.sigmoid(lv_attn.mean(dim=1).permute(0, 2, 1).contiguous())
        a_frame = torch.sigmoid(la_attn.mean(dim=1).permute(0, 2, 1).contiguous())
        return a_t + v_t - a_t * v_t, a_prob, v_prob, a_frame, v_frame, a_o, v_o


def official_loss(outputs, target, temporal_pa, temporal_pv, eps=0.01):
    """The official training step's loss (every flag of its run script on, weights 1)."""
    output, a_prob, v_prob, a_frame, v_frame, a_fea, v_fea = outputs
    output = output.clamp(1e-7, 1 - 1e-7)
    a_prob, v_prob, a_frame, v_frame = (t.clamp(min=1e-7, max=1 - 1e-7) for t in (a_prob, v_prob, a_frame, v_frame))
    pa = (temporal_pa.sum(dim=1) != 0).float()
    pv = (temporal_pv.sum(dim=1) != 0).float()
    bce = nn.BCELoss()
    loss = bce(a_prob, pa) + bce(v_prob, pv) + bce(output, target)
    loss = loss + bce(v_frame, temporal_pv) + bce(a_frame, temporal_pa)
    a_num = torch.max(torch.sum(temporal_pa, dim=-1), dim=-1)[0]
    v_num = torch.max(torch.sum(temporal_pv, dim=-1), dim=-1)[0]
    most = torch.zeros_like(a_num)
    for i in range(a_num.shape[0]):
        most[i] = a_num[i] if a_num[i] >= v_num[i] else v_num[i]
        if most[i] == 0:
            most[i] += 1e-8
    label = torch.bmm(temporal_pa, temporal_pv.permute(0, 2, 1)) / most[:, None, None]
    pred = torch.bmm(F.normalize(a_fea, dim=-1), F.normalize(v_fea, dim=-1).permute(0, 2, 1))
    return loss + nn.MSELoss()(F.relu(pred), torch.sigmoid(torch.log(label)) + eps)


# ---- our keys -> the oracle's ----
_RENAMES = (
    (r"^inputs\.", ""),
    (r"^encoder\.v_blocks\.", "capture.vnetwork."),
    (r"^encoder\.a_blocks\.", "capture.anetwork."),
    (r"^encoder\.levels\.(\d+)\.v_self\.", r"capture.msa.\1.vsa."),
    (r"^encoder\.levels\.(\d+)\.a_self\.", r"capture.msa.\1.asa."),
    (r"^encoder\.levels\.(\d+)\.cross\.", r"capture.msa.\1.cma."),
    (r"^encoder\.levels\.", "capture.msa."),
    (r"^encoder\.v_fuse\.", "fusion.vint."),
    (r"^encoder\.a_fuse\.", "fusion.aint."),
    (r"^encoder\.v_select\.", "fusion.vsel."),
    (r"^encoder\.a_select\.", "fusion.asel."),
    (r"^decoder\.visual\.", "AVL.lv."),
    (r"^decoder\.audio\.", "AVL.la."),
    (r"\.attn\.", ".self_attn."),
    (r"\.ffn\.", ".feed_forward."),
)


def official_name(ours: str) -> str:
    for pattern, repl in _RENAMES:
        ours = re.sub(pattern, repl, ours)
    return ours


# narrow inputs and width (the official widths only make the test slower): slot -> (rows, width)
SHAPES = {"audio": (10, 16), "visual_2d": (80, 24), "visual_3d": (10, 16)}
WIDTH = 64


def _pair(seed: int = 0):
    """The oracle and our row, each built after ``torch.manual_seed(seed)``, and the class embeddings."""
    torch.manual_seed(seed)
    official = OfficialLEAP(WIDTH, WIDTH, widths=tuple(w for _, w in SHAPES.values()))
    torch.manual_seed(seed)
    ours = build_model("leap", {**train_options("leap"), "hidden": WIDTH, "ffn": WIDTH}, SHAPES)
    embeddings = torch.randn(25, 300, generator=torch.Generator().manual_seed(seed + 1))
    ours.set_label_embeddings(embeddings)
    return official, ours, embeddings


def _batch(seed: int = 2, n: int = 3):
    fs = random_feature_set(n, seed=seed, label_rate=0.3, shapes=SHAPES)
    g = torch.Generator().manual_seed(seed)
    fs.pseudo_audio, fs.pseudo_visual = ((torch.rand(n, 10, 25, generator=g) < 0.15).float() for _ in range(2))
    fs.pseudo_visual[0] = 0.0  # a video without visual pseudo labels: the similarity target's 1e-8 branch
    fs.pseudo_present = torch.ones(n)
    return fs


def test_seeded_construction_gives_the_official_initial_weights():
    """Same seed, same initial weights: where the official code deep-copies one module (the q/k/v/out
    projections of an attention, the feed-forward of every pyramid layer, the decoder layers) ours starts
    equal too. The official model's extra keys are its never-run modules and a second name of the convolutions."""
    official, ours, _ = _pair(seed=3)
    theirs = official.state_dict()
    mine = {k: v for k, v in ours.state_dict().items() if k != "label_embeddings"}
    for k, v in mine.items():
        assert torch.equal(v, theirs[official_name(k)]), k
    unused = {k for k in theirs if k not in {official_name(m) for m in mine}}
    assert all(re.search(r"multiheadattn|feedforward|layer_norm", k) for k in unused), sorted(unused)[:5]


def test_outputs_loss_gradients_and_one_adam_step_equal_the_official_code():
    """Training mode, dropout on: the same random stream gives the same masks, so every output agrees."""
    official, ours, embeddings = _pair()
    official.load_state_dict(
        {
            **official.state_dict(),
            **{official_name(k): v for k, v in ours.state_dict().items() if k != "label_embeddings"},
        }
    )
    fs = _batch()
    idx = torch.arange(len(fs))
    official.train()
    ours.train()
    torch.manual_seed(7)
    o = official(fs.audio, fs.video_s, fs.video_st, embeddings.expand(len(fs), -1, -1))
    torch.manual_seed(7)
    out = ours(*fs.batch(idx))
    mine = (out.global_prob, out.audio_prob, out.visual_prob, out.frame_prob[:, :, 0], out.frame_prob[:, :, 1],
            out.x_audio, out.x_visual)  # fmt: skip
    for name, a, b in zip(("global", "p_a", "p_v", "a_frame", "v_frame", "a_o", "v_o"), mine, o):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6 * max(1.0, float(b.detach().abs().max())), msg=name)

    cfg = TrainConfig.from_dict(train_options("leap"))
    want = official_loss(o, fs.labels, fs.pseudo_audio, fs.pseudo_visual)
    torch.manual_seed(7)
    loss = step_loss(ours, "leap", fs, idx, 1, cfg)
    torch.testing.assert_close(loss, want, rtol=1e-5, atol=1e-6)

    opt_o = torch.optim.Adam(official.parameters(), lr=cfg.lr)
    opt = torch.optim.Adam(ours.parameters(), lr=cfg.lr)
    for optimizer, value in ((opt_o, want), (opt, loss)):
        optimizer.zero_grad()
        value.backward()
    theirs = dict(official.named_parameters())
    # a key projection's bias shifts every score of a query alike: its gradient is 0 up to rounding, so the
    # tolerance also scales with the largest gradient of the model
    largest = max(float(p.grad.abs().max()) for p in theirs.values() if p.grad is not None)
    for k, p in ours.named_parameters():
        g = theirs[official_name(k)].grad
        torch.testing.assert_close(p.grad, g, rtol=1e-4, atol=1e-5 * float(g.abs().max()) + 1e-7 * largest, msg=k)
    opt_o.step()
    opt.step()
    for k, p in ours.named_parameters():
        if float(theirs[official_name(k)].grad.abs().max()) < 1e-6 * largest:
            continue  # Adam's first step is lr * sign(g): of a rounding-noise gradient, a coin toss
        torch.testing.assert_close(p, theirs[official_name(k)], rtol=1e-5, atol=1e-6, msg=k)


def test_the_video_level_loss_adds_a_value_and_no_gradient_unless_soft():
    _, ours, _ = _pair()
    fs = _batch()
    ours.eval()
    out = ours(*fs.batch(torch.arange(len(fs))))
    args = (fs.labels, fs.pseudo_audio, fs.pseudo_visual, fs.pseudo_present)
    y_off = 1.0 - fs.labels  # every weak label flipped: the video-level term changes a lot
    grads = {}
    for kind in ("code", "soft"):
        for name, y in (("y", fs.labels), ("flipped", y_off)):
            ours.zero_grad()
            leap_loss(out, y, *args[1:], video_loss=kind).backward(retain_graph=True)
            grads[kind, name] = ours.fc_la.weight.grad.clone()
    assert torch.equal(grads["code", "y"], grads["code", "flipped"])
    assert not torch.allclose(grads["soft", "y"], grads["soft", "flipped"])
    assert abs(float(leap_loss(out, y_off, *args[1:])) - float(leap_loss(out, *args))) > 1.0  # its value counts


class _Trap:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_label_embeddings_file_is_read_as_tensors_and_checked(tmp_path):
    names = [f"class {i}" for i in range(25)]
    good = {n: torch.randn(300) for n in names}
    torch.save(good, tmp_path / "good.pt")
    got = read_label_embeddings(tmp_path / "good.pt", 25)
    assert got.shape == (25, 300) and torch.equal(got[7], good["class 7"])
    bad = {
        "few": ({n: good[n] for n in names[:24]}, "24 label embeddings, the data set has 25 classes"),
        "wide": ({**good, "class 3": torch.randn(768)}, "class 'class 3' holds a torch.float32 \\(768,\\) tensor"),
        "nan": ({**good, "class 4": torch.full((300,), float("nan"))}, "class 'class 4' holds NaN"),
        "list": ([1, 2], "it holds a list"),
    }
    for stem, (obj, problem) in bad.items():
        torch.save(obj, tmp_path / f"{stem}.pt")
        with pytest.raises(CheckpointError, match=f"{stem}.pt: .*{problem}"):
            read_label_embeddings(tmp_path / f"{stem}.pt", 25)
    trap = tmp_path / "unpickled"
    torch.save({"x": _Trap(str(trap))}, tmp_path / "trap.pt")
    with pytest.raises(CheckpointError, match="never unpickled"):
        read_label_embeddings(tmp_path / "trap.pt", 25)
    assert not trap.exists()
    with pytest.raises(ValueError, match="needs \\(25, 300\\)"):
        build_model("leap", {}).set_label_embeddings(torch.zeros(7, 300), "x.pt")


def test_leap_recipe_is_its_run_script():
    cfg = TrainConfig.from_dict(train_options("leap"))
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.seed, cfg.optimizer, cfg.schedule) == (
        30,
        32,
        1e-4,
        1,
        "adam",
        "step",
    )
    assert [cfg.lr * cfg.lr_factor(i) for i in (0, 9, 10, 20)] == pytest.approx([1e-4, 1e-4, 1e-5, 1e-6])
    assert (cfg.heads, cfg.hidden, cfg.ffn, cfg.num_layers, cfg.dropout, cfg.select_metric) == (
        8, 512, 512, 2, 0.2, "seg_type",
    )  # fmt: skip
    net = build_model("leap", {})
    assert len(net.decoder.visual) == 2 and net.decoder.visual[0].attn.heads == 8
    assert np.isclose(sum(p.numel() for p in net.parameters()), 47_256_068)


def test_a_leap_row_trains_with_its_class_embeddings_and_is_refused_without(tmp_path):
    """The embeddings reach the trained network, model.pt carries them (no file needed to reload) and
    records the file's sha256; a run without them, or a row that reads none given some, is refused."""
    tr, va = random_feature_set(8, seed=0), random_feature_set(4, "val", seed=1)
    tr.pseudo_audio = tr.pseudo_visual = tr.labels[:, None, :].repeat(1, 10, 1)
    tr.pseudo_present = torch.ones(len(tr))
    small = {"epochs": 1, "batch_size": 4, "hidden": 32, "heads": 4, "ffn": 64, "num_layers": 1}
    cfg = TrainConfig.from_dict({**train_options("leap"), **small})
    with pytest.raises(ValueError, match="^model leap needs LEAP's class embeddings .*--label-embeddings FILE"):
        train("leap", tr, va, cfg, tmp_path / "refused", {}, progress=False)
    path = embeddings_file(tmp_path / "emb.pt")
    embeddings = load_label_embeddings(path, 25)
    with pytest.raises(ValueError, match="model han reads no class embeddings"):
        train("han", tr, va, TrainConfig.from_dict(small), tmp_path / "han", {}, progress=False, embeddings=embeddings)
    summary = train("leap", tr, va, cfg, tmp_path / "run", {}, progress=False, embeddings=embeddings)
    path.unlink()  # evaluation and parsing read model.pt alone
    trained = load_trained(tmp_path / "run" / "model.pt")
    assert torch.equal(trained.net.label_embeddings, embeddings.values) and embeddings.values.abs().sum() > 0
    assert summary["label_embeddings"] == {"file": str(path), "sha256": embeddings.sha256}
    assert trained.summary["label_embeddings"]["sha256"] == embeddings.sha256
    other = sha256_file(embeddings_file(tmp_path / "other.pt", seed=1))
    assert run_hash("leap", cfg, {}, 8, 4, None, embeddings.sha256) != run_hash("leap", cfg, {}, 8, 4, None, other)


def test_avvp_train_refuses_a_leap_row_without_embeddings_in_one_line(tmp_path, caplog):
    args = ["train", "--model", "leap", "--index", str(tmp_path / "index.h5"), "--out-dir", str(tmp_path / "run")]
    assert main(args) == 1
    [error] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert error.startswith("model leap needs LEAP's class embeddings") and "\n" not in error
    assert not (tmp_path / "run").exists()


def test_planning_needs_an_existing_embedding_file_for_leap_rows(tmp_path):
    with pytest.raises(PlanError, match="has leap\\+soft_video, .* train.leap.label_embeddings is not set"):
        check_label_embeddings({"models": ["han", "leap+soft_video"]})
    check_label_embeddings({"models": ["han"]})
    absent = {"models": ["leap"], "leap": {"label_embeddings": str(tmp_path / "absent.pt")}}
    with pytest.raises(PlanError, match="^train.leap.label_embeddings .*absent.pt: no such file$"):
        check_label_embeddings(absent)
    train = {"models": ["han", "leap"], "leap": {"label_embeddings": str(embeddings_file(tmp_path / "e.pt"))}}
    check_label_embeddings(train)
    assert (label_embeddings_file("leap", train), label_embeddings_file("han", train)) == (str(tmp_path / "e.pt"), None)
    with pytest.raises(PlanError, match="contains train.leap.label_embeddings"):
        check_results_dir({"results_dir": str(tmp_path), "train": train}, "/nonexistent/source")
