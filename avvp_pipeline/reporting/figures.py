"""Figures people look at: event timelines, training curves, class co-occurrence, t-SNE (PNG, matplotlib)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from ..data.llp import CLASSES  # noqa: E402
from ..fileio import atomic_output  # noqa: E402
from . import FIGURES  # noqa: E402

TRUTH_COLOUR, AUDIO_COLOUR, VISUAL_COLOUR = "#9e9e9e", "#1f77b4", "#d62728"


def save(fig, path: str | Path) -> Path:
    """Write ``fig`` as PNG atomically and close it."""
    try:
        with atomic_output(path, keep_suffix=True) as tmp:
            fig.savefig(tmp, dpi=110, bbox_inches="tight")
    finally:
        plt.close(fig)
    return Path(path)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(onset, offset) of each run of ones in a 0/1 vector."""
    padded = np.concatenate([[0], mask.astype(int), [0]])
    d = np.diff(padded)
    return list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)))


def _shown_classes(*arrays) -> list[int]:
    return sorted({int(c) for arr in arrays if arr is not None for c in np.flatnonzero(arr.any(axis=1))})


def draw_timeline(
    axes,
    title: str,
    pred_audio,
    pred_visual,
    prob_audio=None,
    prob_visual=None,
    gt_audio=None,
    gt_visual=None,
    classes: tuple[str, ...] = CLASSES,
    seconds: float | None = None,
    segment_seconds: float = 1.0,
) -> None:
    """Draw one video on two axes (audio, visual): per class, truth (grey, when given) above the prediction.

    ``pred_*``/``gt_*`` are (C, T) 0/1, one row per name of ``classes``, one column per segment of
    ``segment_seconds``; ``prob_*`` (C, T) segment probabilities shade the bars and give the score
    printed on each predicted event.
    """
    if pred_audio.shape[0] != len(classes):
        raise ValueError(f"{title}: predictions for {pred_audio.shape[0]} classes, but {len(classes)} class names")
    t = pred_audio.shape[1] * segment_seconds
    step = segment_seconds
    shown = _shown_classes(pred_audio, pred_visual, gt_audio, gt_visual)
    panels = (
        (axes[0], "heard (audio)", pred_audio, prob_audio, gt_audio, AUDIO_COLOUR),
        (axes[1], "seen (visual)", pred_visual, prob_visual, gt_visual, VISUAL_COLOUR),
    )
    for ax, name, pred, prob, gt, colour in panels:
        for row, c in enumerate(shown):
            y = len(shown) - 1 - row
            if gt is not None:
                for a, b in _runs(gt[c]):
                    ax.broken_barh([(a * step, (b - a) * step)], (y + 0.52, 0.36), color=TRUTH_COLOUR)
            for a, b in _runs(pred[c]):
                score = float(prob[c, a:b].mean()) if prob is not None else 1.0
                ax.broken_barh([(a * step, (b - a) * step)], (y + 0.08, 0.4), color=colour, alpha=0.35 + 0.65 * score)
                if prob is not None:
                    ax.text(a * step + 0.05, y + 0.28, f"{score:.2f}", va="center", fontsize=7, color="white")
        ax.set_yticks([len(shown) - 1 - r + 0.5 for r in range(len(shown))])
        ax.set_yticklabels([classes[c].replace("_", " ") for c in shown], fontsize=8)
        ax.set_ylim(0, max(1, len(shown)))
        ax.set_xlim(0, seconds or t)
        ax.set_title(f"{title}: {name}", fontsize=9, loc="left")
        ax.grid(axis="x", alpha=0.3)
        if not shown:
            ax.text((seconds or t) / 2, 0.5, "no events", ha="center", va="center", color="grey")
    axes[1].set_xlabel("time (s)")


