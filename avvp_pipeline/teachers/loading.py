"""The teachers' networks and text tokenizers, from a local folder in HuggingFace ``transformers``' layout
or as seeded random networks built here; nothing is downloaded.

A folder is what ``huggingface-cli download openai/clip-vit-large-patch14 --local-dir DIR`` (or
``laion/clap-htsat-fused``) leaves: ``config.json``, ``model.safetensors``, the tokenizer files and
``preprocessor_config.json``. Only safetensors weights are read (a pickled ``pytorch_model.bin`` is refused:
loading it would run code from the file); their sha256 is checked against the config's when it gives one
and recorded in every output. Random teachers (``weights: random``) are built from a configuration written
here (``small``: a few layers, for tests and the demo; ``full``: the published architectures, for timing)
with a byte-level tokenizer made here; every output says ``random(seed=N, size=...)``.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from .folders import (
    FLOAT_DTYPES,
    PUBLISHED,
    TeacherFolderError,
    check_folder,
    preprocess_settings,
    read_header,
)

log = logging.getLogger(__name__)

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_SEED_OFFSET = {"clip": 10, "clap": 11}
RANDOM_SIZES = ("small", "full")
_CLASSES = {"clip": ("CLIPConfig", "CLIPModel"), "clap": ("ClapConfig", "ClapModel")}


@dataclass
class LoadedTeacher:
    """A teacher's network (eval mode, frozen), its tokenizer, its preprocessing settings and its record."""

    kind: str
    model: torch.nn.Module
    tokenizer: object
    preprocess: dict
    provenance: dict

    @property
    def is_random(self) -> bool:
        return self.provenance["random"]


def _byte_vocabulary(specials: list[str], word_end: str | None) -> dict[str, int]:
    """A vocabulary of the 256 byte-level symbols (and, for CLIP's tokenizer, each with its end-of-word
    mark), no merges: every caption tokenizes, one token per byte."""
    from tokenizers.pre_tokenizers import ByteLevel

    vocab = {s: i for i, s in enumerate(specials)}
    alphabet = sorted(ByteLevel.alphabet())
    for sym in alphabet + ([a + word_end for a in alphabet] if word_end else []):
        vocab.setdefault(sym, len(vocab))
    return vocab


@contextmanager
def _seeded(seed: int):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _random_clip(size: str, seed: int) -> tuple[torch.nn.Module, object]:
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    vocab = _byte_vocabulary(["<|startoftext|>", "<|endoftext|>"], "</w>")
    tokenizer = CLIPTokenizer(vocab=vocab, merges=[])
    if size == "full":  # ViT-L/14 at 224 px and CLIP's text transformer, as openai/clip-vit-large-patch14
        text = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12)
        vision = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16)
        vision.update(patch_size=14)
        projection = 768
    else:
        text = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2)
        vision = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, patch_size=32)
        projection = 32
    text.update(vocab_size=max(len(vocab), 49408 if size == "full" else 0), max_position_embeddings=77)
    text.update(bos_token_id=0, eos_token_id=1, pad_token_id=1)
    vision.update(image_size=224)
    config = CLIPConfig(text_config=text, vision_config=vision, projection_dim=projection)
    with _seeded(seed):
        return CLIPModel(config), tokenizer


def _random_clap(size: str, seed: int) -> tuple[torch.nn.Module, object, object]:
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, RobertaTokenizer

    vocab = _byte_vocabulary(["<s>", "<pad>", "</s>", "<unk>", "<mask>"], None)
    tokenizer = RobertaTokenizer(vocab=vocab, merges=[])
    audio = dict(enable_fusion=True)
    if size == "full":  # HTS-AT (fusion) and RoBERTa-base, as laion/clap-htsat-fused
        text = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12)
        text.update(vocab_size=50265)
        projection = 512
    else:
        text = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2)
        text.update(vocab_size=len(vocab))
        # 4 stages of 1 block; the last stage has 16 * 2**3 = 128 channels
        audio.update(hidden_size=128, patch_embeds_hidden_size=16, depths=[1, 1, 1, 1], num_attention_heads=[2] * 4)
        projection = 32
    text.update(max_position_embeddings=514, type_vocab_size=1, pad_token_id=1, bos_token_id=0, eos_token_id=2)
    config = ClapConfig(text_config=text, audio_config=audio, projection_dim=projection)
    extractor = ClapFeatureExtractor(frequency_min=50, frequency_max=14000)  # HTS-AT's audio front end
    with _seeded(seed):
        return ClapModel(config), tokenizer, extractor


