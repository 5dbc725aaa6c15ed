"""Train a parsing model on in-memory features with the HAN recipe (Tian et al., ECCV 2020).

Adam, StepLR stepped per epoch, shuffled batches by index over tensors already on the device,
validation with the LLP protocol after every epoch, keep the best checkpoint (``>=``: ties
replace). A per-epoch checkpoint next to the output lets a killed run resume.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..atomic import write_text
from ..data.llp import CLASSES
from ..device import resolve_device
from ..evaluation.metrics import METRIC_KEYS, binarize_predictions, llp_f_scores
from ..features.store import config_hash
from ..models.checkpoint import CheckpointError, load_model, load_resume_checkpoint, plain, save_torch_file, write_model
from ..models.normalize import Standardized
from ..models.registry import build_model, spec
from ..models.rows import keeps_last_epoch
from .data import FeatureSet
from .cms import double_batch, label_aware_pool, swap_partners
from .losses import cms_term, guided_loss, ma_guided_loss
from .refine import ma_contrastive_loss

log = logging.getLogger(__name__)

__all__ = ["TrainConfig", "train", "predict", "evaluate_probs", "step_loss", "load_model"]

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
}
_CHOICES = {
    "stacking": ("official", "sequential"),  # models/han.py's HANEncoder
    "select": ("auto", "best", "last"),
    "select_on": ("val", "test"),
    "select_metric": METRIC_KEYS,
    "gate": ("global", "modality"),
    "feature_norm": ("none", "standardize"),
    "precision": ("fp32", "bf16"),
}


@dataclass
class TrainConfig:
    """Training options (config.yaml ``train``); defaults are HAN's published recipe."""

    epochs: int = 40
    batch_size: int = 16
    lr: float = 3e-4
    step_size: int = 10
    gamma: float = 0.1
    seed: int = 1
    dropout: float = 0.1
    num_layers: int = 1
    stacking: str = "official"
    audio_smoothing: float = 1.0
    visual_smoothing: float = 0.9
    select: str = "auto"  # best: the best select_on epoch; last: the last epoch; auto: the row's (models/rows.py)
    select_on: str = "val"
    select_metric: str = "seg_type"
    gate: str = "global"
    feature_norm: str = "none"
    eval_batch_size: int = 256
    device: str = "auto"
    precision: str = "fp32"  # fp32 (the recipes) or bf16: autocast for the forward passes (speed option)
    # CM-Co / CM-S recipe (the official run.sh); the defaults leave HAN's recipe unchanged
    occ_dim: int = 128
    occ_dropout: float = 0.25
    init_epoch: int = 0  # epochs <= init_epoch use the "before" smoothing and no CM-S loss
    before_audio_smoothing: float = 1.0
    before_visual_smoothing: float = 0.9
    cms_weight: float = 0.85
    temperature: float = 1.0
    early_stop: int = 0  # stop after this many epochs without a better selection score (0: never)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known - {"version"}
        if unknown:
            raise ValueError(f"unknown train options: {sorted(unknown)}")
        return cls(**{k: v for k, v in d.items() if k in known})

    def __post_init__(self):
        for f in fields(self):
            setattr(self, f.name, _checked_option(f.name, f.type, getattr(self, f.name)))

    def autocast(self, device: torch.device):
        """The autocast context of ``precision`` (a no-op for fp32)."""
        if self.precision not in ("fp32", "bf16"):
            raise ValueError(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")
        return torch.autocast(device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def torch_device(self) -> torch.device:
        return resolve_device(self.device)

    def smoothing(self, epoch: int) -> tuple[float, float]:
        """(audio, visual) label smoothing in ``epoch`` (1-based)."""
        if epoch <= self.init_epoch:
            return self.before_audio_smoothing, self.before_visual_smoothing
        return self.audio_smoothing, self.visual_smoothing


def _checked_option(name: str, kind: str, value):
    """``value`` as the type ``kind`` names (whole floats become ints, ints floats); a ValueError naming
    the option, the value and what is allowed otherwise."""
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not float(value).is_integer():
            raise ValueError(f"train option {name} must be an integer, got {value!r}")
        value = int(value)
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not np.isfinite(value):
            raise ValueError(f"train option {name} must be a finite number, got {value!r}")
        value = float(value)
    elif not isinstance(value, str):
        raise ValueError(f"train option {name} must be a string, got {value!r}")
    if name in _RANGES and not _RANGES[name][1](value):
        raise ValueError(f"train option {name} must be {_RANGES[name][0]}, got {value!r}")
    if name in _CHOICES and value not in _CHOICES[name]:
        raise ValueError(f"train option {name} must be one of {', '.join(_CHOICES[name])}; got {value!r}")
    return value


def step_loss(model: torch.nn.Module, name: str, fs: FeatureSet, idx: torch.Tensor, epoch: int, cfg: TrainConfig,
              partner_rng: torch.Generator) -> torch.Tensor:
    """Loss of one batch for the row ``name``: guided BCE, plus CM-S on a doubled batch when the row has it."""
    s = spec(name)
    audio, video_s, video_st = fs.batch(idx)
    y = fs.labels[idx]
    if s.labels == "refined":
        if fs.labels_audio is None:
            raise ValueError(f"model {name} trains on MA-refined labels: pass them (avvp train --refined)")
        y_audio, y_visual = fs.labels_audio[idx], fs.labels_visual[idx]
    else:
        y_audio = y_visual = y
    y_global = torch.maximum(y_audio, y_visual)
    s_a, s_v = cfg.smoothing(epoch)
    if not s.cms or len(idx) < 2:  # a last batch of one video has no partner to swap with
        out = model(audio, video_s, video_st)
        if s.ma_targets:  # MA: global target aliases the audio label; dropped visual classes get a hard 0
            loss = ma_guided_loss(out, y, y_audio, y_visual, s_a, s_v)
        else:
            loss = guided_loss(out, y_global, y_audio, y_visual, s_a, s_v)
        return loss + ma_contrastive_loss(out.x_audio, out.x_visual_in) if s.ma_loss else loss
    partners = swap_partners(len(idx), partner_rng)
    audio, video_s, video_st, y_audio2, y_visual2 = double_batch(audio, video_s, video_st, y_audio, y_visual,
                                                                 partners)
    out = model(audio, video_s, video_st)
    loss = guided_loss(out, y_global, y_audio, y_visual, s_a, s_v)
    if epoch > cfg.init_epoch:
        loss = loss + cfg.cms_weight * cms_term(out, y_audio2, y_visual2, cfg.temperature)
    return loss


@torch.inference_mode()
def predict(model: torch.nn.Module, fs: FeatureSet, batch_size: int = 256,
            aggregate: bool = False) -> dict[str, np.ndarray]:
    """Probabilities for every video of ``fs``: global/audio/visual (N,25) and frame (N,10,2,25).

    With ``aggregate``, also ``agg_audio`` / ``agg_visual`` (N, d): the post-encoder features pooled
    over time with the attention of the video's weak labels (CM-S Eq. 7; the t-SNE figure's input).
    """
    model.eval()
    parts = {"global_prob": [], "audio_prob": [], "visual_prob": [], "frame_prob": []}
    if aggregate:
        parts.update(agg_audio=[], agg_visual=[])
    for start in range(0, len(fs), batch_size):
        idx = torch.arange(start, min(start + batch_size, len(fs)), device=fs.audio.device)
        out = model(*fs.batch(idx))
        for k in ("global_prob", "audio_prob", "visual_prob", "frame_prob"):
            parts[k].append(getattr(out, k).float().cpu().numpy())
        if aggregate:
            y = fs.labels[idx]
            for m, (k, x) in enumerate((("agg_audio", out.x_audio), ("agg_visual", out.x_visual))):
                parts[k].append(label_aware_pool(x, out.frame_att_logits[:, :, m], y).float().cpu().numpy())
    return {k: np.concatenate(v) for k, v in parts.items()}


def evaluate_probs(probs: dict[str, np.ndarray], fs: FeatureSet, gate: str = "global") -> dict[str, float]:
    """Ten LLP F-scores of predicted probabilities against the split's dense truth."""
    if fs.gt_audio is None:
        raise ValueError(f"split {fs.split!r} has no dense labels to evaluate against")
    pa, pv = binarize_predictions(probs["frame_prob"], probs["global_prob"], gate=gate,
                                  audio_prob=probs["audio_prob"], visual_prob=probs["visual_prob"])
    return llp_f_scores(pa, pv, fs.gt_audio, fs.gt_visual)


def _atomic_save(obj: dict, path: Path) -> None:
    """Write the per-epoch checkpoint (tests interrupt runs through this function). Its layout is the same
    every epoch, so it is read back to prove it loads with weights_only only when none exists yet: a
    read-back of model and optimizer state every epoch would cost a large share of a fast GPU epoch."""
    save_torch_file(obj, path, verify=not Path(path).exists())


def _fresh_state(model_name: str, train_set: FeatureSet, cfg: TrainConfig, device: torch.device):
    """Seeded model, optimizer, scheduler and the shuffle / partner generators of a run from scratch."""
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    model = build_model(model_name, asdict(cfg)).to(device)
    if isinstance(model, Standardized):
        model.fit(train_set.audio, train_set.video_s, train_set.video_st)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=device.type == "cuda")
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.step_size, gamma=cfg.gamma)
    shuffle = torch.Generator(device="cpu").manual_seed(cfg.seed)
    partner_rng = torch.Generator(device="cpu").manual_seed(cfg.seed + 1)
    return model, optimizer, scheduler, shuffle, partner_rng


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


