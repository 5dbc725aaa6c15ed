"""lfav-train: one training epoch of HAN on an LFAV-sized split (3,721 videos of about 210 s, LFAV's released
widths, generated features) and on an LLP-sized one (10,000 videos of 10 s) in the same run: seconds per
epoch, the share of the batches' segments that are padding, and the memory the features and the run take."""

from __future__ import annotations

import time

from .common import add_json_flag, peak_rss_mb, print_figures, print_machine, write_json

#: LFAV's train split and mean length (its paper: 5,175 videos, 210 s on average); LLP's train split.
LFAV_VIDEOS, LFAV_MEAN_SECONDS, LLP_VIDEOS = 3721, 210, 10_000


def add_arguments(p) -> None:
    p.add_argument("--scale", type=float, default=1.0, help="fraction of both splits' videos (1: full size)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--seed", type=int, default=0)
    add_json_flag(p)


def lfav_lengths(n: int, seed: int):
    """``n`` video lengths in seconds, spread around LFAV's mean (uniform over 30 .. 390 s: mean 210)."""
    import numpy as np

    return np.random.default_rng(seed).integers(30, 2 * LFAV_MEAN_SECONDS - 30 + 1, n)


def _feature_set(model_name: str, lengths, dev, seed: int):
    """A train split of random features of ``model_name``'s kinds, padded to its longest video, on ``dev``."""
    import torch

    from ..data.feature_sets import FeatureSet
    from ..features.kinds import kind
    from ..models.rows import spec

    g = torch.Generator().manual_seed(seed)
    n, longest = len(lengths), int(lengths.max())
    kinds = spec(model_name).features
    tensors = [torch.randn(n, kind(k).rows(longest), kind(k).width, generator=g).to(dev) for k in kinds]
    ids = [f"v{i:010d}" for i in range(n)]
    labels = (torch.rand(n, 35 if model_name == "han_lfav" else 25, generator=g) < 0.1).float().to(dev)
    uniform = bool((lengths == lengths[0]).all())
    return FeatureSet(
        "train", ids, ids, *tensors, labels, None, None, kinds=kinds, lengths=None if uniform else lengths
    )


def _epoch(model_name: str, fs, dev, seed: int) -> dict:
    """One epoch of ``model_name``'s recipe over ``fs``: seconds, padding share, memory."""
    import torch

    from ..models.registry import build_model
    from ..models.rows import train_options
    from ..training.config import TrainConfig
    from ..training.trainer import build_optimizer, epoch_batches, padding_fraction, train_epoch

    cfg = TrainConfig.from_dict(train_options(model_name))
    torch.manual_seed(seed)
    model = build_model(model_name, train_options(model_name), fs.shapes, len(fs.labels[0])).to(dev).train()
    opt, _ = build_optimizer(model, cfg, dev)
    rng = torch.Generator().manual_seed(seed)
    batches = epoch_batches(fs, cfg.batch_size, rng)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    train_epoch(model, model_name, fs, opt, 1, cfg, rng, rng, batches=batches)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    out = {
        "s/epoch": time.perf_counter() - t0,
        "padding share of the batches' segments": padding_fraction(fs, batches),
        "features held in memory (MB)": sum(t.numel() * t.element_size() for t in (fs.audio, fs.video_s, fs.video_st))
        / 1e6,
        "peak CPU memory of the process so far, RSS (MB)": peak_rss_mb(),
    }
    if dev.type == "cuda":
        out["peak GPU memory allocated (MB)"] = torch.cuda.max_memory_allocated(dev) / 1e6
    return out


def bench_lfav_train(scale: float = 1.0, device: str = "auto", seed: int = 0) -> dict:
    """The LLP-sized epoch (``han``, 10-s videos), then the LFAV-sized one (``han_lfav``), each over
    ``scale`` of its split's videos."""
    import numpy as np

    from ..device import resolve_device

    dev = resolve_device(device)
    n_llp, n_lfav = max(1, round(LLP_VIDEOS * scale)), max(1, round(LFAV_VIDEOS * scale))
    out: dict = {"device": str(dev), "scale": scale, "llp videos": n_llp, "lfav videos": n_lfav}
    llp = _epoch("han", _feature_set("han", np.full(n_llp, 10), dev, seed), dev, seed)
    out.update({f"llp: {k}": v for k, v in llp.items()})
    lengths = lfav_lengths(n_lfav, seed)
    out["lfav mean length (s)"] = float(lengths.mean())
    lfav = _epoch("han_lfav", _feature_set("han_lfav", lengths, dev, seed), dev, seed)
    out.update({f"lfav: {k}": v for k, v in lfav.items()})
    out["lfav / llp s/epoch"] = lfav["s/epoch"] / llp["s/epoch"]
    return out


def main(args) -> int:
    print_machine()
    r = bench_lfav_train(args.scale, args.device, args.seed)
    write_json(args.json, r)
    print_figures(r)
    return 0
