"""Train a parsing model on in-memory features with the HAN recipe (Tian et al., ECCV 2020).

Adam (AdamW for VALOR's recipe), StepLR (or warm-up then cosine) stepped per epoch, shuffled batches
by index over tensors already on the device, validation with the LLP protocol after every epoch, keep the best
checkpoint (``>=``: ties
replace). A per-epoch checkpoint next to the output lets a killed run resume.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..data.feature_sets import FeatureSet
from ..data.llp import CLASSES
from ..device import resolve_device
from ..evaluation.evaluate import evaluate_probs
from ..evaluation.metrics import METRIC_KEYS
from ..features.store import config_hash
from ..fileio import write_json
from ..inference import predict
from ..models.checkpoint import CheckpointError, load_resume_checkpoint, plain, save_torch_file, write_model
from ..models.normalize import Standardized
from ..models.registry import build_model, spec
from ..models.rows import DEFAULTS, keeps_last_epoch
from .graphed import GraphedStep
from .step import backward_step, batch_partners, step_loss

log = logging.getLogger(__name__)

__all__ = ["TrainConfig", "RunOptions", "train", "train_epoch", "epoch_partners", "Selection", "step_loss"]

# option: (allowed range in words, test); every other int/float option may take any value
_RANGES = {
    "epochs": (">= 1", lambda v: v >= 1),
    "batch_size": (">= 1", lambda v: v >= 1),
    "lr": ("> 0", lambda v: v > 0),
    "step_size": (">= 1", lambda v: v >= 1),
    "gamma": ("> 0", lambda v: v > 0),
    "seed": ("in [0, 2**32 - 1)", lambda v: 0 <= v < 2**32 - 1),  # numpy's seed range (cfg.seed + 1 is used too)
    "dropout": ("in [0, 1)", lambda v: 0 <= v < 1),
    "num_layers": (">= 1", lambda v: v >= 1),
    "audio_smoothing": ("in (0, 1]", lambda v: 0 < v <= 1),
    "visual_smoothing": ("in (0, 1]", lambda v: 0 < v <= 1),
    "before_audio_smoothing": ("in (0, 1]", lambda v: 0 < v <= 1),
    "before_visual_smoothing": ("in (0, 1]", lambda v: 0 < v <= 1),
    "eval_batch_size": (">= 1", lambda v: v >= 1),
    "occ_dim": (">= 1", lambda v: v >= 1),
    "occ_dropout": ("in [0, 1)", lambda v: 0 <= v < 1),
    "init_epoch": (">= 0", lambda v: v >= 0),
    "cms_weight": (">= 0", lambda v: v >= 0),
    "temperature": ("> 0", lambda v: v > 0),
    "early_stop": (">= 0", lambda v: v >= 0),
    "hidden": (">= 1", lambda v: v >= 1),
    "heads": (">= 1", lambda v: v >= 1),
    "ffn": (">= 1", lambda v: v >= 1),
    "weight_decay": (">= 0", lambda v: v >= 0),
    "beta1": ("in [0, 1)", lambda v: 0 <= v < 1),
    "beta2": ("in [0, 1)", lambda v: 0 <= v < 1),
    "warmup_epochs": (">= 0", lambda v: v >= 0),
    "min_lr": (">= 0", lambda v: v >= 0),
    "grad_clip": (">= 0 (0: off)", lambda v: v >= 0),
}
_CHOICES = {
    "stacking": ("official", "sequential", "valor"),  # models/han.py's HANEncoder
    "select": ("auto", "best", "last"),
    "select_on": ("val", "test"),
    "select_metric": METRIC_KEYS,
    "gate": ("global", "modality"),
    "feature_norm": ("none", "standardize"),
    "precision": ("fp32", "bf16"),
    "optimizer": ("adam", "adamw"),
    "schedule": ("step", "warmup_cosine"),
}


@dataclass
class TrainConfig:
    """The recorded training options (config.yaml ``train``): they enter the run hash and ``model.pt``.
    Defaults are :data:`models.rows.DEFAULTS` (HAN's published recipe)."""

    epochs: int = DEFAULTS["epochs"]
    batch_size: int = DEFAULTS["batch_size"]
    lr: float = DEFAULTS["lr"]
    step_size: int = DEFAULTS["step_size"]
    gamma: float = DEFAULTS["gamma"]
    seed: int = DEFAULTS["seed"]
    dropout: float = DEFAULTS["dropout"]
    num_layers: int = DEFAULTS["num_layers"]
    stacking: str = DEFAULTS["stacking"]
    audio_smoothing: float = DEFAULTS["audio_smoothing"]
    visual_smoothing: float = DEFAULTS["visual_smoothing"]
    select: str = DEFAULTS["select"]
    select_on: str = DEFAULTS["select_on"]
    select_metric: str = DEFAULTS["select_metric"]
    gate: str = DEFAULTS["gate"]
    feature_norm: str = DEFAULTS["feature_norm"]
    precision: str = DEFAULTS["precision"]
    occ_dim: int = DEFAULTS["occ_dim"]
    occ_dropout: float = DEFAULTS["occ_dropout"]
    init_epoch: int = DEFAULTS["init_epoch"]
    before_audio_smoothing: float = DEFAULTS["before_audio_smoothing"]
    before_visual_smoothing: float = DEFAULTS["before_visual_smoothing"]
    cms_weight: float = DEFAULTS["cms_weight"]
    temperature: float = DEFAULTS["temperature"]
    early_stop: int = DEFAULTS["early_stop"]
    hidden: int = DEFAULTS["hidden"]
    heads: int = DEFAULTS["heads"]
    ffn: int = DEFAULTS["ffn"]
    optimizer: str = DEFAULTS["optimizer"]
    weight_decay: float = DEFAULTS["weight_decay"]
    beta1: float = DEFAULTS["beta1"]
    beta2: float = DEFAULTS["beta2"]
    schedule: str = DEFAULTS["schedule"]
    warmup_epochs: int = DEFAULTS["warmup_epochs"]
    min_lr: float = DEFAULTS["min_lr"]
    grad_clip: float = DEFAULTS["grad_clip"]

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """The recorded options in ``d``; speed options (:class:`RunOptions`) are ignored, anything else
        unknown is a ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known - set(RunOptions.names()) - {"version"}
        if unknown:
            raise ValueError(f"unknown train options: {sorted(unknown)}")
        return cls(**{k: v for k, v in d.items() if k in known})

    def __post_init__(self):
        for f in fields(self):
            setattr(self, f.name, _checked_option(f.name, f.type, getattr(self, f.name)))

    def autocast(self, device: torch.device, cache: bool = True):
        """The autocast context of ``precision`` (a no-op for fp32); ``cache=False`` for a CUDA-graph capture,
        where autocast's cache of cast weights must be off (the values are the same)."""
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16", cache_enabled=cache)

    def lr_factor(self, index: int) -> float:
        """The learning rate of the epoch with 0-based ``index`` as a factor of ``lr`` (``schedule``):
        ``step``: ``gamma ** (index // step_size)``; ``warmup_cosine``: ``(index + 1) / warmup_epochs``
        during the warm-up, then a cosine from ``lr`` down to ``min_lr`` reached after the last epoch."""
        if self.schedule == "step":
            return self.gamma ** (index // self.step_size)
        if index < self.warmup_epochs:
            return (index + 1) / self.warmup_epochs
        span = max(1, self.epochs - self.warmup_epochs)
        cos = 0.5 * (1 + np.cos(np.pi * min(index - self.warmup_epochs, span) / span))
        return float((self.min_lr + (self.lr - self.min_lr) * cos) / self.lr)

    def smoothing(self, epoch: int) -> tuple[float, float]:
        """(audio, visual) label smoothing in ``epoch`` (1-based)."""
        if epoch <= self.init_epoch:
            return self.before_audio_smoothing, self.before_visual_smoothing
        return self.audio_smoothing, self.visual_smoothing


@dataclass
class RunOptions:
    """Options that change only how fast training runs, never what it computes: kept out of the run hash
    and of ``model.pt``, so a run resumes whatever device or evaluation batch it is given."""

    device: str = "auto"
    eval_batch_size: int = 256  # videos per forward pass when scoring the selection split
    cuda_graphs: bool = False  # replay each full batch's training step as one CUDA graph (training/graphed.py)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_dict(cls, d: dict) -> RunOptions:
        """The speed options in ``d`` (other keys are ignored), checked like the recorded ones."""
        return cls(**{k: v for k, v in d.items() if k in cls.names()})

    def __post_init__(self):
        for f in fields(self):
            setattr(self, f.name, _checked_option(f.name, f.type, getattr(self, f.name)))

    def torch_device(self) -> torch.device:
        return resolve_device(self.device)


def _checked_option(name: str, kind: str, value):
    """``value`` as the type ``kind`` names (whole floats become ints, ints floats); a ValueError naming
    the option, the value and what is allowed otherwise."""
    if kind == "bool":
        if not isinstance(value, (bool, np.bool_)):
            raise ValueError(f"train option {name} must be true or false, got {value!r}")
        return bool(value)
    if kind == "int":
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.integer, np.floating))
            or not float(value).is_integer()
        ):
            raise ValueError(f"train option {name} must be an integer, got {value!r}")
        value = int(value)
    elif kind == "float":
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.integer, np.floating))
            or not np.isfinite(value)
        ):
            raise ValueError(f"train option {name} must be a finite number, got {value!r}")
        value = float(value)
    elif not isinstance(value, str):
        raise ValueError(f"train option {name} must be a string, got {value!r}")
    if name in _RANGES and not _RANGES[name][1](value):
        raise ValueError(f"train option {name} must be {_RANGES[name][0]}, got {value!r}")
    if name in _CHOICES and value not in _CHOICES[name]:
        raise ValueError(f"train option {name} must be one of {', '.join(_CHOICES[name])}; got {value!r}")
    return value


