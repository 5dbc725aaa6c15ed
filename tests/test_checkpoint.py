"""model.pt, checkpoint.pt and weight files: only tensors and plain data are ever loaded; bad files give one line."""

import errno
import json
import logging
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from factories import random_feature_set

from avvp_pipeline import __version__
from avvp_pipeline.cli import main
from avvp_pipeline.data.feature_sets import FeatureSet
from avvp_pipeline.features import store, vggish, visual
from avvp_pipeline.features.weights import resolve
from avvp_pipeline.models.checkpoint import load_model, load_resume_checkpoint
from avvp_pipeline.provenance import provenance
from avvp_pipeline.torch_files import CheckpointError
from avvp_pipeline.training.config import RunOptions, TrainConfig
from avvp_pipeline.training.trainer import train

AVVP = [sys.executable, "-m", "avvp_pipeline.cli"]
COMMON = {"weights": "random", "weights_dir": None, "seed": 0, "precision": "bf16", "batch_videos": 4, "version": 1}
CONFIGS = {
    "resnet152": {**COMMON, "fps": 8, "num_frames": 80, "resnet_resize": 32, "resnet_crop": 32, "r2plus1d_size": 16},
    "r2plus1d_18": {**COMMON, "fps": 8, "num_frames": 80, "resnet_resize": 32, "resnet_crop": 32, "r2plus1d_size": 16},
    "vggish": {**COMMON, "sample_rate": 16000, "example_hop": 1.0},
}


class Payload:
    """Unpickling this runs a shell command (the attack a crafted model.pt carries)."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _feature_set(n: int = 8) -> FeatureSet:
    return random_feature_set(n)


def _provenance() -> dict:
    out = {}
    for name, cfg in CONFIGS.items():
        w = resolve(name, "random", seed=0)
        out[name] = {
            "weights_id": w.weights_id,
            "weights_sha256": str(w.sha256),
            "config_hash": store.config_hash(cfg),
            "avvp_pipeline_version": __version__,
        }
    return out


def _train(out: Path, epochs: int = 1) -> dict:
    return train(
        "han",
        _feature_set(),
        _feature_set(),
        TrainConfig(epochs=epochs, batch_size=4),
        out,
        _provenance(),
        progress=False,
        feature_configs=CONFIGS,
    )


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A HAN trained one epoch on random features (model.pt), plus the checkpoint.pt of a run stopped after epoch 1."""
    import avvp_pipeline.training.trainer as T

    out = tmp_path_factory.mktemp("run")
    _train(out)
    orig = T.write_resume

    def stop_after_checkpoint(path, **state):
        orig(path, **state)
        raise KeyboardInterrupt

    T.write_resume = stop_after_checkpoint
    try:
        with pytest.raises(KeyboardInterrupt):
            _train(out / "killed", epochs=2)
    finally:
        T.write_resume = orig
    return out


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "code-ran"


@pytest.fixture
def crafted(tmp_path, marker, run_dir) -> Path:
    """A complete, working model.pt with one extra entry whose unpickling would create ``marker``."""
    path = tmp_path / "crafted.pt"
    ckpt = torch.load(run_dir / "model.pt", map_location="cpu", weights_only=True)
    torch.save({**ckpt, "payload": Payload(marker)}, path)
    return path


def _one_error(caplog, path) -> str:
    """The single ERROR line the CLI logged; it names ``path`` and carries no traceback."""
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    msg = errors[0].getMessage()
    assert str(path) in msg and "\n" not in msg and errors[0].exc_info is None
    assert "Traceback" not in caplog.text and "weights_only" not in msg
    return msg


# --- crafted pickles -------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_crafted_model_is_refused_by_load_model(crafted, marker):
    with pytest.raises(CheckpointError) as exc:
        load_model(crafted)
    msg = str(exc.value)
    assert str(crafted) in msg and "not a model.pt written by avvp-pipeline" in msg
    assert "objects other than tensors and plain data" in msg and "weights_only" not in msg
    assert not marker.exists()


