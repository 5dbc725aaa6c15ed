"""planted: train and score model rows on synthetic features with planted events. The features are LLP-shaped
(``planted_features.py``).

Each row trains with its published recipe (``--epochs`` can cap it), is selected on the synthetic val split
and scored on the synthetic test split with the LLP protocol. MA rows first train ``ma_base`` and refine its
labels, and ``jomold`` first trains ``jomold-estimator`` and takes its noise ratios, exactly as the Snakemake
DAG does. Writes the paper's table layout to OUT/table.md and OUT/results.json.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..evaluation.metrics import llp_f_scores
from ..evaluation.tables import COLUMNS
from ..fileio import write_text
from ..models.rows import MODELS, PAPER_ROWS, TABLE_GROUPS, spec, train_options

# torch and the training stack are imported inside the functions: `avvp` builds this module's parser on every call
log = logging.getLogger(__name__)


def add_arguments(p) -> None:
    p.add_argument("--rows", default="all", help="comma-separated model names, or 'all' (the 21 rows of the paper)")
    p.add_argument("--scale", type=float, default=1.0, help="fraction of LLP's 10,000/649/1,200 videos")
    p.add_argument("--epochs", type=int, help="cap every recipe at this many epochs (default: the recipes)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic data")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--out", default="planted-benchmark", help="output folder")
    p.add_argument(
        "--teacher-error",
        type=float,
        default=0.2,
        help="VALOR rows: error rate of the noisy teacher that makes their pseudo labels from the planted "
        "truth (each second and class of the weak label flipped with this probability)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def main(args) -> int:
    from ..device import resolve_device
    from .planted_features import PlantedFeatureConfig

    data = PlantedFeatureConfig(seed=args.seed).scaled(args.scale)
    rows = parse_rows(args.rows)
    device = str(resolve_device(args.device))
    print(
        f"synthetic LLP-shaped features: {data.n_train}/{data.n_val}/{data.n_test} videos on {device}; "
        f"rows: {', '.join(rows)}",
        flush=True,
    )
    run_benchmark(
        rows, data, args.out, args.epochs, device, progress=not args.no_progress, teacher_error=args.teacher_error
    )
    print((Path(args.out) / "table.md").read_text())
    return 0


def broadcast_scores(test) -> dict[str, float]:
    """The trivial parser: every weak label in every second of both modalities."""
    y = test.labels.cpu().numpy().astype(np.uint8)
    dense = np.repeat(y[:, :, None], test.gt_audio.shape[2], axis=2)
    return llp_f_scores(dense, dense, test.gt_audio, test.gt_visual)


def _attach_refined(sets, options: dict, out_dir: Path, progress: bool) -> dict:
    import torch

    from ..models.checkpoint import load_trained
    from ..training.config import TrainConfig
    from ..training.refine import refine_labels
    from ..training.trainer import train

    cfg = TrainConfig.from_dict(train_options("ma_base", options))
    train("ma_base", sets["train"], sets["val"], cfg, out_dir / "ma_base", {"synthetic": True}, progress)
    model = load_trained(out_dir / "ma_base" / "model.pt", sets["train"].audio.device).net
    audio_labels, visual_labels, stats = refine_labels(model, sets["train"], seed=0)
    dev = sets["train"].labels.device
    sets["train"].labels_audio = torch.from_numpy(audio_labels.astype(np.float32)).to(dev)
    sets["train"].labels_visual = torch.from_numpy(visual_labels.astype(np.float32)).to(dev)
    gt_a, gt_v = sets["train"].truth  # how well refinement recovered the hidden modality labels
    true_a, true_v = gt_a.max(2).astype(bool), gt_v.max(2).astype(bool)
    weak = sets["train"].labels.cpu().numpy().astype(bool)
    stats["wrong_audio_before"], stats["wrong_visual_before"] = int((weak & ~true_a).sum()), int((weak & ~true_v).sum())
    stats["wrong_audio_after"] = int((audio_labels.astype(bool) != true_a).sum())
    stats["wrong_visual_after"] = int((visual_labels.astype(bool) != true_v).sum())
    for k in ("kappa_audio", "kappa_visual"):
        stats.pop(k)
    return stats


def _attach_noise_ratios(sets, options: dict, epochs: int | None, out_dir: Path, progress: bool) -> dict:
    """JoMoLD's stages 1-2 as the workflow runs them: ``jomold-estimator`` trained, its noise ratios attached
    to the train split; their statistics beside the planted truth's share of each class's weak labels that
    are absent from a modality (what the ratios estimate)."""
    from ..data.noise_ratios import read_noise_ratios
    from ..models.checkpoint import load_trained
    from ..training.config import TrainConfig
    from ..training.jomold import estimate_noise_ratios
    from ..training.trainer import train

    row, train_set = "jomold-estimator", sets["train"]
    cfg = TrainConfig.from_dict(_capped(train_options(row, options), row, epochs))
    train(row, train_set, sets["val"], cfg, out_dir / row, {"synthetic": True}, progress)
    model = load_trained(out_dir / row / "model.pt", train_set.audio.device).net
    path = out_dir / row / "noise_ratios.h5"
    stats = estimate_noise_ratios(model, train_set, path, {"source": "planted benchmark"})
    train_set.with_noise_ratios(path)
    weak = train_set.labels.cpu().numpy().astype(bool)
    events = np.maximum(weak.sum(0), 1)
    for m, gt, estimated in zip(("audio", "visual"), train_set.truth, read_noise_ratios(path, train_set.classes)):
        planted = (weak & ~gt.max(2).astype(bool)).sum(0) / events
        stats[f"estimated_{m}"], stats[f"planted_{m}"] = estimated.tolist(), planted.tolist()
        stats[f"mean_abs_error_{m}"] = float(np.abs(estimated - planted).mean())
    return stats


def parse_rows(text: str) -> list[str]:
    """``all`` (every row of the paper's tables) or comma-separated row names."""
    return list(PAPER_ROWS) if text == "all" else [r for r in text.split(",") if r]


def _attach_pseudo_labels(train_set, error_rate: float, seed: int) -> dict:
    """Pseudo labels of the VALOR rows from the planted truth through :func:`noisy_teacher`; their statistics."""
    import torch

    from .planted_features import noisy_teacher

    gt_a, gt_v = train_set.truth
    audio, visual = noisy_teacher(gt_a, gt_v, error_rate, seed)
    dev = train_set.labels.device
    train_set.pseudo_audio = torch.from_numpy(audio.astype(np.float32)).to(dev)
    train_set.pseudo_visual = torch.from_numpy(visual.astype(np.float32)).to(dev)
    train_set.pseudo_present = torch.ones(len(train_set), device=dev)
    weak = train_set.labels.cpu().numpy().astype(bool)[:, None, :].repeat(10, axis=1)
    wrong = {
        m: int((lab.astype(bool) != gt.transpose(0, 2, 1).astype(bool))[weak].sum())
        for m, lab, gt in (("audio", audio, gt_a), ("visual", visual, gt_v))
    }
    return {
        "teacher": "planted truth, flipped at random within the weak label's classes",
        "error_rate": error_rate,
        "seed": seed,
        "entries": int(weak.sum()),
        "wrong_audio": wrong["audio"],
        "wrong_visual": wrong["visual"],
    }


def _capped(opts: dict, row: str, epochs: int | None) -> dict:
    """A recipe capped at ``epochs``: its warm-up (VALOR) shrinks in proportion, so the cosine still runs."""
    from ..training.config import TrainConfig

    full = TrainConfig.from_dict(train_options(row))
    if epochs and full.warmup_epochs and epochs < full.epochs and "warmup_epochs" not in opts:
        opts = {**opts, "warmup_epochs": max(1, round(full.warmup_epochs * epochs / full.epochs))}
    return opts


def run_benchmark(
    rows: list[str],
    data,
    out_dir: str | Path,
    epochs: int | None = None,
    device: str = "cpu",
    progress: bool = True,
    teacher_error: float = 0.2,
    options: dict | None = None,
) -> dict:
    """Train and score ``rows``; write ``results.json`` (after every row) and ``table.md`` into ``out_dir``.
    VALOR rows train on pseudo labels from a noisy teacher of the planted truth, wrong at ``teacher_error``.
    ``options`` (training options) override every row's recipe, like ``train.options``; ``data`` is a
    :class:`PlantedFeatureConfig`."""
    from ..evaluation.evaluate import evaluate_probs
    from ..inference import predict
    from ..models.checkpoint import load_trained
    from ..training.config import RunOptions, TrainConfig
    from ..training.trainer import train
    from .planted_features import make_feature_sets

    unknown = [r for r in rows if r not in MODELS]
    if unknown:
        raise ValueError(f"unknown models {unknown}; `avvp models` lists them")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    sets = make_feature_sets(data, device)
    result = {
        "data": asdict(data),
        "device": str(device),
        "epochs_cap": epochs,
        "options": options or {},
        "data_seconds": time.perf_counter() - t0,
        "rows": {},
        "broadcast": broadcast_scores(sets["test"]),
    }
    options = {"device": str(device), **({"epochs": epochs} if epochs else {}), **(options or {})}
    if any(spec(r).labels == "refined" for r in rows):
        t0 = time.perf_counter()
        result["refinement"] = _attach_refined(sets, options, out_dir, progress)
        result["refinement"]["seconds"] = time.perf_counter() - t0
    if any(spec(r).jomold == "denoise" for r in rows):
        t0 = time.perf_counter()
        result["noise_ratios"] = _attach_noise_ratios(sets, options, epochs, out_dir, progress)
        result["noise_ratios"]["seconds"] = time.perf_counter() - t0
    if any(spec(r).pseudo_labels for r in rows):
        result["pseudo_labels"] = _attach_pseudo_labels(sets["train"], teacher_error, data.seed + 100)
    for row in rows:
        t0 = time.perf_counter()
        cfg = TrainConfig.from_dict(_capped(train_options(row, options), row, epochs))
        summary = train(row, sets["train"], sets["val"], cfg, out_dir / row, {"synthetic": True}, progress)
        model = load_trained(out_dir / row / "model.pt", sets["train"].audio.device).net
        batch = RunOptions.from_dict(options).eval_batch_size
        scores = evaluate_probs(predict(model, sets["test"], batch), sets["test"], cfg.gate)
        history = json.loads((out_dir / row / "history.json").read_text())["epochs"]
        result["rows"][row] = {
            "f_scores": scores,
            "selected_epoch": summary["selected_epoch"],
            "epochs_run": len(history),
            "seconds": time.perf_counter() - t0,
            "s_per_epoch": float(np.median([h["seconds"] for h in history])),
            "gate": cfg.gate,
        }
        write_text(out_dir / "results.json", json.dumps(result, indent=1))
        log.info("%s: %s", row, {k: round(v, 1) for k, v in scores.items()})
    write_text(out_dir / "table.md", benchmark_markdown(result))
    return result


def benchmark_markdown(result: dict) -> str:
    """The results in the layout of the paper's Tables 1-4 (segment / event F-scores in %)."""
    header = "| method | " + " | ".join(n for n, _ in COLUMNS) + " | epochs (selected) |"
    lines = [header, "|" + " --- |" * (len(COLUMNS) + 2)]

    def cells(f):
        return " | ".join(f"{f['seg_' + k]:.1f} / {f['ev_' + k]:.1f}" for _, k in COLUMNS)

    lines.append(f"| broadcast weak labels | {cells(result['broadcast'])} | - |")
    done = result["rows"]
    for title, rows in TABLE_GROUPS:
        present = [r for r in rows if r in done]
        if present:
            lines.append(f"| *{title} rows* |" + " |" * (len(COLUMNS) + 1))
        for r in present:
            d = done[r]
            lines.append(f"| {r} | {cells(d['f_scores'])} | {d['epochs_run']} ({d['selected_epoch']}) |")
    for r in done:
        if r not in PAPER_ROWS:
            d = done[r]
            lines.append(f"| {r} | {cells(d['f_scores'])} | {d['epochs_run']} ({d['selected_epoch']}) |")
    return "\n".join(lines) + "\n"
