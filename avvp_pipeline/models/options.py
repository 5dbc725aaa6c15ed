"""The one table of training options: name, type, allowed values, default and meaning (no torch here).

:data:`OPTIONS` are recorded: they make a run (run hash, ``model.pt``); their defaults are HAN's
published recipe. :data:`RUNTIME` (config ``train.runtime``) only change how fast a run goes and are
never recorded. ``training/config.py`` builds its configs from these tables, planning checks a config
with :func:`check_options`, and the schema's ``train_options`` / ``train.runtime`` must say the same
(tests/test_options.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# evaluation/metrics.py: METRIC_KEYS (a test keeps the two equal; evaluation lies above this layer)
METRICS = tuple(f"{level}_{kind}" for level in ("seg", "ev") for kind in ("audio", "visual", "av", "type", "event"))
# evaluation/lfav_metrics.py: LFAV_KEYS past the F-scores; selecting on one scores with LFAV's protocol
LFAV_METRICS = ("map_audio", "map_visual", "map_av", "map_avg", "selection")
SEED_MAX = 2**32 - 1  # numpy's seeds run from 0 to 2^32 - 1


@dataclass(frozen=True)
class Option:
    """One option; ``low`` / ``high`` bound a number (``open_low`` / ``open_high``: the bound itself is out)."""

    name: str
    type: str  # int, float, str or bool
    default: object
    doc: str
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple[str, ...] | None = None

    def allowed(self) -> str:
        """What the option takes, in words: ``a number in [0, 1)``, ``an integer >= 1``, ``one of a, b``."""
        if self.choices:
            return f"one of {', '.join(self.choices)}"
        kind = {"bool": "true or false", "int": "an integer", "float": "a finite number"}.get(self.type, "a string")
        if self.low is not None and self.high is not None:
            left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
            return f"{kind} in {left}{_num(self.low)}, {_num(self.high)}{right}"
        if self.low is not None:
            return f"{kind} {'>' if self.open_low else '>='} {_num(self.low)}"
        return kind

    def schema(self) -> dict:
        """The option as JSON schema (workflow/schemas/config.schema.yaml)."""
        if self.choices:
            return {"enum": list(self.choices)}
        out: dict = {"type": {"int": "integer", "float": "number", "bool": "boolean", "str": "string"}[self.type]}
        if self.low is not None:
            out["exclusiveMinimum" if self.open_low else "minimum"] = self.low
        if self.high is not None:
            out["exclusiveMaximum" if self.open_high else "maximum"] = self.high
        return out

    def problem(self, value) -> str | None:
        """Why this option cannot take ``value`` (``must be ...``), or None."""
        typed = _typed(self.type, value)
        return None if typed is not None and self._within(typed) else f"must be {self.allowed()}"

    def checked(self, value):
        """``value`` as this option's type (whole floats become ints, ints floats); a ValueError naming
        the option, the value and what is allowed otherwise."""
        typed = _typed(self.type, value)
        if typed is None or not self._within(typed):
            raise ValueError(f"train option {self.name} must be {self.allowed()}, got {value!r}")
        return typed

    def _within(self, value) -> bool:
        if self.choices:
            return value in self.choices
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        return self.high is None or (value < self.high if self.open_high else value <= self.high)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _is_number(value) -> bool:
    # numpy scalars count (values read back from model.pt); bool is an int to Python but not here
    return not isinstance(value, bool) and (
        isinstance(value, (int, float)) or type(value).__module__ == "numpy" and hasattr(value, "dtype")
    )


def _typed(kind: str, value):
    """``value`` as ``kind`` (whole floats as ints, ints as floats; finite numbers only), or None."""
    if kind == "bool":
        return bool(value) if isinstance(value, bool) or type(value).__name__ == "bool_" else None
    if kind == "str":
        return value if isinstance(value, str) else None
    if not _is_number(value) or not math.isfinite(float(value)):
        return None
    if kind == "int":
        return int(value) if float(value).is_integer() else None
    return float(value)


def _table(*options: Option) -> dict[str, Option]:
    return {o.name: o for o in options}


_UNIT = dict(low=0, high=1, open_high=True)  # a rate: [0, 1)
_KEEP = dict(low=0, high=1, open_low=True)  # label smoothing: the weight a label keeps, (0, 1]

OPTIONS: dict[str, Option] = _table(
    # HAN (ECCV 2020): Adam 3e-4, batch 16, 40 epochs, StepLR(10, 0.1), seed 1, visual smoothing 0.9
    Option("epochs", "int", 40, "training epochs", low=1),
    Option("batch_size", "int", 16, "videos per training step", low=1),
    Option("lr", "float", 3e-4, "learning rate", low=0, open_low=True),
    Option("step_size", "int", 10, "schedule step: epochs between two learning-rate drops", low=1),
    Option("gamma", "float", 0.1, "schedule step: factor of each drop", low=0, open_low=True),
    Option("seed", "int", 1, "training seed (numpy, torch, shuffling; seed + 1: CM-S partners)", low=0, high=SEED_MAX),
    Option("dropout", "float", 0.1, "dropout of the temporal model", **_UNIT),
    Option("audio_smoothing", "float", 1.0, "target an audio label keeps (HAN's smoothing; 1: none)", **_KEEP),
    Option("visual_smoothing", "float", 0.9, "target a visual label keeps (HAN's smoothing)", **_KEEP),
    Option("init_epoch", "int", 0, "epochs <= this use the before_* smoothing and no CM-S loss", low=0),
    Option(
        "select_metric",
        "str",
        "seg_type",
        "score that selects the kept epoch (an LFAV one: LFAV's protocol, a strictly better score)",
        choices=METRICS + LFAV_METRICS,
    ),
    Option("early_stop", "int", 0, "stop after this many epochs without a better selection (0: never)", low=0),
    Option("num_layers", "int", 1, "HAN layers (rows of Table 4 fix it)", low=1),
    Option("stacking", "str", "official", "how HAN layers stack", choices=("official", "sequential", "valor")),
    Option("select", "str", "auto", "kept epoch: best, last, auto (the row's own)", choices=("auto", "best", "last")),
    Option("select_on", "str", "val", "split that selects the kept epoch", choices=("val", "test")),
    Option("gate", "str", "global", "video-level gate at evaluation", choices=("global", "modality")),
    Option(
        "feature_norm", "str", "none", "standardize: per-dimension train mean / std", choices=("none", "standardize")
    ),
    Option("precision", "str", "fp32", "fp32 (the recipes) or bf16 autocast forward passes", choices=("fp32", "bf16")),
    # CM-Co / CM-S (the official run.sh's values; unused by HAN rows)
    Option("occ_dim", "int", 128, "CM-Co: width of the class co-occurrence module", low=1),
    Option("occ_dropout", "float", 0.25, "CM-Co: dropout of the co-occurrence module", **_UNIT),
    Option("before_audio_smoothing", "float", 1.0, "audio_smoothing for epochs <= init_epoch", **_KEEP),
    Option("before_visual_smoothing", "float", 0.9, "visual_smoothing for epochs <= init_epoch", **_KEEP),
    Option("cms_weight", "float", 0.85, "CM-S: weight of the contrastive loss", low=0),
    Option("temperature", "float", 1.0, "CM-S: temperature of the contrastive loss", low=0, open_low=True),
    # network width (HAN-backbone rows)
    Option("hidden", "int", 512, "model width", low=1),
    Option("heads", "int", 1, "attention heads", low=1),
    Option("ffn", "int", 512, "feed-forward width", low=1),
    # optimiser and schedule
    Option("optimizer", "str", "adam", "adam or adamw", choices=("adam", "adamw")),
    Option("weight_decay", "float", 0.0, "optimiser weight decay", low=0),
    Option("beta1", "float", 0.9, "Adam beta1", **_UNIT),
    Option("beta2", "float", 0.999, "Adam beta2", **_UNIT),
    Option("schedule", "str", "step", "step (StepLR) or warmup_cosine", choices=("step", "warmup_cosine")),
    Option("warmup_epochs", "int", 0, "warmup_cosine: epochs of linear warm-up", low=0),
    Option("min_lr", "float", 0.0, "warmup_cosine: learning rate after the last epoch", low=0),
    Option("grad_clip", "float", 0.0, "clip the gradient norm to this value (0: off)", low=0),
)

RUNTIME: dict[str, Option] = _table(
    Option("eval_batch_size", "int", 256, "videos per forward pass when scoring the selection split", low=1),
    Option("cuda_graphs", "bool", False, "replay each full batch's training step as one CUDA graph (CUDA only)"),
)

DEFAULTS: dict = {o.name: o.default for o in OPTIONS.values()}


def check_option(key: str, value, where: str) -> None:
    """ValueError in one line where ``key`` (in the config section ``where``) is no recorded option, or its
    option refuses ``value``."""
    if key in RUNTIME:
        raise ValueError(
            f"{where}.{key}: {key} is a speed option and moved to train.runtime.{key} (not recorded, "
            "so changing it retrains nothing)"
        )
    if key not in OPTIONS:
        raise ValueError(f"{where}.{key}: no such training option (known: {', '.join(OPTIONS)})")
    try:
        OPTIONS[key].checked(value)
    except ValueError:
        raise ValueError(f"{where}.{key} is {value!r}: it must be {OPTIONS[key].allowed()}") from None


def check_options(options: dict, where: str) -> None:
    """:func:`check_option` for every key of ``options``."""
    for key, value in options.items():
        check_option(key, value, where)
