"""VALOR's teachers: CLIP / CLAP pseudo labels from random-weight networks built here (nothing is
downloaded), local-folder loading (safetensors only, sha256 checked), the per-shard stage and its merge,
and a workflow run that trains and evaluates VALOR on them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from avvp_pipeline.data.index import Split, build_index, load_split, write_index
from avvp_pipeline.data.llp import CLASSES
from avvp_pipeline.data.pseudo_labels import (
    merge_pseudo_labels,
    read_all_pseudo_labels,
    write_pseudo_labels,
)
from avvp_pipeline.features.failures import read_failures
from avvp_pipeline.plan import PlanError, check_pseudo_labels
from avvp_pipeline.teachers.clap_teacher import segments
from avvp_pipeline.teachers.clip_teacher import frame_indices
from avvp_pipeline.teachers.loading import load_teacher, random_teacher
from avvp_pipeline.teachers.stage import Teachers, embeddings, teach_shard
from avvp_pipeline.teachers.vocabulary import CLAP_THRESHOLDS, CLIP_CAPTIONS, teacher_config, vocabulary

RNG = np.random.default_rng(0)
FRAMES = RNG.integers(0, 256, (10, 48, 64, 3), dtype=np.uint8)
WAVE = (0.1 * RNG.standard_normal(480000)).astype(np.float32)
WEAK = np.zeros(25, np.float32)
WEAK[[CLASSES.index("Dog"), CLASSES.index("Speech")]] = 1


@pytest.fixture(scope="module")
def teachers() -> Teachers:
    return Teachers({}, device="cpu")


def test_valor_sampling_of_frames_and_seconds():
    assert frame_indices(80).tolist() == [0, 9, 18, 26, 35, 44, 53, 61, 70, 79]
    segs = segments(np.arange(480000))
    assert len(segs) == 10 and all(s.shape == (48000,) for s in segs)
    assert [int(s[0]) for s in segs] == [48000 * k for k in range(10)]
    odd = segments(np.arange(480010))  # VALOR's rounding: starts round(linspace(0, n, 11)), n // 10 long
    assert [int(s[0]) for s in odd][:3] == [0, 48001, 96002] and odd[-1].shape == (48001,)


@pytest.mark.slow
def test_random_teachers_give_0_1_labels_masked_to_the_weak_label(teachers):
    audio, visual = teachers.labels(FRAMES, WAVE, True, WEAK)
    for x in (audio, visual):
        assert x.shape == (10, 25) and x.dtype == np.uint8 and set(np.unique(x)) <= {0, 1}
        assert not x[:, WEAK == 0].any()  # nothing outside the weak label
    no_audio, _ = teachers.labels(FRAMES, WAVE, False, WEAK)
    assert not no_audio.any()  # a clip without a soundtrack gets no audio labels


def test_thresholds_from_the_config_move_the_labels(teachers):
    dog = CLASSES.index("Dog")
    logits = teachers.clap.logits(WAVE)[:, dog].numpy()
    cut = float(np.median(logits))
    cfg = {"clap": {"thresholds": {"Dog": cut}}, "clip": {"thresholds": [-1e9] * 25}}
    t = Teachers(cfg, device="cpu")
    audio, visual = t.labels(FRAMES, WAVE, True, WEAK)
    assert audio[:, dog].tolist() == (logits > cut).astype(int).tolist()
    assert 0 < audio[:, dog].sum() < 10
    assert (visual == WEAK[None, :]).all()  # every weak class on in every second, no other
    assert t.clap.vocab.thresholds[0] == CLAP_THRESHOLDS[0]  # the others stay VALOR's
    assert vocabulary("clip").captions == CLIP_CAPTIONS
    with pytest.raises(ValueError, match="unknown classes"):
        vocabulary("clap", {"thresholds": {"Dgo": 1}})
    with pytest.raises(ValueError, match="one per class"):
        vocabulary("clip", {"captions": ["a photo"]})


def test_captions_from_the_config_change_the_scores(teachers):
    other = Teachers({"clip": {"captions": ["A photo of a dog."] * 25}}, device="cpu")
    same = other.clip.logits(FRAMES)
    assert torch.allclose(same[:, 0], same[:, 3])  # every class scored against the same caption
    assert not torch.allclose(teachers.clip.logits(FRAMES)[:, 0], teachers.clip.logits(FRAMES)[:, 3])


def test_embeddings_are_the_published_kinds(teachers):
    emb = embeddings(teachers, FRAMES, WAVE)
    clip_dim = teachers.clip.model.config.projection_dim
    assert emb["clip"].shape == (10, clip_dim)
    assert np.allclose(np.linalg.norm(emb["clip"], axis=1), 1, atol=1e-5)
    assert emb["clap"].shape == (64, teachers.clap.model.config.audio_config.hidden_size)


def test_the_teachers_logits_are_the_models_own(teachers):
    clip = teachers.clip
    tokens = clip.loaded.tokenizer(text=list(clip.vocab.captions), padding=True, return_tensors="pt")
    with torch.inference_mode():
        ref = clip.model(pixel_values=clip.pixels(FRAMES), **tokens).logits_per_image
    assert torch.allclose(ref, clip.logits(FRAMES), atol=1e-4)


def _saved_teacher(tmp_path: Path, kind: str) -> Path:
    loaded = random_teacher(kind, seed=0)
    folder = tmp_path / kind
    loaded.model.save_pretrained(folder)
    loaded.tokenizer.save_pretrained(folder)
    if kind == "clap":
        loaded.preprocess["feature_extractor"].save_pretrained(folder)
    return folder


def test_a_local_folder_loads_with_its_sha256_and_is_not_random(tmp_path):
    from avvp_pipeline.fileio import sha256_file

    folder = _saved_teacher(tmp_path, "clip")
    digest = sha256_file(folder / "model.safetensors")
    loaded = load_teacher("clip", str(folder), sha256=digest)
    assert loaded.provenance["random"] is False and loaded.provenance["weights_sha256"] == digest
    random = random_teacher("clip", seed=0)
    for (k, a), (_, b) in zip(sorted(loaded.model.state_dict().items()), sorted(random.model.state_dict().items())):
        assert torch.equal(a, b), k
    with pytest.raises(ValueError, match=r"model\.safetensors: sha256 .* does not match"):
        load_teacher("clip", str(folder), sha256="0" * 64)
    with pytest.raises(ValueError, match="model_type 'clip', expected 'clap'"):
        load_teacher("clap", str(folder))
    clap = _saved_teacher(tmp_path, "clap")
    (clap / "preprocessor_config.json").rename(tmp_path / "moved.json")
    with pytest.raises(FileNotFoundError, match=r"preprocessor_config\.json: not found"):
        load_teacher("clap", str(clap))
    (tmp_path / "moved.json").rename(clap / "preprocessor_config.json")
    t = Teachers({"clip": {"weights": str(folder)}, "clap": {"weights": str(clap)}}, device="cpu")
    assert t.provenance()["random"] is False and t.provenance()["clap"]["weights_path"].endswith("model.safetensors")


def test_pickled_weights_are_refused_naming_the_file(tmp_path):
    folder = tmp_path / "clip"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "clip"}))
    torch.save({"w": torch.zeros(1)}, folder / "pytorch_model.bin")
    with pytest.raises(ValueError, match=r"pytorch_model\.bin: pickled weights are not loaded"):
        load_teacher("clip", str(folder))
    with pytest.raises(PlanError, match=r"pytorch_model\.bin"):
        check_pseudo_labels({"models": ["valor"]}, {"source": "teachers", "clip": {"weights": str(folder)}})
    with pytest.raises(FileNotFoundError, match="nothing is downloaded"):
        load_teacher("clap", str(tmp_path / "missing"))
    check_pseudo_labels({"models": ["valor"]}, {"source": "teachers"})  # random teachers plan


def test_teacher_config_defaults_are_valors():
    cfg = teacher_config({})
    assert cfg["clip"]["weights"] == cfg["clap"]["weights"] == "random"
    assert cfg["clip"]["thresholds"][0] == 20.0 and cfg["clap"]["captions"][0] == "This is a sound of speech"


@pytest.mark.slow
def test_a_shard_labels_its_training_videos_and_lists_a_corrupt_one(tiny_set, tmp_path, teachers):
    videos, annotations, _ = tiny_set
    index = tmp_path / "index.h5"
    build_index(annotations, index)
    train = load_split(index, "train")
    bad_id = train.video_ids[0]
    bad = tmp_path / "bad" / f"{bad_id}.mp4"
    bad.parent.mkdir()
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42 truncated")
    paths = [bad] + [videos / f"{v}.mp4" for v in train.video_ids[1:]]
    val_clip = videos / f"{load_split(index, 'val').video_ids[0]}.mp4"  # not trained on: not labelled
    out, failures = tmp_path / "shard.h5", tmp_path / "failures.tsv"
    videos_given = [*map(str, paths), str(val_clip)]
    stats = teach_shard(videos_given, index, {}, out, failures, teachers=teachers, decode_workers=0, progress=False)
    assert stats == {"videos": len(train.video_ids), "labelled": len(train.video_ids) - 1, "failed": 1, "random": True}
    lines = read_failures(failures)
    assert len(lines) == 1 and lines[0][0] == bad_id and lines[0][1] == str(bad)
    ids, audio, visual, prov = read_all_pseudo_labels(out)
    assert ids == train.video_ids[1:]
    weak = {v: train.labels[i] for i, v in enumerate(train.video_ids)}
    for vid, a, v in zip(ids, audio, visual):
        assert not a[:, weak[vid] == 0].any() and not v[:, weak[vid] == 0].any()
    assert prov["random"] is True and prov["clip"]["weights_id"].startswith("random(seed=")
    assert prov["source"] == "teachers" and prov["clap"]["thresholds"] == list(map(float, CLAP_THRESHOLDS))


@pytest.mark.parametrize(
    ("classes", "lengths", "message"),
    [
        (("speech", "dog"), [10, 10], "the teachers label LLP's 25 classes \\(VALOR's captions\\); this index has 2"),
        (CLASSES, [4, 20], "the teachers label 10-s clips; this index has videos of 4 to 20 segments"),
    ],
)
def test_the_teachers_refuse_an_index_of_other_classes_or_lengths(tmp_path, teachers, classes, lengths, message):
    weak = np.eye(2, len(classes), dtype=np.uint8)
    write_index(
        tmp_path / "index.h5", [Split("train", ["a", "b"], ["a", "b"], weak, lengths=np.array(lengths))], classes
    )
    out = tmp_path / "shard.h5"
    with pytest.raises(ValueError, match=f"index.h5: {message}"):
        teach_shard([], tmp_path / "index.h5", {}, out, tmp_path / "f.tsv", teachers=teachers, progress=False)
    assert not out.exists()


def test_merge_joins_shards_and_refuses_other_settings(tmp_path):
    z = np.zeros((1, 10, 25), np.uint8)
    prov = {"source": "teachers", "random": True, "videos": 1, "n_failed": 0}
    write_pseudo_labels(tmp_path / "a.h5", ["aaaaaaaaaaa"], z, z + 1, prov)
    write_pseudo_labels(tmp_path / "b.h5", ["bbbbbbbbbbb"], z + 1, z, {**prov, "n_failed": 1})
    (tmp_path / "a.tsv").write_text("video_id\tpath\treason\n")
    (tmp_path / "b.tsv").write_text("video_id\tpath\treason\nccccccccccc\t/v/c.mp4\tcannot decode\n")
    shards, fails = [tmp_path / "a.h5", tmp_path / "b.h5"], [tmp_path / "a.tsv", tmp_path / "b.tsv"]
    stats = merge_pseudo_labels(shards, fails, tmp_path / "labels.h5", tmp_path / "failures.tsv")
    assert stats == {"videos": 2, "failed": 1}
    ids, audio, visual, merged = read_all_pseudo_labels(tmp_path / "labels.h5")
    assert (
        ids == ["aaaaaaaaaaa", "bbbbbbbbbbb"]
        and audio[:, 0, 0].tolist() == [0, 1]
        and visual[:, 0, 0].tolist() == [1, 0]
    )
    assert merged["random"] is True and merged["videos"] == 2 and merged["n_failed"] == 1
    assert read_failures(tmp_path / "failures.tsv") == [("ccccccccccc", "/v/c.mp4", "cannot decode")]
    write_pseudo_labels(tmp_path / "c.h5", ["ddddddddddd"], z, z, {**prov, "random": False})
    with pytest.raises(ValueError, match=r"c\.h5: made with other settings .*\(differs in random\)"):
        merge_pseudo_labels([tmp_path / "a.h5", tmp_path / "c.h5"], [], tmp_path / "x.h5", tmp_path / "x.tsv")


@pytest.fixture(scope="module")
def saved_teachers(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("teachers")
    return {kind: _saved_teacher(root, kind) for kind in ("clip", "clap")}


def _copy(saved: dict[str, Path], kind: str, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(saved[kind], tmp_path / kind))


def _rewrite_tensors(folder: Path, change) -> None:
    """``change(tensors)`` on the folder's weights, written back as a valid safetensors file."""
    from safetensors.torch import load_file, save_file

    tensors = load_file(folder / "model.safetensors")
    change(tensors)
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})


