"""The CUDA-graph training step (train option cuda_graphs) follows the eager step's trajectory.

On a CPU the capture is replaced by `run_eagerly` (same warm-up steps, eager replay), which checks everything
around the graph: static buffers, putting back what the warm-up changed, re-capture at a phase change, the
eager last batch. The CUDA tests capture real graphs and need a GPU.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from factories import random_feature_set

from avvp_pipeline.models.registry import build_model
from avvp_pipeline.models.rows import train_options
from avvp_pipeline.training.config import RunOptions, TrainConfig
from avvp_pipeline.training.graphed import GraphedStep, capture_cuda_graph, run_eagerly
from avvp_pipeline.training.trainer import build_optimizer, train, train_epoch

CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (CUDA-graph capture)")

# row -> options on top of its recipe: small epochs; the CM-S row crosses init_epoch (its loss changes),
# the VALOR row has AdamW, warm-up + cosine and gradient clipping
ROWS = {
    "han": {"epochs": 3, "step_size": 1},
    "han+cms": {"epochs": 3, "init_epoch": 1, "batch_size": 8},
    "ma*+ours": {"epochs": 2, "init_epoch": 1, "batch_size": 8},
    "valor": {"epochs": 3, "warmup_epochs": 1, "batch_size": 8, "hidden": 32, "heads": 4, "ffn": 64},
    "ma": {"epochs": 2, "batch_size": 8},  # MA's targets and contrastive loss
    "avsdn+ours": {"epochs": 2, "init_epoch": 1, "batch_size": 8},  # LSTMs (cuDNN on a GPU)
}
CMS_ROWS = ("han+cms", "ma*+ours", "avsdn+ours")
# narrower features for the CPU runs: the step's mechanics do not depend on the widths, the time does
NARROW = {"audio": (10, 32), "visual_2d": (80, 64), "visual_3d": (10, 32)}


def _train_set(name: str, n: int, device: torch.device):
    fs = random_feature_set(n, seed=3, label_rate=0.15, shapes=NARROW if device.type == "cpu" else None)
    for f in ("audio", "video_s", "video_st", "labels"):
        setattr(fs, f, getattr(fs, f).to(device))
    keep = torch.rand(fs.labels.shape, generator=torch.Generator().manual_seed(5)) < 0.7
    fs.labels_audio, fs.labels_visual = fs.labels, fs.labels * keep.float().to(device)  # "refined": some dropped
    fs.pseudo_audio = fs.pseudo_visual = fs.labels[:, None, :].repeat(1, 10, 1)
    fs.pseudo_present = (torch.arange(n, device=device) % 3 != 0).float()
    return fs


def _run(name: str, n: int, device: torch.device, capture=None, precision: str = "fp32"):
    """Epoch losses, final weights and optimiser state of ``name`` trained eagerly (``capture`` None) or
    with a graphed step, from the same seeds."""
    cfg = TrainConfig.from_dict({**train_options(name), **ROWS[name], "precision": precision})
    fs = _train_set(name, n, device)
    torch.manual_seed(cfg.seed)
    if device.type == "cuda":
        torch.cuda.manual_seed(cfg.seed)
    model = build_model(name, dataclasses.asdict(cfg), fs.shapes).to(device)
    optimizer, scheduler = build_optimizer(model, cfg, device)
    shuffle = torch.Generator().manual_seed(cfg.seed)
    partner_rng = torch.Generator().manual_seed(cfg.seed + 1)
    graphed = None if capture is None else GraphedStep(model, name, fs, optimizer, cfg, capture=capture)
    losses = []
    for epoch in range(1, cfg.epochs + 1):
        losses.append(train_epoch(model, name, fs, optimizer, epoch, cfg, shuffle, partner_rng, graphed=graphed))
        scheduler.step()
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    opt = [
        {k: v.detach().cpu().clone() for k, v in optimizer.state[p].items()}
        for g in optimizer.param_groups
        for p in g["params"]
    ]
    return losses, state, opt, graphed


def _assert_same(a, b, atol: float):
    (la, sa, oa, _), (lb, sb, ob, _) = a, b
    assert la == pytest.approx(lb, abs=atol, rel=0)
    assert sa.keys() == sb.keys()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], atol=atol, rtol=0, msg=f"weight {k}")
    for x, y in zip(oa, ob):
        for k in x:
            torch.testing.assert_close(x[k].float(), y[k].float(), atol=atol, rtol=0, msg=f"optimizer {k}")


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in ("ma*+ours", "avsdn+ours") else n for n in ROWS]
)
def test_graphed_step_follows_the_eager_trajectory_on_cpu(name):
    cpu = torch.device("cpu")
    eager = _run(name, 21, cpu)  # 21 videos: every epoch ends with a smaller batch, run eagerly
    graphed = _run(name, 21, cpu, capture=run_eagerly)
    _assert_same(eager, graphed, atol=0.0)  # the same operations on the same state: bitwise equal
    # one capture per loss phase: the CM-S rows switch their contrastive term on after init_epoch
    assert graphed[3].captures == (2 if name in CMS_ROWS else 1)


@pytest.mark.parametrize("name", ["han", "valor"])
def test_graphed_step_follows_the_eager_trajectory_in_bf16_on_cpu(name):
    """bf16 autocast too: HAN's layer is shared by both streams, so its weights are used twice per pass."""
    cpu = torch.device("cpu")
    _assert_same(_run(name, 21, cpu, precision="bf16"), _run(name, 21, cpu, capture=run_eagerly, precision="bf16"), 0.0)


def test_the_warm_up_is_undone(monkeypatch):
    """Without putting back weights, optimiser state and random stream, the warm-up steps would show."""
    import avvp_pipeline.training.graphed as G

    cpu = torch.device("cpu")
    eager = _run("han", 21, cpu)
    monkeypatch.setattr(G._TrainingState, "restore", lambda self: None)
    with pytest.raises(AssertionError):
        _assert_same(eager, _run("han", 21, cpu, capture=run_eagerly), atol=1e-6)


def test_cuda_graphs_option_is_checked(tmp_path):
    assert RunOptions.from_dict({"cuda_graphs": True}).cuda_graphs is True
    with pytest.raises(ValueError, match="cuda_graphs must be true or false"):
        RunOptions.from_dict({"cuda_graphs": "on"})
    fs = random_feature_set(8)
    with pytest.raises(ValueError, match="cuda_graphs needs a CUDA device"):
        train("han", fs, fs, TrainConfig(epochs=1), tmp_path, {}, progress=False, run=RunOptions(cuda_graphs=True))
    with pytest.raises(ValueError, match="needs Adam or AdamW"):
        model = torch.nn.Linear(2, 2)
        GraphedStep(model, "han", fs, torch.optim.SGD(model.parameters(), lr=0.1), TrainConfig(), capture=run_eagerly)


@CUDA
@pytest.mark.parametrize("name", list(ROWS))
def test_cuda_graph_step_equals_eager_on_the_gpu(name):
    cuda = torch.device("cuda")
    eager = _run(name, 37, cuda)
    graphed = _run(name, 37, cuda, capture=capture_cuda_graph)
    _assert_same(eager, graphed, atol=1e-5)
    assert graphed[3].captures == (2 if name in CMS_ROWS else 1)


@CUDA
def test_cuda_graph_step_equals_eager_in_bf16():
    cuda = torch.device("cuda")
    eager = _run("han", 40, cuda, precision="bf16")
    _assert_same(eager, _run("han", 40, cuda, capture=capture_cuda_graph, precision="bf16"), atol=1e-5)