def epoch_partners(
    model_name: str, n: int, batch_size: int, generator: torch.Generator, device: torch.device
) -> list[torch.Tensor | None]:
    """The CM-S swap partners of every batch of an epoch over ``n`` videos, drawn in batch order (as a step
    would draw them) and sent to ``device`` in one copy: a step then never waits for the host."""
    drawn = [batch_partners(model_name, min(batch_size, n - s), generator) for s in range(0, n, batch_size)]
    if all(p is None for p in drawn):
        return drawn
    flat = torch.cat([p for p in drawn if p is not None]).to(device)
    out, at = [], 0
    for p in drawn:
        out.append(None if p is None else flat[at : at + len(p)])
        at += 0 if p is None else len(p)
    return out


def train_epoch(
    model: torch.nn.Module,
    model_name: str,
    train_set: FeatureSet,
    optimizer: torch.optim.Optimizer,
    epoch: int,
    cfg: TrainConfig,
    shuffle: torch.Generator,
    partner_rng: torch.Generator,
    videos: int | None = None,
    graphed: GraphedStep | None = None,
) -> float:
    """One pass over ``train_set`` (its first ``videos`` of a shuffled order, when given) in shuffled
    batches; the mean loss per video. The loss stays on the device until the end: no per-step sync.
    With ``graphed``, full batches replay its CUDA graph; a smaller last batch runs eagerly."""
    device = train_set.audio.device
    model.train()
    order = torch.randperm(len(train_set), generator=shuffle).to(device)
    if videos is not None:
        order = order[:videos]
    partners = epoch_partners(model_name, len(order), cfg.batch_size, partner_rng, device)
    total = torch.zeros((), device=device)
    for b, start in enumerate(range(0, len(order), cfg.batch_size)):
        idx = order[start : start + cfg.batch_size]
        if graphed is not None and len(idx) == cfg.batch_size:
            loss = graphed(idx, partners[b], epoch)
        else:
            with cfg.autocast(device):
                loss = step_loss(model, model_name, train_set, idx, epoch, cfg, partners[b])
            optimizer.zero_grad(set_to_none=True)
            backward_step(model, optimizer, loss, cfg)
        total += loss.detach() * len(idx)
    return total.item() / len(order)


