"""LFAV from its released features through the whole workflow: a folder in the release's layout (its
annotation files and column names, one (seconds, width) .npy per video and kind under the folder names
the official script reads; videos of different lengths) imported, trained on with LFAV's recipe,
evaluated with LFAV's protocol and reported."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from factories import write_lfav_release
from snakerun import REPO, planned_rules, snakemake, write_config

from avvp_pipeline.data.datasets.lfav import CLASSES
from avvp_pipeline.evaluation.lfav_metrics import LFAV_KEYS
from avvp_pipeline.features import store

WEAK, DENSE = "filename\tevent_labels\n", "filename\tonset\toffset\tevent_labels\n"
SPLITS = {
    "train": {f"lfavtrain{i:02d}": 12 + 7 * i for i in range(6)},
    "val": {f"lfavvalid{i:02d}": 24 + 5 * i for i in range(3)},
    "test": {f"lfavtests{i:02d}": 20 + 9 * i for i in range(3)},
}


def _events(split: dict[str, int]) -> dict[str, list[tuple[int, int, str]]]:
    """Every class heard and seen once over the split's videos (inclusive offsets, as LFAV writes them)."""
    vids = list(split)
    out: dict[str, list] = {v: [] for v in vids}
    for c, name in enumerate(CLASSES):
        vid = vids[c % len(vids)]
        onset = (2 * (c // len(vids))) % (split[vid] - 2)
        out[vid].append((onset, onset + 1, name))
    return out


def write_lfav_annotations(root: Path) -> None:
    """LFAV_dataset/ with the release's file names: weak files for every split, dense ones for val and test."""
    for split, videos in SPLITS.items():
        (root / split).mkdir(parents=True)
        events = _events(videos)
        weak = WEAK + "".join(f"{v}\t{','.join(sorted({e[2] for e in events[v]}))}\n" for v in videos)
        first = "weakly" if split == "train" else "weak_av"
        names = (first, "audio_weakly", "visual_weakly")
        for name in names:
            (root / split / f"{split}_{name}.csv").write_text(weak)
        if split != "train":
            dense = DENSE + "".join(f"{v}\t{on}\t{off}\t{c}\n" for v in videos for on, off, c in events[v])
            for modality in ("audio", "visual"):
                (root / split / f"{split}_{modality}.csv").write_text(dense)


@pytest.mark.slow
def test_lfav_released_imports_trains_evaluates_and_reports(tmp_path):
    annotations = tmp_path / "LFAV_dataset"
    write_lfav_annotations(annotations)
    lengths = {v: n for videos in SPLITS.values() for v, n in videos.items()}
    write_lfav_release(tmp_path / "feats", lengths)
    cfg = yaml.safe_load((REPO / "workflow/configs/lfav-released.yaml").read_text())
    cfg["features"]["shard_size"] = 8
    cfg["train"]["per_model"] = {"han_lfav": {"epochs": 2, "batch_size": 4}}
    wd = write_config(tmp_path / "wd", cfg)
    config = ["--config", f"annotations_dir={annotations}", f"released_dir={tmp_path / 'feats'}"]
    t0 = time.perf_counter()
    snakemake(wd, *config)
    print(f"lfav import -> train -> evaluate -> report: {time.perf_counter() - t0:.1f} s")
    assert planned_rules(snakemake(wd, "-n", *config)) == set()
    shard = store.read_full_shard(wd / "results/features/resnet18/shard-0000.h5")
    assert dict(zip(shard.video_ids, shard.rows.tolist())) == {v: lengths[v] for v in shard.video_ids}
    metrics = json.loads((wd / "results/runs/han_lfav/metrics.json").read_text())
    assert metrics["scorer"] == "lfav" and metrics["gate"] == "modality"
    assert tuple(metrics["f_scores"]) == LFAV_KEYS and metrics["n_videos"] == 3
    assert not np.isnan(metrics["f_scores"]["selection"])  # every class has true seconds in the test split
    history = json.loads((wd / "results/runs/han_lfav/history.json").read_text())
    assert history["summary"]["select_metric"] == "selection"
    assert "han_lfav" in (wd / "results/reports/results.md").read_text()
