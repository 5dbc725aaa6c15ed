"""Model size and cost: true counts, and the counting convention of the CM-Co paper's Table 4.

Table 4 counted with thop: multiply-accumulates of ``nn.Linear`` modules only, for
a batch of 64 videos, reported as "GFLOPs"; parameters of ``nn.Linear`` modules only (attention
projections and LayerNorms not counted), of the published model, which projects every frame before
the 8-frame mean, and VALOR's, which projects CLAP's map resampled to 2 x 1024 points before pooling
it to 10 (ours averages or resamples first: the same function for less work, so a layer marked with
``published_rows_factor`` is counted as the published model runs it). The true figures here count
every parameter and, with ``torch.utils.flop_counter``, every FLOP (2 per multiply-accumulate) that
this implementation runs for one 10-second video.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from ..features.kinds import SLOTS, default_shapes


def _dummy_batch(model: nn.Module, n: int) -> tuple[torch.Tensor, ...]:
    """``n`` videos of zeros in the shapes the model was built for (``input_shapes``; a module without
    them takes the HAN features' shapes)."""
    shapes = getattr(model, "input_shapes", None) or default_shapes()
    return tuple(torch.zeros(n, *shapes[slot]) for slot in SLOTS)


def trainable_parameters(model: nn.Module) -> int:
    """Every trainable parameter."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def table4_parameters(model: nn.Module) -> int:
    """Parameters of plain ``nn.Linear`` modules (Table 4's convention)."""
    return sum(p.numel() for m in model.modules() if type(m) is nn.Linear for p in m.parameters())


@torch.no_grad()
def table4_gmacs(model: nn.Module, batch: int = 64, published: bool = True) -> float:
    """Multiply-accumulates (G) of plain ``nn.Linear`` calls for ``batch`` videos (Table 4's "GFLOPs");
    ``published=False`` counts the calls this implementation makes instead of the published model's."""
    total = 0

    def hook(module, inputs, _output):
        nonlocal total
        factor = getattr(module, "published_rows_factor", 1) if published else 1
        rows = inputs[0].numel() // module.in_features * factor
        total += round(rows * module.in_features * module.out_features)

    handles = [m.register_forward_hook(hook) for m in model.modules() if type(m) is nn.Linear]
    try:
        model.eval()(*_dummy_batch(model, batch))
    finally:
        for h in handles:
            h.remove()
    return total / 1e9


def _lstm_flops(module: nn.LSTM, inputs, _output) -> int:
    """Matmul FLOPs of an LSTM call: per step and direction, 4 gates of (input + hidden) x hidden MACs."""
    x = inputs[0]
    steps = x.shape[1] if module.batch_first else x.shape[0]
    batch = x.shape[0] if module.batch_first else x.shape[1]
    dirs = 2 if module.bidirectional else 1
    h, total, in_size = module.hidden_size, 0, module.input_size
    for _ in range(module.num_layers):
        total += 2 * steps * batch * dirs * 4 * h * (in_size + h)
        in_size = h * dirs
    return total


@torch.no_grad()
def gflops_per_video(model: nn.Module) -> float:
    """All FLOPs (matmuls, attention and LSTMs included) of one 10-second video, in G."""
    counter = FlopCounterMode(display=False)
    lstm_total = 0

    def hook(module, inputs, output):  # FlopCounterMode sees no FLOPs in aten.lstm
        nonlocal lstm_total
        lstm_total += _lstm_flops(module, inputs, output)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.LSTM)]
    try:
        with counter:
            model.eval()(*_dummy_batch(model, 1))
    finally:
        for h in handles:
            h.remove()
    return (counter.get_total_flops() + lstm_total) / 1e9