def _freeze(model: torch.nn.Module) -> torch.nn.Module:
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def random_teacher(kind: str, seed: int = 0, size: str = "small") -> LoadedTeacher:
    """A seeded random-weight teacher (``size`` small or full); labelled random in its provenance."""
    if size not in RANDOM_SIZES:
        raise ValueError(f"random teacher size must be one of {RANDOM_SIZES}, got {size!r}")
    s = seed + _SEED_OFFSET[kind]
    if kind == "clip":
        model, tokenizer = _random_clip(size, s)
        preprocess = {"image_size": 224, "image_mean": CLIP_MEAN, "image_std": CLIP_STD}
    elif kind == "clap":
        model, tokenizer, extractor = _random_clap(size, s)
        preprocess = {"feature_extractor": extractor}
    else:
        raise ValueError(f"unknown teacher {kind!r}; known: clip, clap")
    provenance = {
        "teacher": kind,
        "weights_id": f"random(seed={s}, size={size})",
        "weights_sha256": "random",
        "weights_path": "",
        "random": True,
    }
    log.warning(
        "RANDOM weights for the %s teacher (%s): its pseudo labels are not %s's",
        kind,
        provenance["weights_id"],
        PUBLISHED[kind],
    )
    return LoadedTeacher(kind, _freeze(model), tokenizer, preprocess, provenance)


