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

import json
import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from .folders import PUBLISHED, check_folder

log = logging.getLogger(__name__)

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_SEED_OFFSET = {"clip": 10, "clap": 11}
RANDOM_SIZES = ("small", "full")


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


def load_teacher(
    kind: str, weights: str, sha256: str | None = None, seed: int = 0, size: str = "small"
) -> LoadedTeacher:
    """The ``kind`` teacher (``clip`` or ``clap``): ``weights`` is ``random`` or a local folder."""
    if weights == "random":
        return random_teacher(kind, seed, size)
    path, digest = check_folder(kind, weights, sha256)
    folder = str(path.parent)
    common = dict(local_files_only=True)
    if kind == "clip":
        from transformers import CLIPModel, CLIPTokenizer

        model = CLIPModel.from_pretrained(folder, use_safetensors=True, **common)
        tokenizer = CLIPTokenizer.from_pretrained(folder, **common)
        pre = {}
        pre_file = path.parent / "preprocessor_config.json"
        if pre_file.is_file():
            pre = json.loads(pre_file.read_text())
        preprocess = {
            "image_size": 224,
            "image_mean": tuple(pre.get("image_mean", CLIP_MEAN)),
            "image_std": tuple(pre.get("image_std", CLIP_STD)),
        }
    else:
        from transformers import ClapFeatureExtractor, ClapModel, RobertaTokenizer

        model = ClapModel.from_pretrained(folder, use_safetensors=True, **common)
        if not model.config.audio_config.enable_fusion:
            raise ValueError(f"{path}: a CLAP model without feature fusion; VALOR's teacher is {PUBLISHED[kind]}")
        tokenizer = RobertaTokenizer.from_pretrained(folder, **common)
        preprocess = {"feature_extractor": ClapFeatureExtractor.from_pretrained(folder, **common)}
    provenance = {
        "teacher": kind,
        "weights_id": f"dir:{Path(folder).name}",
        "weights_sha256": digest,
        "weights_path": str(path),
        "random": False,
    }
    return LoadedTeacher(kind, _freeze(model), tokenizer, preprocess, provenance)