def _rewrite_json(path: Path, change) -> None:
    spec = json.loads(path.read_text())
    change(spec)
    path.write_text(json.dumps(spec))


def _set(name: str, value):
    return lambda t: t.update({name: value(t)})


def _header_too_large(folder: Path) -> None:
    path = folder / "model.safetensors"
    path.write_bytes((2**40).to_bytes(8, "little") + path.read_bytes()[8:])


def _nan_at(name: str, value: float):
    def change(tensors):
        tensors[name] = tensors[name].clone()
        tensors[name].view(-1)[3] = value

    return change


_WEIGHTS_DAMAGE = {
    "empty": (lambda d: (d / "model.safetensors").write_bytes(b""), r"model\.safetensors: 0 bytes, too short"),
    "truncated": (
        lambda d: (d / "model.safetensors").write_bytes((d / "model.safetensors").read_bytes()[:-1000]),
        r"model\.safetensors: truncated: tensor",
    ),
    "header too large": (_header_too_large, r"model\.safetensors: header of 1099511627776 bytes claimed"),
    "lacks a key": (
        lambda d: _rewrite_tensors(d, lambda t: t.pop("text_projection.weight")),
        r"model\.safetensors: no tensor text_projection\.weight \(1 of the clip architecture's weights missing",
    ),
    "another model's keys": (
        lambda d: _rewrite_tensors(d, _set("text_model.encoder.layers.2.mlp.fc1.bias", lambda t: torch.zeros(128))),
        r"model\.safetensors: tensor text_model\.encoder\.layers\.2\.mlp\.fc1\.bias is not part of the clip arch",
    ),
    "integer tensor": (
        lambda d: _rewrite_tensors(d, _set("visual_projection.weight", lambda t: t["visual_projection.weight"].int())),
        r"model\.safetensors: tensor visual_projection\.weight is I32, expected a float type",
    ),
    "NaN": (
        lambda d: _rewrite_tensors(d, _nan_at("text_model.final_layer_norm.weight", float("nan"))),
        r"model\.safetensors: tensor text_model\.final_layer_norm\.weight holds NaN or infinite values",
    ),
    "inf": (
        lambda d: _rewrite_tensors(d, _nan_at("visual_projection.weight", float("-inf"))),
        r"model\.safetensors: tensor visual_projection\.weight holds NaN or infinite values",
    ),
    "wrong shape": (
        lambda d: _rewrite_tensors(d, _set("visual_projection.weight", lambda t: torch.zeros(16, 64))),
        r"model\.safetensors: tensor visual_projection\.weight has shape \[16, 64\], config\.json gives \[32, 64\]",
    ),
    "absurd width": (
        lambda d: _rewrite_json(d / "config.json", lambda c: c["text_config"].update(hidden_size=10**12)),
        r"config\.json: text_config\.hidden_size = 1000000000000, more than the \d+ numbers",
    ),
    "absurd depth": (
        lambda d: _rewrite_json(d / "config.json", lambda c: c["vision_config"].update(num_hidden_layers=200)),
        r"config\.json: 202 layers in all, more than the 78 tensors",
    ),
    "heads that do not divide the width": (
        lambda d: _rewrite_json(d / "config.json", lambda c: c["text_config"].update(num_attention_heads=3)),
        r"config\.json: no clip model can be built from it \(.*not a multiple of the number of attention heads",
    ),
    "another width": (
        lambda d: _rewrite_json(d / "config.json", lambda c: c.update(projection_dim=48)),
        r"model\.safetensors: tensor visual_projection\.weight has shape \[32, 64\], config\.json gives \[48, 64\]",
    ),
}