def _why(exc: Exception) -> str:
    """An exception from ``transformers`` or ``tokenizers`` on one line (their messages span several)."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _architecture(kind: str, folder: Path):
    """``(config, model class, the model on the meta device)`` as ``config.json`` describes it; nothing is
    allocated, so the expected tensors are known before any weight is read."""
    import transformers

    config_cls, model_cls = (getattr(transformers, name) for name in _CLASSES[kind])
    config_file = folder / "config.json"
    try:
        config = config_cls.from_pretrained(folder, local_files_only=True)
        with torch.device("meta"):
            meta = model_cls(config)
    except Exception as exc:  # whatever transformers raises here comes from the values in config.json
        raise TeacherFolderError(f"{config_file}: no {kind} model can be built from it ({_why(exc)})") from None
    if kind == "clap" and not config.audio_config.enable_fusion:
        raise TeacherFolderError(f"{config_file}: a CLAP model without feature fusion; VALOR's is {PUBLISHED[kind]}")
    return config, model_cls, meta


def check_tensors(weights: Path, header: dict, meta: torch.nn.Module, kind: str) -> None:
    """A TeacherFolderError naming the first tensor of ``weights`` (``header``: :func:`read_header`) that
    is missing, foreign to the architecture ``meta``, of another shape, or not a float where the model has
    one. Integer buffers (positions, batch counts) the model computes itself may be absent."""
    expected = meta.state_dict()
    computed = {name for name, _ in meta.named_buffers()} - set(expected)
    missing = [k for k, t in expected.items() if t.is_floating_point() and k not in header]
    if missing:
        raise TeacherFolderError(
            f"{weights}: no tensor {missing[0]} ({len(missing)} of the {kind} architecture's weights missing; "
            "they would be initialised at random)"
        )
    foreign = [k for k in header if k not in expected and k not in computed]
    if foreign:
        raise TeacherFolderError(
            f"{weights}: tensor {foreign[0]} is not part of the {kind} architecture ({len(foreign)} such): "
            "another model's weights"
        )
    for name, want in expected.items():
        if name not in header:
            continue
        dtype, shape = header[name]
        if shape != tuple(want.shape):
            raise TeacherFolderError(
                f"{weights}: tensor {name} has shape {list(shape)}, config.json gives {list(want.shape)}"
            )
        if want.is_floating_point() != (dtype in FLOAT_DTYPES):
            need = "a float type (" + ", ".join(FLOAT_DTYPES) + ")" if want.is_floating_point() else "an integer type"
            raise TeacherFolderError(f"{weights}: tensor {name} is {dtype}, expected {need}")


def _check_finite(weights: Path, model: torch.nn.Module) -> None:
    for name, t in model.state_dict().items():
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise TeacherFolderError(f"{weights}: tensor {name} holds NaN or infinite values")


def _load_model(kind: str, weights: Path) -> torch.nn.Module:
    """The network of a checked folder, every weight from ``weights``; a TeacherFolderError otherwise."""
    folder = weights.parent
    config, model_cls, meta = _architecture(kind, folder)
    check_tensors(weights, read_header(weights), meta, kind)
    try:
        model, info = model_cls.from_pretrained(
            folder, config=config, use_safetensors=True, local_files_only=True, output_loading_info=True
        )
    except Exception as exc:  # the header and config passed the checks above: what is left is the file's data
        raise TeacherFolderError(f"{weights}: cannot be loaded ({_why(exc)})") from None
    weights_of = {k for k, t in meta.state_dict().items() if t.is_floating_point()}
    unloaded = [k for k in info["missing_keys"] if k in weights_of] + [m[0] for m in info["mismatched_keys"]]
    if unloaded:  # a guard: the checks above should have caught it
        raise TeacherFolderError(f"{weights}: tensor {unloaded[0]} was not loaded from the file")
    _check_finite(weights, model)
    return model


def _load_tokenizer(kind: str, folder: Path):
    from transformers import CLIPTokenizer, RobertaTokenizer

    cls = CLIPTokenizer if kind == "clip" else RobertaTokenizer
    try:
        return cls.from_pretrained(folder, local_files_only=True)
    except Exception as exc:  # the tokenizers library raises bare Exceptions for a bad tokenizer.json
        raise TeacherFolderError(f"{folder}: the tokenizer files cannot be loaded ({_why(exc)})") from None


def load_teacher(
    kind: str, weights: str, sha256: str | None = None, seed: int = 0, size: str = "small"
) -> LoadedTeacher:
    """The ``kind`` teacher (``clip`` or ``clap``): ``weights`` is ``random`` or a local folder. A folder
    whose weights are not all there, of the architecture's shapes, float and finite is refused
    (TeacherFolderError naming the file): nothing is ever initialised at random behind the user's back."""
    if weights == "random":
        return random_teacher(kind, seed, size)
    path, digest = check_folder(kind, weights, sha256)
    folder = path.parent
    model = _load_model(kind, path)
    tokenizer = _load_tokenizer(kind, folder)
    settings = preprocess_settings(kind, folder)
    if kind == "clip":
        preprocess = {
            "image_size": 224,
            "image_mean": tuple(settings.get("image_mean", CLIP_MEAN)),
            "image_std": tuple(settings.get("image_std", CLIP_STD)),
        }
    else:
        from transformers import ClapFeatureExtractor

        try:
            extractor = ClapFeatureExtractor.from_pretrained(folder, local_files_only=True)
        except Exception as exc:  # the values were type-checked; what fails now is still the file's
            raise TeacherFolderError(f"{folder / 'preprocessor_config.json'}: {_why(exc)}") from None
        preprocess = {"feature_extractor": extractor}
    provenance = {
        "teacher": kind,
        "weights_id": f"dir:{folder.name}",
        "weights_sha256": digest,
        "weights_path": str(path),
        "random": False,
    }
    return LoadedTeacher(kind, _freeze(model), tokenizer, preprocess, provenance)