def _restore(ckpt: dict, model, optimizer, scheduler, shuffle, partner_rng) -> None:
    model.load_state_dict(ckpt["model"])
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    shuffle.set_state(ckpt["shuffle_rng"])
    partner_rng.set_state(ckpt["partner_rng"])
    torch.set_rng_state(ckpt["torch_rng"])


def train(model_name: str, train_set: FeatureSet, select_set: FeatureSet, cfg: TrainConfig, out_dir: str | Path,
          provenance: dict, progress: bool = True, feature_configs: dict | None = None) -> dict:
    """Train ``model_name``; write ``model.pt`` and ``history.json`` into ``out_dir``; return the summary.

    ``feature_configs`` (the extraction config per extractor) is saved with the model so that
    `avvp parse` can extract new videos exactly as the training features were.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = train_set.audio.device
    model, optimizer, scheduler, shuffle, partner_rng = _fresh_state(model_name, train_set, cfg, device)
    run_hash = config_hash({"model": model_name, "train": asdict(cfg), "features": provenance,
                            "n_train": len(train_set), "n_select": len(select_set)})
    ckpt_path = out_dir / "checkpoint.pt"
    history, best, best_state, best_epoch, start_epoch = [], -1.0, None, 0, 1

    ckpt = _resume_state(ckpt_path, run_hash)
    if ckpt is not None:
        try:
            _restore(ckpt, model, optimizer, scheduler, shuffle, partner_rng)
            history, best, best_state, best_epoch = ckpt["history"], ckpt["best"], ckpt["best_state"], ckpt["best_epoch"]
            start_epoch = ckpt["epoch"] + 1
            log.info("resuming %s from epoch %d (%s)", model_name, start_epoch, ckpt_path)
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring %s, training from scratch: it does not fit this run (%s)", ckpt_path, exc)
            model, optimizer, scheduler, shuffle, partner_rng = _fresh_state(model_name, train_set, cfg, device)

    n = len(train_set)
    steps = -(-n // cfg.batch_size)
    bar = tqdm(range(start_epoch, cfg.epochs + 1), desc=f"train {model_name}", unit="epoch", disable=not progress,
               initial=start_epoch - 1, total=cfg.epochs)
    for epoch in bar:
        t0 = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=shuffle).to(device)
        total = torch.zeros((), device=device)
        for b in range(steps):
            idx = order[b * cfg.batch_size : (b + 1) * cfg.batch_size]
            with cfg.autocast(device):
                loss = step_loss(model, model_name, train_set, idx, epoch, cfg, partner_rng)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * len(idx)  # no per-step host sync
        total = total.item()
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        scores = plain(evaluate_probs(predict(model, select_set, cfg.eval_batch_size), select_set, cfg.gate))
        score = float(scores[cfg.select_metric])
        if score >= best or keeps_last_epoch(model_name, cfg.select):
            best, best_epoch = score, epoch
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        history.append({"epoch": epoch, "loss": total / n, "lr": float(lr), "seconds": time.perf_counter() - t0,
                        f"{cfg.select_on}_{cfg.select_metric}": score, cfg.select_on: scores})
        bar.set_postfix(loss=f"{total / n:.3f}", **{cfg.select_metric: f"{score:.1f}", "best": f"{best:.1f}"})
        stop = cfg.early_stop > 0 and epoch - best_epoch >= cfg.early_stop
        _atomic_save({"run_hash": run_hash, "epoch": epoch, "model": model.state_dict(),
                      "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                      "shuffle_rng": shuffle.get_state(), "partner_rng": partner_rng.get_state(),
                      "torch_rng": torch.get_rng_state(),
                      "history": history, "best": best, "best_state": best_state, "best_epoch": best_epoch},
                     ckpt_path)
        if stop:
            log.info("early stop after epoch %d: no better %s for %d epochs", epoch, cfg.select_metric,
                     cfg.early_stop)
            break
    bar.close()

    summary = {"model": model_name, "selected_epoch": best_epoch, "select_on": cfg.select_on,
               "select_metric": cfg.select_metric, "best_score": best, "n_train": n,
               "n_select": len(select_set), "skipped_train": train_set.skipped}
    write_model(out_dir / "model.pt", model_name=model_name, state_dict=best_state, train_config=asdict(cfg),
                features=provenance, feature_configs=feature_configs, classes=list(CLASSES), summary=summary,
                run_hash=run_hash)
    write_text(out_dir / "history.json", json.dumps({"summary": summary, "epochs": history}, indent=1))
    ckpt_path.unlink(missing_ok=True)
    return summary