@pytest.mark.slow
def test_crafted_model_is_refused_by_parse_and_provenance(tmp_path, crafted, marker):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not decoded: the model is refused first")
    for args in (
        ["parse", str(clip), "--model", str(crafted), "--out", str(tmp_path / "out"), "--device", "cpu"],
        ["provenance", str(crafted)],
    ):
        r = subprocess.run(AVVP + args, capture_output=True, text=True)
        errors = [line for line in r.stderr.splitlines() if " ERROR " in line]
        assert r.returncode == 1 and len(errors) == 1 and str(crafted) in errors[0], r.stderr
        assert "Traceback" not in r.stderr and "weights_only" not in r.stderr
        assert "objects other than tensors and plain data" in errors[0]
    assert not marker.exists()


# --- what the pipeline writes loads with weights_only=True --------------------------------------------------------


def test_model_and_checkpoint_load_with_weights_only(run_dir):
    ckpt = torch.load(run_dir / "model.pt", map_location="cpu", weights_only=True)
    assert ckpt["model_name"] == "han" and ckpt["feature_configs"] == CONFIGS
    resume = torch.load(run_dir / "killed" / "checkpoint.pt", map_location="cpu", weights_only=True)
    assert resume["epoch"] == 1 and resume["optimizer"]["state"] and resume["history"]
    model, same = load_model(run_dir / "model.pt")
    assert not model.training and same["summary"]["selected_epoch"] == 1
    assert load_resume_checkpoint(run_dir / "killed" / "checkpoint.pt")["best_epoch"] == 1


def test_resume_state_is_written_and_read_back_by_the_checkpoint_module(tmp_path, caplog):
    """models/checkpoint.py owns checkpoint.pt: what write_resume writes, restore_resume puts back in place."""
    from avvp_pipeline.models.checkpoint import read_resume, restore_resume, resume_path, write_resume

    def objects(seed):
        torch.manual_seed(seed)
        net = torch.nn.Linear(3, 2)
        opt = torch.optim.Adam(net.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        return net, opt, sched, torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed + 1)

    net, opt, sched, shuffle, partners = objects(0)
    net(torch.ones(1, 3)).sum().backward()
    opt.step()
    sched.step()
    path = resume_path(tmp_path)
    best = {k: v.clone() for k, v in net.state_dict().items()}
    state = {"history": [{"epoch": 1}], "best": 0.5, "best_state": best, "best_epoch": 1}
    write_resume(
        path,
        run_hash="abc",
        epoch=1,
        model=net,
        optimizer=opt,
        scheduler=sched,
        shuffle=shuffle,
        partner_rng=partners,
        **state,
    )
    draws = (torch.rand(2), torch.rand(2, generator=shuffle), torch.rand(2, generator=partners))

    assert path == tmp_path / "checkpoint.pt" and read_resume(path, "other options") is None
    net2, opt2, sched2, shuffle2, partners2 = objects(1)
    resumed = restore_resume(read_resume(path, "abc"), net2, opt2, sched2, shuffle2, partners2)
    assert (resumed.epoch, resumed.history, resumed.best, resumed.best_epoch) == (1, [{"epoch": 1}], 0.5, 1)
    assert all(torch.equal(net2.state_dict()[k], v) for k, v in net.state_dict().items())
    assert opt2.state_dict()["state"][0]["step"] == 1 and sched2.get_last_lr() == sched.get_last_lr()
    again = (torch.rand(2), torch.rand(2, generator=shuffle2), torch.rand(2, generator=partners2))
    assert all(torch.equal(a, b) for a, b in zip(draws, again))

    path.write_bytes(path.read_bytes()[:100])
    with caplog.at_level(logging.WARNING):
        assert read_resume(path, "abc") is None
    assert f"ignoring {path}, training from scratch" in caplog.text


def test_numpy_scores_are_saved_as_plain_numbers(tmp_path, monkeypatch):
    import avvp_pipeline.training.trainer as T

    monkeypatch.setattr(T, "evaluate_probs", lambda *a, **k: {"seg_type": np.float64(42.0), "ev_type": np.float32(1)})
    _train(tmp_path)
    ckpt = torch.load(tmp_path / "model.pt", map_location="cpu", weights_only=True)
    assert type(ckpt["summary"]["best_score"]) is float and ckpt["summary"]["best_score"] == 42.0