def timelines(
    videos: list[dict],
    title: str,
    classes: tuple[str, ...] = CLASSES,
    seconds: float | None = None,
    segment_seconds: float = 1.0,
):
    """A figure of several videos' timelines; each dict holds ``draw_timeline``'s arguments (``seconds``:
    one time axis for all; None: each video's own length)."""
    heights = [
        max(1, len(_shown_classes(v["pred_audio"], v["pred_visual"], v.get("gt_audio"), v.get("gt_visual"))))
        for v in videos
    ]
    fig, axes = plt.subplots(
        2 * len(videos),
        1,
        figsize=(9, 1.0 + sum(2 * (0.45 * h + 0.5) for h in heights)),
        gridspec_kw={"height_ratios": [h for h in heights for _ in (0, 1)]},
        squeeze=False,
    )
    for k, v in enumerate(videos):
        draw_timeline(
            axes[2 * k : 2 * k + 2, 0], classes=classes, seconds=seconds, segment_seconds=segment_seconds, **v
        )
    handles = [Patch(color=AUDIO_COLOUR, label="predicted, heard"), Patch(color=VISUAL_COLOUR, label="predicted, seen")]
    if any(v.get("gt_audio") is not None for v in videos):
        handles.insert(0, Patch(color=TRUTH_COLOUR, label="ground truth"))
    fig.legend(handles=handles, loc="upper right", fontsize=8, ncol=len(handles), frameon=False)
    fig.suptitle(title, fontsize=10, x=0.01, ha="left")
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))
    return fig


def training_curves(history: dict, title: str):
    """Loss and the selection metric per epoch, the selected epoch marked."""
    epochs = [h["epoch"] for h in history["epochs"]]
    summary = history["summary"]
    key = f"{summary['select_on']}_{summary['select_metric']}"
    fig, ax = plt.subplots(figsize=(7, 3.6))
    ax.plot(epochs, [h["loss"] for h in history["epochs"]], "o-", color="#333333", ms=3, label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss")
    ax2 = ax.twinx()
    ax2.plot(
        epochs,
        [h[key] for h in history["epochs"]],
        "s-",
        color="#2ca02c",
        ms=3,
        label=f"{summary['select_on']} {summary['select_metric']} (F %)",
    )
    ax2.set_ylabel(f"{summary['select_on']} {summary['select_metric']} (F %)")
    ax2.axvline(summary["selected_epoch"], color="#2ca02c", ls="--", lw=1)
    ax2.annotate(
        f"selected: epoch {summary['selected_epoch']}",
        (summary["selected_epoch"], ax2.get_ylim()[0]),
        xytext=(4, 6),
        textcoords="offset points",
        fontsize=8,
        color="#2ca02c",
    )
    lines = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax.legend(lines, [ln.get_label() for ln in lines], fontsize=8, loc="center right")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def cooccurrence(pred_audio, pred_visual, gt_audio, gt_visual, title: str, classes=CLASSES, top: int = 12):
    """Video-level class co-occurrence (share of videos with both classes) of the truth and the predictions."""

    def matrix(a, v):
        present = (a.any(axis=2) | v.any(axis=2)).astype(float)  # (N, C)
        return present.T @ present / max(1, len(present)), present.sum(0)

    truth, counts = matrix(gt_audio, gt_visual)
    pred, _ = matrix(pred_audio, pred_visual)
    keep = np.argsort(-counts, kind="stable")[:top]
    keep = keep[counts[keep] > 0]
    fig, axes = plt.subplots(1, 2, figsize=(12, 5.6), constrained_layout=True)
    vmax = max(truth[np.ix_(keep, keep)].max(), pred[np.ix_(keep, keep)].max(), 1e-6)
    for ax, m, name in ((axes[0], truth, "ground truth"), (axes[1], pred, "predictions")):
        im = ax.imshow(m[np.ix_(keep, keep)], cmap="viridis", vmin=0, vmax=vmax)
        labels = [classes[c].replace("_", " ") for c in keep]
        ax.set_xticks(range(len(keep)))
        ax.set_xticklabels(labels, rotation=60, ha="right", fontsize=7)
        ax.set_yticks(range(len(keep)))
        ax.set_yticklabels(labels, fontsize=7)
        ax.set_title(name, fontsize=9)
    fig.colorbar(im, ax=axes, shrink=0.8, label="share of videos")
    fig.suptitle(
        f"{title}\n(share of test videos with both classes, heard or seen; diagonal: with the class)", fontsize=10
    )
    return fig


def tsne_figure(
    agg_audio: np.ndarray,
    agg_visual: np.ndarray,
    labels: np.ndarray,
    title: str,
    classes=CLASSES,
    top: int = 8,
    max_points: int = 1500,
    seed: int = 0,
):
    """t-SNE of label-aware aggregated audio and visual features, coloured by the video's label set."""
    from .tsne import tsne

    n = len(labels)
    idx = np.random.default_rng(seed).permutation(n)[:max_points] if n > max_points else np.arange(n)
    combos = ["+".join(classes[c].replace("_", " ") for c in np.flatnonzero(row)) or "(none)" for row in labels[idx]]
    common = [c for c, _ in Counter(combos).most_common(top)]
    colours = plt.get_cmap("tab10")
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.4), constrained_layout=True)
    for ax, feats, name in ((axes[0], agg_audio, "audio"), (axes[1], agg_visual, "visual")):
        y = tsne(feats[idx], seed=seed)
        other = np.array([c not in common for c in combos])
        ax.scatter(y[other, 0], y[other, 1], s=6, color="#cccccc", label="other label sets")
        for k, combo in enumerate(common):
            sel = np.array([c == combo for c in combos])
            ax.scatter(
                y[sel, 0], y[sel, 1], s=9, color=colours(k % 10), label=combo if len(combo) <= 40 else combo[:39] + "…"
            )
        ax.set_title(f"{name} features, aggregated with the labels' attention", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, markerscale=2)
    fig.suptitle(title, fontsize=10)
    return fig