@dataclass
class Selection:
    """The epoch kept so far: the best selection score (``>=``: ties replace), or always the latest when
    the row keeps its last epoch."""

    keep_last: bool
    best: float = -1.0
    best_epoch: int = 0
    best_state: dict | None = None

    def offer(self, model: torch.nn.Module, epoch: int, score: float) -> None:
        if score >= self.best or self.keep_last:
            self.best, self.best_epoch = score, epoch
            self.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

    def stale(self, epoch: int, patience: int) -> bool:
        """Whether ``patience`` (> 0) epochs passed without a better score."""
        return patience > 0 and epoch - self.best_epoch >= patience


def _atomic_save(obj: dict, path: Path) -> None:
    """Write the per-epoch checkpoint (tests interrupt runs through this function). Its layout is the same
    every epoch, so it is read back to prove it loads with weights_only only when none exists yet: a
    read-back of model and optimizer state every epoch would cost a large share of a fast GPU epoch."""
    save_torch_file(obj, path, verify=not Path(path).exists())


def _fresh_state(model_name: str, train_set: FeatureSet, cfg: TrainConfig, device: torch.device):
    """Seeded model, optimizer, scheduler and the shuffle / partner generators of a run from scratch."""
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    model = build_model(model_name, asdict(cfg), train_set.shapes).to(device)
    if isinstance(model, Standardized):
        model.fit(train_set.audio, train_set.video_s, train_set.video_st)
    optimizer, scheduler = _optimizer(model, cfg, device)
    shuffle = torch.Generator(device="cpu").manual_seed(cfg.seed)
    partner_rng = torch.Generator(device="cpu").manual_seed(cfg.seed + 1)
    return model, optimizer, scheduler, shuffle, partner_rng


