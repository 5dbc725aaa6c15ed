"""Planning the data set ``dataset.name`` chooses: what only LLP's files have is refused for lfav and
custom, the demo's layout follows the kind, and the generator's custom files read strictly."""

from __future__ import annotations

import copy

import pytest

from avvp_pipeline.data.datasets.custom import read_custom
from avvp_pipeline.data.synth.annotations import write_annotations
from avvp_pipeline.data.synth.clip_plan import plan
from avvp_pipeline.data.synth.spec import SynthSpec
from avvp_pipeline.dataset_plan import dataset_kind, synth_config
from avvp_pipeline.plan import PlanError

BASE = {"dataset": {"name": "custom", "annotations_dir": "a", "videos_dir": "v"}, "train": {"models": ["han"]}}


def _with(**changes) -> dict:
    cfg = copy.deepcopy(BASE)
    for key, value in changes.items():
        section, name = key.split("__")
        cfg.setdefault(section, {})[name] = value
    return cfg


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"features__source": "released"}, "dataset.name is custom but features.source is released"),
        ({"dataset__download": {"enabled": True}}, "dataset.name is custom but dataset.download.enabled is true"),
        ({"refine__source": "file"}, "dataset.name is custom but refine.source is file"),
        ({"train__models": ["han", "valor"]}, "dataset.name is custom but train.models has valor"),
        ({"pseudo_labels__source": "teachers"}, "dataset.name is custom but pseudo_labels.source is teachers"),
        ({"pseudo_labels__source": "released"}, "dataset.name is custom but pseudo_labels.source is released"),
    ],
)
def test_what_only_llp_has_is_refused_for_another_kind(changes, message):
    assert dataset_kind(BASE) == "custom"
    with pytest.raises(PlanError, match=message):
        dataset_kind(_with(**changes))
    llp = _with(**changes)
    llp["dataset"]["name"] = "llp"
    assert dataset_kind(llp) == "llp"


def test_lfav_is_not_a_demo():
    cfg = {"dataset": {"name": "lfav", "synth": {"enabled": True}}, "train": {"models": ["han"]}}
    with pytest.raises(PlanError, match="dataset.name is lfav but the demo"):
        dataset_kind(cfg)


def test_the_demo_layout_follows_the_kind():
    synth = {"classes": ["speech", "dog"], "duration": [4, 20], "max_event": 4}
    assert synth_config(synth, "custom") == {**synth, "layout": "custom", "vocabulary": ["speech", "dog"]}
    with pytest.raises(ValueError, match="not LLP classes: speech, dog"):
        synth_config(synth, "llp")
    with pytest.raises(ValueError, match="10-s clips only, not duration \\[4, 20\\]"):
        synth_config({"duration": [4, 20], "max_event": 4}, "llp")
    assert synth_config({"seed": 3}, "llp") == {"seed": 3}


def test_the_generator_writes_a_custom_set_that_reads_strictly(tmp_path):
    classes = ("speech", "dog", "doorbell", "car")
    spec = SynthSpec(seed=2, n_train=6, n_val=3, n_test=3, classes=classes, vocabulary=classes, duration=(4, 20))
    clips = plan(spec)
    write_annotations(spec, clips, tmp_path, "custom")
    lengths = {c.video_id: c.duration for c in clips}
    dataset = read_custom(tmp_path, lengths=lengths)
    assert dataset.classes == classes and dataset.warnings == []
    val = dataset.splits["val"]
    assert val.video_ids == [c.video_id for c in clips if c.split == "val"]
    first = next(c for c in clips if c.split == "val")
    assert [(classes[e.cls], e.onset, e.offset) for e in val.dense["audio"][0]] == list(first.audio_events)
    assert val.lengths == [c.duration for c in clips if c.split == "val"] and len(set(lengths.values())) > 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "classes.txt",
        "dense_audio.tsv",
        "dense_visual.tsv",
        "synth_spec.json",
        "test.tsv",
        "train.tsv",
        "val.tsv",
    ]
