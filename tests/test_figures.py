"""Figures: written, readable sizes, not blank; t-SNE keeps clusters apart."""

import json

import matplotlib.image as mpimg
import numpy as np
import pytest

from avvp_pipeline.evaluation.predictions import write_predictions
from avvp_pipeline.reporting import FIGURES
from avvp_pipeline.reporting.figures import _runs, model_figures
from avvp_pipeline.reporting.tsne import tsne


def _non_trivial_png(path, min_w=400, min_h=200):
    img = mpimg.imread(path)
    h, w = img.shape[:2]
    assert w >= min_w and h >= min_h, (path, img.shape)
    assert img[..., :3].std() > 0.05, f"{path} looks blank"  # something drawn on the white page
    return img


def test_runs_of_ones():
    assert _runs(np.array([0, 1, 1, 0, 1, 0, 0, 1, 1, 1])) == [(1, 3), (4, 5), (7, 10)]
    assert _runs(np.zeros(10)) == []


def test_tsne_keeps_separated_clusters_apart():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(m, 1.0, (40, 20)) for m in (0.0, 8.0, -8.0)])
    y = tsne(x, iterations=400)
    labels = np.repeat([0, 1, 2], 40)
    centres = [y[labels == k].mean(0) for k in range(3)]
    spread = max(np.linalg.norm(y[labels == k] - centres[k], axis=1).mean() for k in range(3))
    gap = min(np.linalg.norm(centres[a] - centres[b]) for a in range(3) for b in range(a + 1, 3))
    assert gap > 3 * spread
    assert np.array_equal(y, tsne(x, iterations=400))  # deterministic
    with pytest.raises(ValueError, match="at least 4"):
        tsne(x[:3])


@pytest.mark.slow
def test_model_figures_from_predictions_and_history(tmp_path):
    rng = np.random.default_rng(0)
    n = 12
    gt_a = (rng.random((n, 25, 10)) < 0.05).astype(np.uint8)
    gt_v = (rng.random((n, 25, 10)) < 0.05).astype(np.uint8)
    gt_a[0, 2, 3:7] = 1  # the busiest video
    gt_v[0, 2, 1:9] = gt_v[0, 5, :] = 1
    frame = rng.random((n, 10, 2, 25)).astype(np.float32)
    ids = [f"vid{i:02d}" for i in range(n)]
    write_predictions(
        tmp_path / "p.h5",
        ids,
        [f"{v}.mp4" for v in ids],
        {
            "frame_prob": frame,
            "pred_audio": (frame[:, :, 0] > 0.8).transpose(0, 2, 1).astype(np.uint8),
            "pred_visual": (frame[:, :, 1] > 0.8).transpose(0, 2, 1).astype(np.uint8),
            "gt_audio": gt_a,
            "gt_visual": gt_v,
            "labels": (gt_a | gt_v).max(2),
            "agg_audio": rng.normal(size=(n, 16)).astype(np.float32),
            "agg_visual": rng.normal(size=(n, 16)).astype(np.float32),
        },
    )
    epochs = [{"epoch": e, "loss": 1.0 / e, "val_seg_type": 40 + e} for e in range(1, 6)]
    (tmp_path / "h.json").write_text(
        json.dumps(
            {
                "summary": {"model": "han", "selected_epoch": 5, "select_on": "val", "select_metric": "seg_type"},
                "epochs": epochs,
            }
        )
    )
    paths = model_figures(tmp_path / "p.h5", tmp_path / "h.json", tmp_path / "fig")
    assert [p.name for p in paths] == list(FIGURES)
    for p in paths:
        _non_trivial_png(p)
    assert not list((tmp_path / "fig").glob(".*"))  # no temporaries left