def _optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device):
    """The run's optimiser (``optimizer``: Adam, PyTorch's defaults apart from lr / betas / weight decay, or
    AdamW) and its per-epoch schedule (``schedule``)."""
    kind = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    optimizer = kind(
        model.parameters(),
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
        weight_decay=cfg.weight_decay,
        fused=device.type == "cuda",
    )
    if cfg.schedule == "step":  # HAN's StepLR, as before the schedule became an option
        return optimizer, torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lambda index: cfg.lr_factor(index))


def _resume_state(ckpt_path: Path, run_hash: str) -> dict | None:
    """The resume state of this run in ``ckpt_path``, or None: absent, made with other options, or unusable
    (a damaged or unsafe scratch file is not worth failing a run for: it is ignored with a warning)."""
    if not ckpt_path.exists():
        return None
    try:
        ckpt = load_resume_checkpoint(ckpt_path)
    except CheckpointError as exc:
        log.warning("ignoring %s, training from scratch: %s", ckpt_path, exc)
        return None
    if ckpt["run_hash"] != run_hash:
        log.info("ignoring %s: made with other options", ckpt_path)
        return None
    return ckpt


def _save_resume(
    path: Path,
    run_hash: str,
    epoch: int,
    model,
    optimizer,
    scheduler,
    shuffle,
    partner_rng,
    history: list,
    selection: Selection,
) -> None:
    _atomic_save(
        {
            "run_hash": run_hash,
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "shuffle_rng": shuffle.get_state(),
            "partner_rng": partner_rng.get_state(),
            "torch_rng": torch.get_rng_state(),
            "history": history,
            "best": selection.best,
            "best_state": selection.best_state,
            "best_epoch": selection.best_epoch,
        },
        path,
    )


def _restore(ckpt: dict, model, optimizer, scheduler, shuffle, partner_rng, selection: Selection) -> list:
    """Load the resume state into the run's objects; return its history."""
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    shuffle.set_state(ckpt["shuffle_rng"])
    partner_rng.set_state(ckpt["partner_rng"])
    torch.set_rng_state(ckpt["torch_rng"])
    selection.best, selection.best_state, selection.best_epoch = ckpt["best"], ckpt["best_state"], ckpt["best_epoch"]
    return ckpt["history"]


def run_hash(
    model_name: str, cfg: TrainConfig, provenance: dict, n_train: int, n_select: int, labels: dict | None = None
) -> str:
    """What makes a training run itself: model, recorded options, features, set sizes (no speed option) and,
    where given, the provenance of extra training labels (pseudo labels)."""
    return config_hash(
        {
            "model": model_name,
            "train": asdict(cfg),
            "features": provenance,
            "n_train": n_train,
            "n_select": n_select,
            **({"labels": labels} if labels else {}),
        }
    )


def save_trained(
    out_dir: Path,
    model_name: str,
    cfg: TrainConfig,
    selection: Selection,
    history: list,
    summary: dict,
    provenance: dict,
    feature_configs: dict | None,
    run_hash_: str,
    inputs: dict | None = None,
) -> None:
    """The final outputs of a run: ``model.pt`` (the selected epoch, with ``inputs``: the feature kind and
    shape of each input slot) and ``history.json``."""
    write_model(
        out_dir / "model.pt",
        model_name=model_name,
        state_dict=selection.best_state,
        train_config=asdict(cfg),
        features=provenance,
        feature_configs=feature_configs,
        classes=list(CLASSES),
        summary=summary,
        run_hash=run_hash_,
        inputs=inputs,
    )
    write_json({"summary": summary, "epochs": history}, out_dir / "history.json")


