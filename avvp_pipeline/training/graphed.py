"""The training step as one CUDA graph (``train.runtime.cuda_graphs: true``).

At the recipes' batch sizes (16, 64 videos) a step of these small models is a few hundred kernel launches
of microseconds each, so a fast GPU spends most of an epoch waiting for Python. Captured once, the whole
step (batch gather, forward, loss, backward, gradient clipping, optimiser step) replays as one launch.

It computes what the eager step computes: the same functions (:mod:`training.step`) issue the same kernels
in the same order, dropout draws from the same random stream, and the optimiser is the same fused Adam(W),
reading the learning rate from a float32 device tensor the scheduler's value is copied into (eager passes
the double: the updates agree to about 1e-7 relative). The warm-up steps that a capture needs would advance
the weights, the optimiser state and the random stream: all three are put back afterwards, so a graphed run
follows the eager run's trajectory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from .config import TrainConfig
from .step import backward_step, step_loss

if TYPE_CHECKING:
    from ..data.feature_sets import FeatureSet

__all__ = ["GraphedStep", "capture_cuda_graph", "run_eagerly"]

WARMUP_STEPS = 3  # eager steps before a capture (PyTorch's recipe: lazy initialisations happen outside it)


class GraphedStep:
    """The training step of full batches of ``model_name``, replayed from a captured graph.

    One graph at a time, for one (batch size, loss phase); it is captured again when the phase changes (the
    CM-S rows turn their contrastive term and smoothing on after ``init_epoch``). ``capture(body, optimizer)``
    returns the replay function: :func:`capture_cuda_graph`, or :func:`run_eagerly` (tests on a CPU).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        model_name: str,
        train_set: FeatureSet,
        optimizer: torch.optim.Optimizer,
        cfg: TrainConfig,
        capture: Callable | None = None,
    ):
        device = train_set.audio.device
        if capture is None and device.type != "cuda":
            raise ValueError(f"train.runtime.cuda_graphs needs a CUDA device; model {model_name} trains on {device}")
        if not isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)):
            raise ValueError(f"a graphed training step needs Adam or AdamW, got {type(optimizer).__name__}")
        self.model = model
        self.model_name = model_name
        self.train_set = train_set
        self.optimizer = optimizer
        self.cfg = cfg
        self.capture = capture or capture_cuda_graph
        self.captures = 0
        self._key = None
        self._replay = None

    def __call__(self, idx: torch.Tensor, partners: torch.Tensor | None, epoch: int) -> torch.Tensor:
        """One optimiser step on the batch ``idx`` (with CM-S ``partners``) in ``epoch``; its loss, a tensor
        that the next call overwrites."""
        key = (len(idx), self.cfg.smoothing(epoch), epoch > self.cfg.init_epoch)
        if key != self._key:
            self._build(key, idx, partners, epoch)
        self._idx.copy_(idx, non_blocking=True)
        if partners is not None:
            self._partners.copy_(partners, non_blocking=True)
        self._replay()
        return self._loss

    def _build(self, key, idx: torch.Tensor, partners: torch.Tensor | None, epoch: int) -> None:
        self._replay, self._key = None, None  # the previous graph and its memory go first
        self._idx = idx.clone()
        # on the device: a copy from host memory cannot be captured
        self._partners = None if partners is None else partners.to(idx.device, copy=True)
        self._loss = torch.zeros((), device=idx.device)
        saved = _TrainingState(self.model, self.optimizer, idx.device)

        def body():
            with self.cfg.autocast(idx.device):
                loss = step_loss(
                    self.model, self.model_name, self.train_set, self._idx, epoch, self.cfg, self._partners
                )
            backward_step(self.model, self.optimizer, loss, self.cfg)
            self._loss.copy_(loss.detach())

        try:
            self._replay = self.capture(body, self.optimizer)
        finally:
            saved.restore()
            # the gradients the capture left are buffers of the graph, not this step's: no one should read them
            self.optimizer.zero_grad(set_to_none=True)
        self._key = key
        self.captures += 1


class _TrainingState:
    """Weights, buffers, optimiser state and the device's random stream as they are now, to put back in place
    (the graph holds the addresses of these tensors) after the warm-up steps and the capture."""

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, device: torch.device):
        self.device = device
        self.live = list(model.state_dict().values())  # these share storage with the parameters and buffers
        self.saved = [t.detach().clone() for t in self.live]
        self.optimizer = optimizer
        self.params = [p for g in optimizer.param_groups for p in g["params"]]
        self.opt_saved = {
            id(p): {k: v.detach().clone() for k, v in optimizer.state[p].items() if torch.is_tensor(v)}
            for p in self.params
            if optimizer.state.get(p)
        }
        self.rng = torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()

    @torch.no_grad()
    def restore(self) -> None:
        for live, saved in zip(self.live, self.saved):
            live.copy_(saved)
        for p in self.params:
            state = self.optimizer.state.get(p, {})
            saved = self.opt_saved.get(id(p))
            for k, v in state.items():
                if not torch.is_tensor(v):
                    continue
                if saved is not None:
                    v.copy_(saved[k])
                else:  # Adam's state starts as zeros (step 0 included): zeros are the state before a first step
                    v.zero_()
        if self.device.type == "cuda":
            torch.cuda.set_rng_state(self.rng, self.device)
        else:
            torch.set_rng_state(self.rng)


def capture_cuda_graph(body: Callable[[], None], optimizer: torch.optim.Optimizer) -> Callable[[], None]:
    """Warm ``body`` (one training step) up on a side stream, capture it as a CUDA graph and return the
    replay function. Inside the graph the optimiser reads its learning rate from a device tensor, refreshed
    before a replay whenever the schedule has changed the group's value."""
    groups = optimizer.param_groups
    device = groups[0]["params"][0].device
    lr_tensors = [torch.tensor(float(g["lr"]), dtype=torch.float32, device=device) for g in groups]
    floats = [(g["lr"], g["capturable"]) for g in groups]
    for g, lr in zip(groups, lr_tensors):
        g["lr"], g["capturable"] = lr, True
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.device(device):
            side = torch.cuda.Stream(device)
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side):
                for _ in range(WARMUP_STEPS):
                    optimizer.zero_grad(set_to_none=True)
                    body()
            optimizer.zero_grad(set_to_none=True)
            # captured on the warm-up's stream: libraries' per-stream handles and workspaces (cuBLAS) exist by then
            with torch.cuda.graph(graph, stream=side):
                body()
            torch.cuda.current_stream(device).wait_stream(side)
    finally:
        for g, (lr, capturable) in zip(groups, floats):
            g["lr"], g["capturable"] = lr, capturable
    filled = [float(lr) for lr, _ in floats]

    def replay() -> None:
        if optimizer.param_groups is not groups:  # load_state_dict replaced them: the graph's tensors are stale
            raise RuntimeError("the optimiser's state was replaced after the capture: capture the step again")
        for i, g in enumerate(groups):
            if g["lr"] != filled[i]:
                lr_tensors[i].fill_(g["lr"])
                filled[i] = g["lr"]
        graph.replay()

    return replay


def run_eagerly(body: Callable[[], None], optimizer: torch.optim.Optimizer) -> Callable[[], None]:
    """What :func:`capture_cuda_graph` does, without a GPU: the same warm-up steps, then a replay that runs
    ``body`` eagerly. Lets a CPU test check everything around the graph (static buffers, restoring the state
    the warm-up changed, phases, the eager last batch)."""

    def replay() -> None:
        optimizer.zero_grad(set_to_none=True)
        body()

    for _ in range(WARMUP_STEPS):
        replay()
    return replay
