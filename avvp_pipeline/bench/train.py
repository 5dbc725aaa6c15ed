"""train: seconds per training epoch. A model trains on synthetic LLP-shaped features held in memory, per batch
size and precision, against the recipe's batch size in fp32."""

from __future__ import annotations

import time

from .common import add_json_flag, peak_rss_mb, print_figures, print_machine, write_json


def add_arguments(p) -> None:
    p.add_argument("--model", default="han", help="model name (avvp models)")
    p.add_argument("--videos", type=int, default=1849, help="synthetic videos per epoch")
    p.add_argument(
        "--batch-sizes",
        default="16,256",
        help="comma-separated batch sizes; the recipe's batch size in fp32 is always measured first as the reference",
    )
    p.add_argument("--train-precisions", default="fp32,bf16", help="comma-separated: fp32, bf16 (autocast)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument(
        "--cuda-graphs",
        action="store_true",
        help="also time each setting with the training step replayed as a CUDA graph, and compare one epoch "
        "of it with the eager epoch (CUDA only)",
    )
    add_json_flag(p)


def bench_train(
    model_name: str,
    videos: int,
    batch_sizes: list[int],
    precisions: tuple[str, ...] = ("fp32",),
    device: str = "auto",
    seed: int = 0,
    cuda_graphs: bool = False,
) -> dict:
    """Seconds per training epoch over ``videos`` synthetic LLP-shaped videos held on the device, for
    the recipe's batch size in fp32 (the reference) and each (batch size, precision) setting; one
    warm-up pass over a tenth of the data per setting first. With ``cuda_graphs`` (CUDA only) each setting
    is timed again with the graphed step, and one seeded epoch at the recipe's batch size is run both ways
    to report how far apart their losses and weights end."""
    import torch

    from ..data.feature_sets import FeatureSet
    from ..device import resolve_device
    from ..features.kinds import default_shapes
    from ..models.registry import build_model
    from ..models.rows import spec, train_options
    from ..training.config import TrainConfig
    from ..training.graphed import GraphedStep
    from ..training.trainer import build_optimizer, train_epoch

    dev = resolve_device(device)
    if cuda_graphs and dev.type != "cuda":
        raise ValueError(f"bench train --cuda-graphs needs a CUDA device, got {dev}")
    g = torch.Generator().manual_seed(seed)
    labels = (torch.rand(videos, 25, generator=g) < 0.08).float()
    ids = [f"v{i:010d}" for i in range(videos)]
    kinds = spec(model_name).features  # the row's feature kinds' shapes (LLP's for every row but valor++)
    fs = FeatureSet(
        "train",
        ids,
        ids,
        *(torch.randn(videos, *shape, generator=g).to(dev) for shape in default_shapes(kinds).values()),
        labels.to(dev),
        None,
        None,
        kinds=kinds,
    )
    fs.labels_audio, fs.labels_visual = fs.labels, fs.labels
    if spec(model_name).pseudo_labels:  # VALOR rows: the weak label in every second as pseudo labels
        fs.pseudo_audio = fs.pseudo_visual = fs.labels[:, None, :].repeat(1, 10, 1)
        fs.pseudo_present = torch.ones(videos, device=dev)
    feature_bytes = sum(t.numel() * t.element_size() for t in (fs.audio, fs.video_s, fs.video_st, fs.labels))
    recipe_bs = train_options(model_name)["batch_size"]
    settings = [(recipe_bs, "fp32")] + [
        (bs, p) for bs in batch_sizes for p in precisions if (bs, p) != (recipe_bs, "fp32")
    ]
    out = {
        "device": str(dev) + (f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else ""),
        "model": model_name,
        "videos": videos,
    }
    times = {}
    out["features held in memory (MB)"] = feature_bytes / 1e6

    def fresh(cfg: TrainConfig, graphed: bool):
        """The run's seeded model and optimiser (and graphed step) with its epoch function."""
        torch.manual_seed(seed)
        model = build_model(model_name, train_options(model_name)).to(dev).train()
        opt, _ = build_optimizer(model, cfg, dev)
        step = GraphedStep(model, model_name, fs, opt, cfg) if graphed else None
        rng = torch.Generator().manual_seed(seed)

        def epoch(n: int) -> float:
            """Seconds and mean loss of the trainer's own epoch over ``n`` videos (CM-S rows with their
            CM-S loss on)."""
            if dev.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            loss = train_epoch(model, model_name, fs, opt, cfg.init_epoch + 1, cfg, rng, rng, videos=n, graphed=step)
            if dev.type == "cuda":
                torch.cuda.synchronize()
            return time.perf_counter() - t0, loss

        return model, epoch

    for bs, precision in settings:
        cfg = TrainConfig.from_dict({**train_options(model_name), "batch_size": bs, "precision": precision})
        for graphed in (False, True) if cuda_graphs else (False,):
            label = f"batch {bs} {precision}" + (" cuda graphs" if graphed else "")
            if dev.type == "cuda":
                torch.cuda.reset_peak_memory_stats(dev)
            _, epoch = fresh(cfg, graphed)
            warm, _ = epoch(min(videos, max(bs, videos // 10)))
            times[(bs, precision, graphed)] = epoch(videos)[0] * 10_000 / videos
            out[f"{label}: s/epoch (10,000 videos)"] = times[(bs, precision, graphed)]
            if graphed:
                out[f"{label}: warm-up pass with the capture (s)"] = warm
            if dev.type == "cuda":
                out[f"{label}: peak GPU memory allocated (MB)"] = torch.cuda.max_memory_allocated(dev) / 1e6
    if cuda_graphs:  # one seeded epoch both ways, from the same start
        cfg = TrainConfig.from_dict(train_options(model_name))
        (m_eager, ep_eager), (m_graph, ep_graph) = fresh(cfg, False), fresh(cfg, True)
        loss_eager, loss_graph = ep_eager(videos)[1], ep_graph(videos)[1]
        weights = max(
            (a.float() - b.float()).abs().max().item()
            for a, b in zip(m_eager.state_dict().values(), m_graph.state_dict().values())
        )
        out[f"batch {recipe_bs} fp32, one epoch, cuda graphs vs eager: loss difference"] = abs(loss_eager - loss_graph)
        out[f"batch {recipe_bs} fp32, one epoch, cuda graphs vs eager: largest weight difference"] = weights
    out["peak CPU memory of the process, RSS (MB)"] = peak_rss_mb()
    ref = times[(recipe_bs, "fp32", False)]
    fastest = min(times, key=times.get)
    out["reference"] = f"batch {recipe_bs} fp32 (the recipe): {ref:.3f} s/epoch"
    out["fastest"] = (
        f"batch {fastest[0]} {fastest[1]}{' cuda graphs' if fastest[2] else ''}: {times[fastest]:.3f} s/epoch, "
        f"{ref / times[fastest]:.1f}x the reference"
    )
    if cuda_graphs:
        graphed = times[(recipe_bs, "fp32", True)]
        out["cuda graphs at the recipe's batch"] = (
            f"batch {recipe_bs} fp32: {graphed:.3f} s/epoch, {ref / graphed:.1f}x the eager reference"
        )
    return out


def main(args) -> int:
    print_machine()
    sizes = [int(x) for x in args.batch_sizes.split(",")]
    r = bench_train(
        args.model,
        args.videos,
        sizes,
        tuple(args.train_precisions.split(",")),
        device=args.device,
        cuda_graphs=args.cuda_graphs,
    )
    write_json(args.json, r)
    print_figures(r)
    return 0
