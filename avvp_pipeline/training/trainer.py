"""Train a parsing model on in-memory features with the HAN recipe (Tian et al., ECCV 2020).

Adam (AdamW for VALOR's recipe), StepLR (or warm-up then cosine) stepped per epoch, shuffled batches
by index over tensors already on the device (videos of different lengths: batches of similar lengths, each
padded to its longest video, :func:`epoch_batches`), validation with the LLP protocol after every epoch, keep the best
checkpoint (``>=``: ties
replace). A per-epoch resume state next to the output (``checkpoint.pt``, :mod:`avvp_pipeline.models.checkpoint`)
lets a killed run resume.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..data.feature_sets import FeatureSet
from ..data.llp import CLASSES
from ..evaluation.evaluate import evaluate_probs
from ..features.store import config_hash
from ..fileio import write_json
from ..inference import predict
from ..models.checkpoint import read_resume, restore_resume, resume_path, write_model, write_resume
from ..models.leap import LabelEmbeddings, require_label_embeddings
from ..models.normalize import Standardized
from ..models.options import LFAV_METRICS
from ..models.registry import build_model
from ..models.rows import keeps_last_epoch, spec
from ..torch_files import plain
from .config import RunOptions, TrainConfig
from .graphed import GraphedStep
from .step import backward_step, batch_partners, step_loss

log = logging.getLogger(__name__)

__all__ = ["train", "train_epoch", "epoch_partners", "epoch_batches", "padding_fraction", "Selection"]

#: Videos of different lengths are sorted by length within windows of this many batches.
BUCKET_BATCHES = 16


def epoch_batches(
    fs: FeatureSet, batch_size: int, shuffle: torch.Generator, videos: int | None = None
) -> list[torch.Tensor]:
    """The batches (video indices, on the CPU) of one epoch over ``fs`` (its first ``videos`` of the
    shuffled order, when given).

    The videos are shuffled; when they all have one length, the batches are consecutive slices of that
    order (the random stream and batches of every run before lengths existed). Otherwise each window of
    :data:`BUCKET_BATCHES` batches is sorted by length, so a batch holds videos of similar lengths and
    little padding, and the batches are shuffled once more."""
    order = torch.randperm(len(fs), generator=shuffle)
    if videos is not None:
        order = order[:videos]
    if not fs.uniform:
        lengths = torch.from_numpy(fs.lengths)[order]
        window = BUCKET_BATCHES * batch_size
        order = torch.cat(
            [
                order[s : s + window][torch.argsort(lengths[s : s + window], stable=True)]
                for s in range(0, len(order), window)
            ]
        )
    batches = list(torch.split(order, batch_size))
    if not fs.uniform:
        batches = [batches[i] for i in torch.randperm(len(batches), generator=shuffle).tolist()]
    return batches


def padding_fraction(fs: FeatureSet, batches: list[torch.Tensor]) -> float:
    """The share of the segments of ``batches``, each padded to its longest video, that are padding."""
    if fs.uniform:
        return 0.0
    real = padded = 0
    for idx in batches:
        lengths = fs.lengths[idx.numpy()]
        real += int(lengths.sum())
        padded += len(idx) * int(lengths.max())
    return 1.0 - real / padded


def epoch_partners(
    model_name: str, sizes: list[int], generator: torch.Generator, device: torch.device
) -> list[torch.Tensor | None]:
    """The CM-S swap partners of the batches of an epoch (of ``sizes`` videos), drawn in batch order (as a
    step would draw them) and sent to ``device`` in one copy: a step then never waits for the host."""
    drawn = [batch_partners(model_name, size, generator) for size in sizes]
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
    batches: list[torch.Tensor] | None = None,
) -> float:
    """One pass over ``train_set`` (its first ``videos`` of a shuffled order, when given) in shuffled
    batches (``batches``: those of :func:`epoch_batches`, drawn here when None); the mean loss per video.
    The loss stays on the device until the end: no per-step sync. With ``graphed``, full batches replay its
    CUDA graph; a smaller last batch runs eagerly. A padded batch is cut to its longest video and its mask
    given to the step."""
    device = train_set.audio.device
    model.train()
    if batches is None:
        batches = epoch_batches(train_set, cfg.batch_size, shuffle, videos)
    on_device = torch.cat(batches).to(device).split([len(b) for b in batches])
    partners = epoch_partners(model_name, [len(b) for b in batches], partner_rng, device)
    total = torch.zeros((), device=device)
    for b, idx in enumerate(on_device):
        if graphed is not None and len(idx) == cfg.batch_size:
            loss = graphed(idx, partners[b], epoch)
        else:
            mask = train_set.padding_mask(idx, train_set.batch_length(batches[b]))
            with cfg.autocast(device):
                position = (b, len(batches))  # JoMoLD's flips ramp in over the epoch's batches
                loss = step_loss(model, model_name, train_set, idx, epoch, cfg, partners[b], mask, position)
            optimizer.zero_grad(set_to_none=True)
            backward_step(model, optimizer, loss, cfg)
        total += loss.detach() * len(idx)
    return total.item() / sum(len(b) for b in batches)


@dataclass
class Selection:
    """The epoch kept so far: the best selection score (``>=``: ties replace), or always the latest when
    the row keeps its last epoch. ``strict`` (LFAV's code): only a score above the best so far, from 0,
    replaces it, so a NaN score never does."""

    keep_last: bool
    best: float = -1.0
    best_epoch: int = 0
    best_state: dict | None = None
    strict: bool = False

    def __post_init__(self) -> None:
        if self.strict and self.best < 0:
            self.best = 0.0

    def offer(self, model: torch.nn.Module, epoch: int, score: float) -> None:
        better = score > self.best if self.strict else score >= self.best
        if better or self.keep_last:
            self.best, self.best_epoch = score, epoch
            self.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}

    def stale(self, epoch: int, patience: int) -> bool:
        """Whether ``patience`` (> 0) epochs passed without a better score."""
        return patience > 0 and epoch - self.best_epoch >= patience


def _fresh_state(
    model_name: str, train_set: FeatureSet, cfg: TrainConfig, device: torch.device, embeddings: LabelEmbeddings | None
):
    """Seeded model (with LEAP's class ``embeddings``), optimizer, scheduler and the shuffle / partner
    generators of a run from scratch."""
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    model = build_model(model_name, asdict(cfg), train_set.shapes, len(train_set.classes)).to(device)
    if embeddings is not None:
        net = model.model if isinstance(model, Standardized) else model
        net.set_label_embeddings(embeddings.values.to(device), embeddings.file)
    if isinstance(model, Standardized):
        model.fit(train_set.audio, train_set.video_s, train_set.video_st, mask=train_set.mask())
    optimizer, scheduler = build_optimizer(model, cfg, device)
    shuffle = torch.Generator(device="cpu").manual_seed(cfg.seed)
    partner_rng = torch.Generator(device="cpu").manual_seed(cfg.seed + 1)
    return model, optimizer, scheduler, shuffle, partner_rng


def build_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device):
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


def run_hash(
    model_name: str,
    cfg: TrainConfig,
    provenance: dict,
    n_train: int,
    n_select: int,
    labels: dict | None = None,
    embeddings_sha256: str | None = None,
) -> str:
    """What makes a training run itself: model, recorded options, features, set sizes (no speed option) and,
    where given, the provenance of extra training labels (pseudo labels) and the class embeddings' sha256."""
    return config_hash(
        {
            "model": model_name,
            "train": asdict(cfg),
            "features": provenance,
            "n_train": n_train,
            "n_select": n_select,
            **({"labels": labels} if labels else {}),
            **({"label_embeddings": embeddings_sha256} if embeddings_sha256 else {}),
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
    classes: tuple[str, ...] = CLASSES,
    segment_seconds: float = 1.0,
    train_lengths: tuple[int, int] | None = None,
) -> None:
    """The final outputs of a run: ``model.pt`` (the selected epoch, with ``inputs``: the feature kind and
    shape of each input slot, the data set's ``classes`` and ``segment_seconds``, and ``train_lengths``: the
    shortest and longest training video, which decide how a video is parsed) and ``history.json``."""
    write_model(
        out_dir / "model.pt",
        model_name=model_name,
        state_dict=selection.best_state,
        train_config=asdict(cfg),
        features=provenance,
        feature_configs=feature_configs,
        classes=list(classes),
        summary=summary,
        run_hash=run_hash_,
        inputs=inputs,
        segment_seconds=segment_seconds,
        train_lengths=train_lengths,
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
    noise_ratios: dict | None = None,
    embeddings: LabelEmbeddings | None = None,
) -> dict:
    """Train ``model_name``; write ``model.pt`` and ``history.json`` into ``out_dir``; return the summary.

    ``labels`` (the provenance of the pseudo labels a VALOR row trains on) and ``noise_ratios`` (that of the
    noise ratios the jomold row flips labels with) enter the run hash and the summary. ``embeddings``: the
    class embeddings a LEAP row needs (saved with its weights); their file's sha256 enters the run hash, its
    name and sha256 the summary.

    ``feature_configs`` (the extraction config per extractor) is saved with the model so that
    `avvp parse` can extract new videos exactly as the training features were. The device is the one
    the feature sets are on.
    """
    run = run or RunOptions()
    require_label_embeddings(model_name, embeddings is not None)
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
    model, optimizer, scheduler, shuffle, partner_rng = _fresh_state(model_name, train_set, cfg, device, embeddings)
    scorer = "lfav" if cfg.select_metric in LFAV_METRICS else "llp"
    selection = Selection(keeps_last_epoch(model_name, cfg.select), strict=scorer == "lfav")
    hashed = {**(labels or {}), "noise_ratios": noise_ratios} if noise_ratios else labels
    sha = embeddings.sha256 if embeddings else None
    hash_ = run_hash(model_name, cfg, provenance, len(train_set), len(select_set), hashed, sha)
    ckpt_path = resume_path(out_dir)
    history, start_epoch = [], 1

    state = read_resume(ckpt_path, hash_)
    if state is not None:
        try:
            resumed = restore_resume(state, model, optimizer, scheduler, shuffle, partner_rng)
            history, start_epoch = resumed.history, resumed.epoch + 1
            selection.best, selection.best_state, selection.best_epoch = (
                resumed.best,
                resumed.best_state,
                resumed.best_epoch,
            )
            log.info("resuming %s from epoch %d (%s)", model_name, start_epoch, ckpt_path)
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring %s, training from scratch: it does not fit this run (%s)", ckpt_path, exc)
            model, optimizer, scheduler, shuffle, partner_rng = _fresh_state(
                model_name, train_set, cfg, device, embeddings
            )
            selection, history = Selection(selection.keep_last, strict=selection.strict), []

    graphed = None
    if run.cuda_graphs and spec(model_name).jomold == "denoise":
        log.warning("model %s flips a data-dependent number of labels per batch: it trains eagerly", model_name)
    elif run.cuda_graphs and not train_set.uniform:
        log.warning("train.runtime.cuda_graphs: the %s videos differ in length; training runs eagerly", train_set.split)
    elif run.cuda_graphs:
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
        batches = epoch_batches(train_set, cfg.batch_size, shuffle)
        padding = padding_fraction(train_set, batches)
        if not train_set.uniform:
            log.info("epoch %d: %.1f%% of the batches' segments are padding", epoch, 100 * padding)
        loss = train_epoch(
            model, model_name, train_set, optimizer, epoch, cfg, shuffle, partner_rng, graphed=graphed, batches=batches
        )
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step()
        probs = predict(model, select_set, run.eval_batch_size)
        scores = plain(evaluate_probs(probs, select_set, cfg.gate, scorer))
        score = float(scores[cfg.select_metric])
        selection.offer(model, epoch, score)
        history.append(
            {
                "epoch": epoch,
                "loss": loss,
                "lr": float(lr),
                "seconds": time.perf_counter() - t0,
                **({} if train_set.uniform else {"padding": padding}),
                f"{cfg.select_on}_{cfg.select_metric}": score,
                cfg.select_on: scores,
            }
        )
        bar.set_postfix(loss=f"{loss:.3f}", **{cfg.select_metric: f"{score:.1f}", "best": f"{selection.best:.1f}"})
        write_resume(
            ckpt_path,
            run_hash=hash_,
            epoch=epoch,
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            shuffle=shuffle,
            partner_rng=partner_rng,
            history=history,
            best=selection.best,
            best_state=selection.best_state,
            best_epoch=selection.best_epoch,
        )
        if selection.stale(epoch, cfg.early_stop):
            log.info("early stop after epoch %d: no better %s for %d epochs", epoch, cfg.select_metric, cfg.early_stop)
            break
    bar.close()
    if selection.best_state is None:  # no epoch scored above 0 (LFAV's rule): its code would save no model
        log.warning(
            "no epoch of %s scored a %s %s above 0 (NaN: a class without a true second there); keeping the last",
            model_name,
            cfg.select_on,
            cfg.select_metric,
        )
        selection.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        selection.best_epoch = len(history)

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
        **({"noise_ratios": noise_ratios} if noise_ratios else {}),
        **({"label_embeddings": embeddings.provenance} if embeddings else {}),
    }
    save_trained(
        out_dir,
        model_name,
        cfg,
        selection,
        history,
        summary,
        provenance,
        feature_configs,
        hash_,
        train_set.inputs(),
        train_set.classes,
        train_set.segment_seconds,
        train_set.length_range,
    )
    ckpt_path.unlink(missing_ok=True)
    return summary