@pytest.mark.parametrize("damage", list(_WEIGHTS_DAMAGE))
def test_damaged_or_foreign_weights_are_refused_in_one_line(saved_teachers, tmp_path, damage):
    folder = _copy(saved_teachers, "clip", tmp_path)
    harm, message = _WEIGHTS_DAMAGE[damage]
    harm(folder)
    with pytest.raises(ValueError, match=re.escape(str(folder)) + "/" + message) as caught:
        load_teacher("clip", str(folder))
    assert "\n" not in str(caught.value)


def test_clap_weights_need_every_float_tensor_but_not_the_buffers_the_model_computes(saved_teachers, tmp_path):
    folder = _copy(saved_teachers, "clap", tmp_path)
    computed = ["text_model.embeddings.position_ids", "audio_model.audio_encoder.batch_norm.num_batches_tracked"]
    _rewrite_tensors(folder, lambda t: [t.pop(k) for k in computed])
    loaded = load_teacher("clap", str(folder))
    expected = random_teacher("clap").model.state_dict()
    assert all(torch.equal(loaded.model.state_dict()[k], expected[k]) for k in computed)
    _rewrite_tensors(folder, lambda t: t.pop("audio_model.audio_encoder.batch_norm.running_var"))
    with pytest.raises(ValueError, match=r"no tensor audio_model\.audio_encoder\.batch_norm\.running_var \(1 of"):
        load_teacher("clap", str(folder))