def model_figures(predictions: str | Path, history: str | Path, out_dir: str | Path, n_videos: int = 3) -> list[Path]:
    """The four figures of one evaluated model from its ``predictions.h5`` and ``history.json``, saved as PNG."""
    figs = model_figure_set(predictions, history, n_videos)
    return [save(figs[name], Path(out_dir) / name) for name in FIGURES]


def model_figure_set(predictions: str | Path, history: str | Path, n_videos: int = 3) -> dict:
    """``{file name of :data:`FIGURES`: figure}`` of one evaluated model, with the classes, segment length and
    video lengths its ``predictions.h5`` records."""
    from ..evaluation.predictions import prediction_classes, read_predictions
    from ..fileio import read_json

    ids, _, d = read_predictions(predictions)
    classes, segment_seconds = prediction_classes(predictions)
    agg = (d["agg_audio"], d["agg_visual"]) if "agg_audio" in d else None
    hist = read_json(history)
    name = hist["summary"]["model"]
    # the busiest videos: most (class, modality) pairs in the truth, first by index on ties
    busy = (d["gt_audio"].any(2).sum(1) + d["gt_visual"].any(2).sum(1)).astype(int)
    pick = sorted(range(len(ids)), key=lambda i: (-busy[i], i))[:n_videos]
    videos = [_video(ids[i], d, i, int(d["lengths"][i])) for i in pick]
    title = f"{name}: truth (grey) and predictions, {len(videos)} test videos"
    together = f"{name}: which classes occur together in a video"
    timeline_png, curves_png, cooccurrence_png, tsne_png = FIGURES
    figs = {
        timeline_png: timelines(videos, title, classes, segment_seconds=segment_seconds),
        curves_png: training_curves(hist, f"{name}: training"),
        cooccurrence_png: cooccurrence(
            d["pred_audio"], d["pred_visual"], d["gt_audio"], d["gt_visual"], together, classes
        ),
    }
    if agg is not None and len(ids) >= 4:
        fig = tsne_figure(agg[0], agg[1], d["labels"], f"{name}: t-SNE of aggregated features, by label set", classes)
    else:
        fig, ax = plt.subplots(figsize=(5, 2))
        ax.axis("off")
        ax.text(0.5, 0.5, "t-SNE needs at least 4 evaluated videos with aggregated features", ha="center")
    figs[tsne_png] = fig
    return figs


def _video(title: str, d: dict[str, np.ndarray], i: int, n: int) -> dict:
    """``draw_timeline``'s arguments for video ``i`` of a predictions file's arrays ``d``, cut to its ``n`` segments."""
    return {
        "title": title,
        "pred_audio": d["pred_audio"][i, :, :n],
        "pred_visual": d["pred_visual"][i, :, :n],
        "prob_audio": d["frame_prob"][i, :n, 0].T,
        "prob_visual": d["frame_prob"][i, :n, 1].T,
        "gt_audio": d["gt_audio"][i, :, :n],
        "gt_visual": d["gt_visual"][i, :, :n],
    }