# --- damaged or foreign model files ------------------------------------------------------------------------------


def _bad_file(kind: str, run_dir: Path, path: Path) -> str:
    """Write one kind of bad model.pt to ``path``; return a phrase its error must contain."""
    good = (run_dir / "model.pt").read_bytes()
    if kind == "truncated":
        path.write_bytes(good[: len(good) // 2])
        return "corrupt or truncated"
    if kind == "empty":
        path.write_bytes(b"")
        return "empty"
    if kind == "random bytes":
        data = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
        path.write_bytes(b"\x13" + data)  # neither a zip archive nor a pickle
        return "not a torch file"
    if kind == "torchscript":
        with warnings.catch_warnings():  # torch.jit.script is deprecated; such files are still around
            warnings.simplefilter("ignore")
            torch.jit.script(torch.nn.Linear(2, 2)).save(str(path))
        return "a TorchScript archive, not a model.pt written by avvp-pipeline"
    ckpt = torch.load(run_dir / "model.pt", map_location="cpu", weights_only=True)
    if kind == "wrong shape":
        ckpt["state_dict"]["mmil.fc_prob.weight"] = torch.zeros(3, 7)
        torch.save(ckpt, path)
        return "do not fit model 'han' (wrong shapes: mmil.fc_prob.weight 3x7 (model 25x512))"
    if kind == "missing weight":
        del ckpt["state_dict"]["mmil.fc_prob.bias"]
        torch.save(ckpt, path)
        return "missing keys: mmil.fc_prob.bias"
    if kind == "checkpoint.pt":
        path.write_bytes((run_dir / "killed" / "checkpoint.pt").read_bytes())
        return "training checkpoint (resume state), not a finished model; use results/runs/NAME/model.pt"
    if kind == "unknown model":
        torch.save({**ckpt, "model_name": "nope"}, path)
        return "unknown model 'nope'"
    if kind == "missing key":
        del ckpt["train_config"]
        torch.save(ckpt, path)
        return "missing 'train_config'"
    if kind == "wrong type":
        torch.save({**ckpt, "train_config": [1, 2]}, path)
        return "'train_config' is a list, expected dict"
    raise AssertionError(kind)


BAD = [
    "truncated",
    "empty",
    "random bytes",
    "torchscript",
    "wrong shape",
    "missing weight",
    "checkpoint.pt",
    "unknown model",
    "missing key",
    "wrong type",
]


@pytest.mark.parametrize("kind", BAD)
def test_bad_model_file_gives_one_clear_error(tmp_path, run_dir, kind):
    path = tmp_path / "model.pt"
    phrase = _bad_file(kind, run_dir, path)
    with pytest.raises(CheckpointError) as exc:
        load_model(path)
    msg = str(exc.value)
    assert str(path) in msg and phrase in msg and "\n" not in msg, msg


@pytest.mark.parametrize("kind", ["truncated", "random bytes", "checkpoint.pt", "wrong shape", "unknown model"])
def test_bad_model_file_through_the_cli(tmp_path, run_dir, kind, caplog):
    path = tmp_path / "model.pt"
    phrase = _bad_file(kind, run_dir, path)
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    with caplog.at_level(logging.INFO):
        assert main(["parse", str(clip), "--model", str(path), "--out", str(tmp_path / "out"), "--device", "cpu"]) == 1
    assert phrase in _one_error(caplog, path)


@pytest.mark.parametrize("kind", ["truncated", "empty", "random bytes", "wrong type"])
def test_provenance_of_bad_files(tmp_path, run_dir, kind, caplog):
    path = tmp_path / "model.pt"
    phrase = _bad_file(kind, run_dir, path)
    with pytest.raises(CheckpointError, match="."):
        provenance(path)
    caplog.clear()
    assert main(["provenance", str(path)]) == 1
    assert phrase in _one_error(caplog, path)


def test_provenance_tells_model_checkpoint_and_bare_weights_apart(tmp_path, run_dir):
    assert provenance(run_dir / "killed" / "checkpoint.pt")["kind"] == "training checkpoint (resume state)"
    assert provenance(run_dir / "model.pt")["kind"] == "trained model"
    torch.save({"w": torch.zeros(2, 3), "b": torch.zeros(2)}, tmp_path / "resnet152.pth")
    assert provenance(tmp_path / "resnet152.pth") == {
        "file": str(tmp_path / "resnet152.pth"),
        "kind": "weights (state dict)",
        "tensors": 2,
        "values": 8,
    }


# --- the resume checkpoint is our scratch file: a bad one is ignored ------------------------------------------------


@pytest.mark.parametrize("kind", ["crafted", "corrupt", "not a checkpoint"])
def test_bad_resume_checkpoint_is_ignored_with_a_warning(tmp_path, marker, kind, caplog):
    ckpt = tmp_path / "checkpoint.pt"
    if kind == "crafted":
        torch.save({"run_hash": "x", "epoch": 1, "payload": Payload(marker)}, ckpt)
    elif kind == "corrupt":
        ckpt.write_bytes(b"PK\x03\x04 truncated")
    else:
        torch.save({"run_hash": "x", "epoch": "one", "optimizer": {}}, ckpt)
    with caplog.at_level(logging.WARNING):
        summary = _train(tmp_path)
    assert summary["selected_epoch"] == 1 and (tmp_path / "model.pt").is_file() and not ckpt.exists()
    notes = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and str(ckpt) in r.getMessage()]
    assert len(notes) == 1 and "from scratch" in notes[0]
    assert not marker.exists()


def test_a_write_failure_while_saving_a_torch_file_is_the_os_error_naming_it(tmp_path):
    """torch.save reports a failed write (a full disk) as a RuntimeError about a stream position; the save
    raises the write's OSError naming the file (the CLI's "disk full writing FILE" line) and leaves nothing.
    A file size limit (SIGXFSZ ignored) makes the write fail for real, as a full disk would."""
    out = tmp_path / "run" / "model.pt"
    code = (
        "import resource, signal, sys, torch\n"
        "from avvp_pipeline.torch_files import save_torch_file\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))\n"
        "try:\n"
        "    save_torch_file({'w': torch.zeros(100_000)}, sys.argv[1])\n"
        "except OSError as exc:\n"
        "    print(exc.errno, exc.filename)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [str(errno.EFBIG), str(out)]
    assert list(out.parent.iterdir()) == []  # neither the model nor its temporary file


# --- extractor weight files --------------------------------------------------------------------------------------


def test_corrupt_weight_file_gives_one_line(tmp_path, marker):
    (tmp_path / "resnet152.pth").write_bytes(b"\x13 not a weight file at all")
    with pytest.raises(ValueError) as exc:
        resolve("resnet152", "pretrained", weights_dir=tmp_path)
    msg = str(exc.value)
    assert str(tmp_path / "resnet152.pth") in msg and "not a torch file" in msg and "\n" not in msg
    torch.save({"conv1.weight": Payload(marker)}, tmp_path / "resnet152.pth")
    with pytest.raises(ValueError, match="objects other than tensors and plain data") as exc:
        resolve("resnet152", "pretrained", weights_dir=tmp_path)
    assert "weights_only" not in str(exc.value) and not marker.exists()


def test_weights_of_another_architecture_give_one_line(tmp_path):
    import torchvision

    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "resnet152.pth")
    w = resolve("resnet152", "pretrained", weights_dir=tmp_path)
    with pytest.raises(ValueError) as exc:
        visual.build_resnet152(w)
    msg = str(exc.value)
    assert str(tmp_path / "resnet152.pth") in msg and "resnet152" in msg and "\n" not in msg
    assert "missing keys: layer1.0.conv3.weight" in msg
    assert "wrong shapes: layer1.0.conv1.weight 64x64x3x3 (model 64x64x1x1)" in msg


def test_wrong_vggish_weights_through_the_cli(tmp_path, caplog):
    import torchvision

    torch.save(torchvision.models.resnet18(weights=None).state_dict(), tmp_path / "vggish.pth")
    cfg = {"weights": "pretrained", "weights_dir": str(tmp_path), "device": "cpu"}
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    assert (
        main(
            [
                "extract",
                "audio",
                "--videos",
                str(clip),
                "--config",
                json.dumps(cfg),
                "--out-vggish",
                str(tmp_path / "a.h5"),
                "--failures",
                str(tmp_path / "f.tsv"),
            ]
        )
        == 1
    )
    msg = _one_error(caplog, tmp_path / "vggish.pth")
    assert "do not fit the vggish extractor" in msg and "missing keys" in msg


def test_pca_file_without_its_tensors_gives_one_line(tmp_path):
    torch.save({"x": torch.zeros(1)}, tmp_path / "vggish_pca.pth")
    w = resolve("vggish_pca", "pretrained", weights_dir=tmp_path)
    with pytest.raises(ValueError, match="no tensor pca_eigen_vectors, pca_means"):
        vggish.build_postprocess("pca", w)


def test_missing_weights_point_to_the_docs_section(tmp_path):
    with pytest.raises(FileNotFoundError) as exc:
        resolve("vggish", "pretrained", weights_dir=tmp_path)
    assert "docs/reproduction.md, 'Running on the real LLP data', step 3" in str(exc.value)
    page = (Path(__file__).resolve().parents[1] / "docs/reproduction.md").read_text()
    assert "## Running on the real LLP data" in page and "3. Weights" in page


# --- training options --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "option, value, allowed",
    [
        ("epochs", 0, ">= 1"),
        ("epochs", 2.5, "integer"),
        ("epochs", True, "integer"),
        ("epochs", "3", "integer"),
        ("batch_size", -1, ">= 1"),
        ("lr", "abc", "number"),
        ("lr", 0, "> 0"),
        ("lr", float("nan"), "finite"),
        ("step_size", 0, ">= 1"),
        ("gamma", 0.0, "> 0"),
        ("dropout", 1.0, "in [0, 1)"),
        ("dropout", -0.1, "in [0, 1)"),
        ("audio_smoothing", 0.0, "in (0, 1]"),
        ("visual_smoothing", 1.5, "in (0, 1]"),
        ("num_layers", 0, ">= 1"),
        ("eval_batch_size", 0, ">= 1"),
        ("early_stop", -1, ">= 0"),
        ("init_epoch", -1, ">= 0"),
        ("temperature", 0, "> 0"),
        ("cms_weight", -0.5, ">= 0"),
        ("occ_dropout", 1, "in [0, 1)"),
        ("select_on", "train", "val, test"),
        ("select_metric", "nope", "seg_type"),
        ("gate", "both", "global, modality"),
        ("feature_norm", "l2", "none, standardize"),
        ("precision", "fp16", "fp32, bf16"),
        ("stacking", "parallel", "official, sequential"),
        ("device", 0, "string"),
    ],
)
def test_train_config_rejects_bad_values(option, value, allowed):
    with pytest.raises(ValueError) as exc:
        # speed options are checked by RunOptions, recorded ones by TrainConfig
        (RunOptions if option in RunOptions.names() else TrainConfig).from_dict({option: value})
    msg = str(exc.value)
    assert option in msg and repr(value) in msg and allowed in msg, msg


def test_train_config_accepts_whole_floats_and_ints_for_floats():
    cfg = TrainConfig.from_dict({"epochs": 3.0, "lr": 1, "select_metric": "ev_event", "version": 2})
    assert cfg.epochs == 3 and type(cfg.epochs) is int and cfg.lr == 1.0 and type(cfg.lr) is float
    from avvp_pipeline.models.rows import RECIPES

    for recipe in RECIPES.values():
        TrainConfig.from_dict(recipe)


def test_avvp_train_with_zero_epochs_fails(tmp_path, caplog):
    args = [
        "train",
        "--model",
        "han",
        "--index",
        str(tmp_path / "index.h5"),
        "--vggish",
        "a.h5",
        "--resnet152",
        "b.h5",
        "--r2plus1d-18",
        "c.h5",
        "--config",
        json.dumps({"epochs": 0}),
        "--device",
        "cpu",
        "--out-dir",
        str(tmp_path / "run"),
    ]
    assert main(args) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["train option epochs must be an integer >= 1, got 0"]
    assert not (tmp_path / "run" / "model.pt").exists()