def test_planning_reads_the_weights_header(saved_teachers, tmp_path):
    folder = _copy(saved_teachers, "clap", tmp_path)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    cfg = {"source": "teachers", "clap": {"weights": str(folder)}}
    with pytest.raises(PlanError, match=re.escape(f"pseudo_labels: {weights}: truncated")):
        check_pseudo_labels({"models": ["valor"]}, cfg)


_FILE_DAMAGE = {
    "tokenizer bad JSON": ("tokenizer.json", None, r"tokenizer\.json: cannot be read as JSON \(Expecting"),
    "tokenizer without model": ("tokenizer.json", "model", r"tokenizer\.json: no 'model' key"),
    "tokenizer without pre_tokenizer": ("tokenizer.json", "pre_tokenizer", r"tokenizer\.json: no 'pre_tokenizer' key"),
    "preprocessor bad JSON": ("preprocessor_config.json", None, r"preprocessor_config\.json: cannot be read as JSON"),
    "preprocessor without rate": (
        "preprocessor_config.json",
        "sampling_rate",
        r"preprocessor_config\.json: no 'sampling_rate' key",
    ),
    "preprocessor without frequency_min": (
        "preprocessor_config.json",
        "frequency_min",
        r"preprocessor_config\.json: no 'frequency_min' key",
    ),
}