def train(
    model_name: str,
    train_set: FeatureSet,
    select_set: FeatureSet,
    cfg: TrainConfig,
    out_dir: str | Path,
    provenance: dict,
    progress: bool = True,
    feature_configs: dict | None = None,
    run: RunOptions | None = None,
    labels: dict | None = None,
) -> dict:
    """Train ``model_name``; write ``model.pt`` and ``history.json`` into ``out_dir``; return the summary.

    ``labels`` (the provenance of the pseudo labels a VALOR row trains on) enters the run hash and the
    summary.

    ``feature_configs`` (the extraction config per extractor) is saved with the model so that
    `avvp parse` can extract new videos exactly as the training features were. The device is the one
    the feature sets are on.
    """
    run = run or RunOptions()
    kinds = spec(model_name).features
    for fs in (train_set, select_set):
        if fs.kinds != kinds:
            raise ValueError(
                f"model {model_name} reads the feature kinds {', '.join(kinds)}, but the {fs.split} set holds "
                f"{', '.join(fs.kinds)}"
            )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = train_set.audio.device
    model, optimizer, scheduler, shuffle, partner_rng = _fresh_state(model_name, train_set, cfg, device)
    selection = Selection(keeps_last_epoch(model_name, cfg.select))
    hash_ = run_hash(model_name, cfg, provenance, len(train_set), len(select_set), labels)
    ckpt_path = out_dir / "checkpoint.pt"
    history, start_epoch = [], 1

    ckpt = _resume_state(ckpt_path, hash_)
    if ckpt is not None:
        try:
            history = _restore(ckpt, model, optimizer, scheduler, shuffle, partner_rng, selection)
            start_epoch = ckpt["epoch"] + 1
            log.info("resuming %s from epoch %d (%s)", model_name, start_epoch, ckpt_path)
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring %s, training from scratch: it does not fit this run (%s)", ckpt_path, exc)
            model, optimizer, scheduler, shuffle, partner_rng = _fresh_state(model_name, train_set, cfg, device)
            selection, history = Selection(selection.keep_last), []

    graphed = None
    if run.cuda_graphs:
        if device.type != "cuda":
            raise ValueError(f"train option cuda_graphs needs a CUDA device; model {model_name} trains on {device}")
        graphed = GraphedStep(model, model_name, train_set, optimizer, cfg)
    bar = tqdm(
        range(start_epoch, cfg.epochs + 1),
        desc=f"train {model_name}",
        unit="epoch",
        disable=not progress,
        initial=start_epoch - 1,
        total=cfg.epochs,
    )
    for epoch in bar:
        t0 = time.perf_counter()
        loss = train_epoch(model, model_name, train_set, optimizer, epoch, cfg, shuffle, partner_rng, graphed=graphed)
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        scores = plain(evaluate_probs(predict(model, select_set, run.eval_batch_size), select_set, cfg.gate))
        score = float(scores[cfg.select_metric])
        selection.offer(model, epoch, score)
        history.append(
            {
                "epoch": epoch,
                "loss": loss,
                "lr": float(lr),
                "seconds": time.perf_counter() - t0,
                f"{cfg.select_on}_{cfg.select_metric}": score,
                cfg.select_on: scores,
            }
        )
        bar.set_postfix(loss=f"{loss:.3f}", **{cfg.select_metric: f"{score:.1f}", "best": f"{selection.best:.1f}"})
        _save_resume(ckpt_path, hash_, epoch, model, optimizer, scheduler, shuffle, partner_rng, history, selection)
        if selection.stale(epoch, cfg.early_stop):
            log.info("early stop after epoch %d: no better %s for %d epochs", epoch, cfg.select_metric, cfg.early_stop)
            break
    bar.close()

    summary = {
        "model": model_name,
        "selected_epoch": selection.best_epoch,
        "select_on": cfg.select_on,
        "select_metric": cfg.select_metric,
        "best_score": selection.best,
        "n_train": len(train_set),
        "n_select": len(select_set),
        "skipped_train": train_set.skipped,
        **({"pseudo_labels": labels} if labels else {}),
    }
    save_trained(
        out_dir, model_name, cfg, selection, history, summary, provenance, feature_configs, hash_, train_set.inputs()
    )
    ckpt_path.unlink(missing_ok=True)
    return summary
