"""The named model rows of the papers' tables and their published training recipes (no torch here:
the workflow plans with this module; ``registry`` builds the networks).

``train_options(name, ...)`` gives the options a row trains with: its recipe (HAN's for
HAN rows, the official run.sh for the CM-Co / CM-S rows, MA's for MA), then options common to all models, then
options for that model alone.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..features.kinds import DEFAULT_KINDS, LFAV_KINDS, check_kinds
from .options import DEFAULTS


@dataclass(frozen=True)
class ModelSpec:
    """What a row is made of."""

    description: str
    backbone: str = "han"  # temporal model: han, ave, avsdn (models/ave_avsdn.py) or leap (models/leap.py)
    arch: str = "han"  # han: MMIL's segment head; cmco: CM-Co scores the segments; jomold: models/jomold.py;
    # leap: LEAP's label decoder
    cooccurrence: str = "cmco"  # cmco arch only: cmco, av, a_only, v_only (Table 3)
    cms: bool = False  # CM-S: swapped-pair batch doubling + cross-video contrastive loss
    recipe: str = "han"
    num_layers: int | None = None  # fixed by the row (Table 4), else from the options
    labels: str = "weak"  # weak: video-level labels; refined: MA's modality-aware labels (MA* rows)
    ma_loss: bool = False  # MA's audio-visual contrastive loss (MA's stage 1)
    select: str = "best"  # best: the epoch with the best selection score; last: the last epoch (MA's rows)
    ma_targets: bool = False  # MA's own targets: global = refined audio label, dropped visual classes 0
    pseudo_labels: bool = False  # VALOR: segment-level pseudo labels per modality (data/pseudo_labels.py)
    # JoMoLD: "estimator" (no cross-modal attention, + its contrastive loss) or "denoise" (+ per-batch label
    # flips with the estimator's noise ratios, data/noise_ratios.py); "" for every other row
    jomold: str = ""
    # LEAP's video-level BCE: code (on the thresholded union, no gradient) or soft (on p_a + p_v - p_a p_v)
    video_loss: str = "code"
    # the feature kinds it reads, audio / 2D visual / 3D visual (features/kinds.py)
    features: tuple[str, str, str] = DEFAULT_KINDS

    def __post_init__(self):
        check_kinds(self.features)
        if self.jomold not in ("", "estimator", "denoise") or bool(self.jomold) != (self.arch == "jomold"):
            raise ValueError(f"jomold must be estimator or denoise exactly for the jomold arch, got {self.jomold!r}")

    @property
    def label_embeddings(self) -> bool:
        """Whether the row reads a file of class embeddings (LEAP's decoder queries)."""
        return self.arch == "leap"


MODELS: dict[str, ModelSpec] = {
    "ave": ModelSpec(
        "AVE + audio / visual parsing branches + MMIL, HAN recipe (Table 1; models/ave_avsdn.py)", backbone="ave"
    ),
    "avsdn": ModelSpec("AVSDN + audio / visual parsing branches + MMIL, HAN recipe (Table 1)", backbone="avsdn"),
    "avsdn+ours": ModelSpec("AVSDN + CM-Co + CM-S (Table 1)", backbone="avsdn", arch="cmco", cms=True, recipe="cmco"),
    "han": ModelSpec("HAN (1 layer) + MMIL, HAN loss and recipe"),
    "han_2layers": ModelSpec("HAN with 2 layers (Table 4; official stacking: each layer on the inputs)", num_layers=2),
    "han_3layers": ModelSpec("HAN with 3 layers (Table 4)", num_layers=3),
    "han+cmco": ModelSpec("HAN + CM-Co (Table 2), CM-Co recipe without CM-S", arch="cmco", recipe="cmco"),
    "han+cms": ModelSpec("HAN + CM-S (Table 2): HAN segment head, CM-Co recipe", cms=True, recipe="cmco"),
    "han+ours": ModelSpec("HAN + CM-Co + CM-S (Table 1)", arch="cmco", cms=True, recipe="cmco"),
    "han+a_only": ModelSpec(
        "HAN + CM-Co with class self-attention on audio only (Table 3)",
        arch="cmco",
        cooccurrence="a_only",
        recipe="cmco",
    ),
    "han+v_only": ModelSpec(
        "HAN + CM-Co with class self-attention on visual only (Table 3)",
        arch="cmco",
        cooccurrence="v_only",
        recipe="cmco",
    ),
    "han+av": ModelSpec(
        "HAN + CM-Co with class self-attention in each modality, no cross (Table 3)",
        arch="cmco",
        cooccurrence="av",
        recipe="cmco",
    ),
    "ma_base": ModelSpec(
        "MA stage 1: HAN + MA contrastive loss, 12 epochs, last epoch (input of label refinement)",
        ma_loss=True,
        recipe="ma_base",
        select="last",
    ),
    # MA's stage 3 tests its 12th epoch without any selection: MA's rows keep their last epoch
    "ma": ModelSpec(
        "MA: HAN retrained on refined labels with MA's targets and contrastive loss; "
        "evaluated with MA's modality gate (the 12-epoch stage-1 recipe, last epoch)",
        labels="refined",
        ma_loss=True,
        ma_targets=True,
        recipe="ma",
        select="last",
    ),
    "ma+cmco": ModelSpec(
        "MA + CM-Co (Table 2): the ma row's labels, targets, contrastive loss, modality "
        "gate and last epoch with the CM-Co head and recipe",
        arch="cmco",
        recipe="ma_cmco",
        labels="refined",
        ma_loss=True,
        ma_targets=True,
        select="last",
    ),
    "ma*": ModelSpec("MA*: HAN trained on MA-refined audio / visual labels (HAN recipe)", labels="refined"),
    "ma*+cmco": ModelSpec("MA* + CM-Co (Table 2)", arch="cmco", recipe="cmco", labels="refined"),
    "ma*+cms": ModelSpec("MA* + CM-S (Table 2)", cms=True, recipe="cmco", labels="refined"),
    "ma*+ours": ModelSpec(
        "MA* + CM-Co + CM-S (Table 1; the official run.sh)", arch="cmco", cms=True, recipe="cmco", labels="refined"
    ),
    "ma*+a_only": ModelSpec(
        "MA* + CM-Co, audio self-attention only (Table 3)",
        arch="cmco",
        cooccurrence="a_only",
        recipe="cmco",
        labels="refined",
    ),
    "ma*+v_only": ModelSpec(
        "MA* + CM-Co, visual self-attention only (Table 3)",
        arch="cmco",
        cooccurrence="v_only",
        recipe="cmco",
        labels="refined",
    ),
    "ma*+av": ModelSpec(
        "MA* + CM-Co, self-attention in each modality (Table 3)",
        arch="cmco",
        cooccurrence="av",
        recipe="cmco",
        labels="refined",
    ),
    "valor": ModelSpec(
        "VALOR: HAN (8 heads, FFN 1024, VALOR stacking) + MMIL, video-level BCE + segment-level "
        "BCE against the CLIP / CLAP pseudo labels, VALOR recipe",
        recipe="valor",
        pseudo_labels=True,
    ),
    "valor+": ModelSpec(
        "VALOR+: the valor row with hidden 256, 4 layers, lr 3e-4", recipe="valor_plus", pseudo_labels=True
    ),
    "valor++": ModelSpec(
        "VALOR++: the valor+ row on CLAP audio and CLIP frame features (with R(2+1)D-18)",
        recipe="valor_plus_plus",
        pseudo_labels=True,
        features=("clap_htsat", "clip_vitl14", "r2plus1d_18"),
    ),
    "jomold-estimator": ModelSpec(
        "JoMoLD stage 1, the noise estimator: HAN without cross-modal attention + MMIL, smoothed modality "
        "labels + segment-level audio-visual contrastive loss; its noise ratios feed the jomold row",
        arch="jomold",
        jomold="estimator",
        recipe="jomold",
    ),
    "jomold": ModelSpec(
        "JoMoLD (ECCV 2022): HAN + MMIL trained with per-batch joint-modal label flips at the estimator's "
        "per-class noise ratios, audio BCE weighted 2, contrastive loss, JoMoLD recipe",
        arch="jomold",
        jomold="denoise",
        recipe="jomold",
    ),
    "han_lfav": ModelSpec(
        "HAN (1 layer) + MMIL on LFAV's released features (VGGish, ResNet-18, R(2+1)D-18), LFAV recipe",
        recipe="lfav",
        features=LFAV_KINDS,
    ),
    "leap": ModelSpec(
        "LEAP: MM-Pyramid encoder + label-embedding decoder (GloVe class embeddings), trained on VALOR's "
        "CLIP / CLAP pseudo labels with LEAP's losses and recipe (models/leap.py)",
        backbone="leap",
        arch="leap",
        recipe="leap",
        pseudo_labels=True,
    ),
    "leap+soft_video": ModelSpec(
        "LEAP with a video-level BCE that trains: on p_a + p_v - p_a p_v instead of the code's thresholded union",
        backbone="leap",
        arch="leap",
        recipe="leap",
        pseudo_labels=True,
        video_loss="soft",
    ),
}

# the paper's tables, in order (a row appears once, under its first table)
TABLE_GROUPS = (
    ("Table 1", ("ave", "avsdn", "avsdn+ours", "han", "han+ours", "ma", "ma*", "ma*+ours")),
    ("Table 2", ("han+cms", "han+cmco", "ma+cmco", "ma*+cms", "ma*+cmco")),
    ("Table 3", ("han+a_only", "han+v_only", "han+av", "ma*+a_only", "ma*+v_only", "ma*+av")),
    ("Table 4", ("han_2layers", "han_3layers")),
)
PAPER_ROWS = tuple(r for _, rows in TABLE_GROUPS for r in rows)

# HAN (ECCV 2020): the options table's defaults (models/options.py) are HAN's published recipe
HAN_RECIPE: dict = {
    k: DEFAULTS[k]
    for k in (
        "epochs", "batch_size", "lr", "step_size", "gamma", "seed", "dropout", "audio_smoothing",
        "visual_smoothing", "init_epoch", "select_metric", "early_stop",
    )
}  # fmt: skip

RECIPES: dict[str, dict] = {
    "han": dict(HAN_RECIPE),
    # MA stage 1: the HAN recipe for 12 epochs, last epoch kept
    "ma_base": {**HAN_RECIPE, "epochs": 12},
    # MA stage 3: stage 1 again on refined labels; MA's eval gates by p_a / p_v
    "ma": {**HAN_RECIPE, "epochs": 12, "gate": "modality"},
    # CM-Co run.sh: batch 64, lr 7e-5, StepLR(7, 0.5), dropout 0.4 / 0.25, occ_dim 128,
    # smoothing (1.0, 0.9) and no CM-S for epochs <= 2, then (1.0, 1.0) with CM-S weight 0.85, tau 1,
    # seed 0, best event-level Type@AV, stop after 10 epochs without improvement
    "cmco": {
        "epochs": 40,
        "batch_size": 64,
        "lr": 7e-5,
        "step_size": 7,
        "gamma": 0.5,
        "seed": 0,
        "dropout": 0.4,
        "occ_dim": 128,
        "occ_dropout": 0.25,
        "before_audio_smoothing": 1.0,
        "before_visual_smoothing": 0.9,
        "audio_smoothing": 1.0,
        "visual_smoothing": 1.0,
        "init_epoch": 2,
        "cms_weight": 0.85,
        "temperature": 1.0,
        "select_metric": "ev_type",
        "early_stop": 10,
    },
}

# MA's targets train the global probability on the refined *audio* label (MA's code), so a
# global gate would veto visual-only events: rows with MA's targets are scored with MA's own gate.
# ma+cmco keeps its last epoch, so the CM-Co recipe's early stop never fires: it runs all 40 epochs.
RECIPES["ma_cmco"] = {**RECIPES["cmco"], "gate": "modality"}

# VALOR (NeurIPS 2023): AdamW (weight decay 1e-3, betas (0.5, 0.999)), lr 1e-4, 10 warm-up epochs then
# cosine to 1e-6, grad-norm clip 1.0, batch 64, 60 epochs, seed 1000; HAN with hidden 512, 8 heads,
# FFN 1024, 1 layer, post-norm, the updated audio feeding the visual step; joint (global) gate
RECIPES["valor"] = {
    "epochs": 60,
    "batch_size": 64,
    "lr": 1e-4,
    "seed": 1000,
    "dropout": 0.1,
    "optimizer": "adamw",
    "weight_decay": 1e-3,
    "beta1": 0.5,
    "beta2": 0.999,
    "schedule": "warmup_cosine",
    "warmup_epochs": 10,
    "min_lr": 1e-6,
    "grad_clip": 1.0,
    "hidden": 512,
    "heads": 8,
    "ffn": 1024,
    "num_layers": 1,
    "stacking": "valor",
    "select_metric": "seg_type",
    "early_stop": 0,
}
# JoMoLD (its main.py's defaults, the same for all three stages): Adam lr 5e-4, StepLR(6, 0.25), batch 128,
# 25 epochs, seed 6, dropout 0.1 (HAN), smoothing (1.0, 0.9); the epoch with the best validation
# event-level audio F (>=) is kept; its evaluation gates audio by p_a and visual by p_v
RECIPES["jomold"] = {
    "epochs": 25,
    "batch_size": 128,
    "lr": 5e-4,
    "step_size": 6,
    "gamma": 0.25,
    "seed": 6,
    "dropout": 0.1,
    "audio_smoothing": 1.0,
    "visual_smoothing": 0.9,
    "init_epoch": 0,
    "select_metric": "ev_audio",
    "early_stop": 0,
    "gate": "modality",
}
# VALOR+ (its train script): the same with lr 3e-4 cosine to 3e-6, hidden 256, 4 layers, seed 64
RECIPES["valor_plus"] = {**RECIPES["valor"], "lr": 3e-4, "min_lr": 3e-6, "hidden": 256, "num_layers": 4, "seed": 64}
# VALOR++ (its train script): VALOR+'s recipe with seed 87, on CLAP / CLIP / R(2+1)D-18 features
RECIPES["valor_plus_plus"] = {**RECIPES["valor_plus"], "seed": 87}
# LFAV (GeWu-Lab/LFAV src/scripts/train_s3.sh and main.py): Adam lr 1e-4, batch 16, 30 epochs, StepLR(10,
# 0.1), seed 1, no label smoothing (its targets are the weak labels as given); each epoch scored with LFAV's
# protocol on val, its selection score kept when strictly better; predictions gated per modality
RECIPES["lfav"] = {
    **HAN_RECIPE,
    "epochs": 30,
    "batch_size": 16,
    "lr": 1e-4,
    "step_size": 10,
    "gamma": 0.1,
    "seed": 1,
    "audio_smoothing": 1.0,
    "visual_smoothing": 1.0,
    "select_metric": "selection",
    "gate": "modality",
    "early_stop": 0,
}

# LEAP (ECCV 2024, its run_leap_train.sh and main_leap.py): Adam lr 1e-4, StepLR(10, 0.1), batch 32, 30 epochs,
# seed 1; MM-Pyramid and decoder 8 heads, width 512, FFN 512, 2 decoder layers, dropout 0.2; the epoch with the
# best val segment-level Type@AV (a tie keeps the later one); evaluation gates both modalities by the
# video-level prediction (the global gate)
RECIPES["leap"] = {
    **HAN_RECIPE,
    "epochs": 30,
    "batch_size": 32,
    "lr": 1e-4,
    "step_size": 10,
    "gamma": 0.1,
    "seed": 1,
    "dropout": 0.2,
    "heads": 8,
    "num_layers": 2,
    "select_metric": "seg_type",
    "early_stop": 0,
}


def spec(name: str) -> ModelSpec:
    """The row called ``name``."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    return MODELS[name]


def keeps_last_epoch(name: str, select: str = "auto") -> bool:
    """Whether training ``name`` keeps its last epoch: ``select`` (best | last), or the row's own for auto."""
    return (spec(name).select if select == "auto" else select) == "last"


def train_options(
    name: str, common: dict | None = None, per_model: dict | None = None, seed: int | None = None
) -> dict:
    """Recipe of ``name``, then ``common`` options, then ``per_model[name]``, then ``seed`` when given."""
    opts = {**RECIPES[spec(name).recipe], **(common or {}), **((per_model or {}).get(name, {}))}
    return opts if seed is None else {**opts, "seed": seed}


def full_options(name: str, options: dict | None = None) -> dict:
    """Every recorded option ``name`` trains with: :data:`DEFAULTS`, its recipe, then ``options``."""
    return {**DEFAULTS, **RECIPES[spec(name).recipe], **(options or {})}