@pytest.mark.parametrize("damage", list(_FILE_DAMAGE))
def test_broken_tokenizer_or_preprocessor_file_is_named_with_its_key(saved_teachers, tmp_path, damage):
    name, key, message = _FILE_DAMAGE[damage]
    folder = _copy(saved_teachers, "clap", tmp_path)
    if key is None:
        (folder / name).write_text('{"model": ')
    else:
        _rewrite_json(folder / name, lambda spec: spec.pop(key))
    with pytest.raises(ValueError, match=re.escape(str(folder)) + "/" + message) as caught:
        load_teacher("clap", str(folder))
    assert "\n" not in str(caught.value)
    cfg = {"source": "teachers", "clap": {"weights": str(folder)}}
    with pytest.raises(PlanError, match=message):  # planning reads these files too
        check_pseudo_labels({"models": ["valor"]}, cfg)


def test_a_clip_preprocessor_file_needs_mean_and_std(saved_teachers, tmp_path):
    folder = _copy(saved_teachers, "clip", tmp_path)
    (folder / "preprocessor_config.json").write_text(json.dumps({"image_mean": [0.5, 0.5, 0.5]}))
    with pytest.raises(ValueError, match=r"preprocessor_config\.json: no 'image_std' key"):
        load_teacher("clip", str(folder))
    (folder / "preprocessor_config.json").write_text(json.dumps({"image_mean": [0.5] * 3, "image_std": [0.2] * 3}))
    assert load_teacher("clip", str(folder)).preprocess["image_std"] == (0.2, 0.2, 0.2)


def test_a_tokenizer_the_library_rejects_is_one_line_naming_the_folder(saved_teachers, tmp_path):
    folder = _copy(saved_teachers, "clip", tmp_path)
    _rewrite_json(folder / "tokenizer.json", lambda spec: spec["model"].update(vocab={"a": "b"}))
    with pytest.raises(ValueError, match=re.escape(f"{folder}: the tokenizer files cannot be loaded")) as caught:
        load_teacher("clip", str(folder))
    assert "\n" not in str(caught.value)
