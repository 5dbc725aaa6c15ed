"""ResNet-152 (2D, per frame) and R(2+1)D-18 (3D, per 8-frame clip) feature extractors.

Preprocessing follows the original LLP recipe: ResNet-152 frames are resized
so the shorter side is ``resize`` (256), centre-cropped to ``crop`` (224) and normalised with
ImageNet statistics; R(2+1)D frames are resized to exactly ``size`` x ``size`` (112, aspect
not kept) and normalised with Kinetics statistics, 10 clips of 8 consecutive frames.
"""

from __future__ import annotations

import contextlib
import functools

import torch
import torch.nn.functional as F
import torchvision

from .weights import ResolvedWeights

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
KINETICS_MEAN = (0.43216, 0.394666, 0.37645)
KINETICS_STD = (0.22803, 0.22145, 0.216989)


def _build(ctor, weights: ResolvedWeights, **random_kwargs) -> torch.nn.Module:
    if weights.is_random:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(weights.seed)
            model = ctor(weights=None, **random_kwargs)
    else:
        model = weights.load_into(ctor(weights=None))
    model.fc = torch.nn.Identity()
    return model.eval()


def build_resnet152(weights: ResolvedWeights) -> torch.nn.Module:
    """torchvision ResNet-152 with the classifier removed (outputs pooled 2048-d).

    Random weights use ``zero_init_residual=True``: with torchvision's default init and
    untrained (identity) batch norms, 50 residual additions grow activations to ~1e7;
    zeroed residual branches keep random features O(0.1) so the demo's parser can train.
    """
    return _build(torchvision.models.resnet152, weights, zero_init_residual=True)


def build_r2plus1d_18(weights: ResolvedWeights) -> torch.nn.Module:
    """torchvision R(2+1)D-18 with the classifier removed (outputs pooled 512-d)."""
    return _build(torchvision.models.video.r2plus1d_18, weights)


@functools.lru_cache(maxsize=32)
def _stats(mean: tuple, std: tuple, device: torch.device, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std as ``(1, 3, 1, 1)`` tensors, built once per device and dtype (not per batch)."""
    with torch.inference_mode(False):  # usable inside and outside inference mode
        m = torch.tensor(mean, device=device, dtype=dtype).view(1, 3, 1, 1)
        s = torch.tensor(std, device=device, dtype=dtype).view(1, 3, 1, 1)
    return m, s


def _normalise(x: torch.Tensor, mean, std) -> torch.Tensor:
    m, s = _stats(tuple(mean), tuple(std), x.device, x.dtype)
    return (x - m) / s


def preprocess_2d(frames: torch.Tensor, resize: int = 256, crop: int = 224) -> torch.Tensor:
    """uint8 ``(n, H, W, 3)`` -> float ``(n, 3, crop, crop)``: shorter side to ``resize``, centre crop."""
    x = frames.permute(0, 3, 1, 2).float().div_(255.0)
    h, w = x.shape[-2:]
    scale = resize / min(h, w)
    nh, nw = max(crop, round(h * scale)), max(crop, round(w * scale))
    x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
    top, left = (nh - crop) // 2, (nw - crop) // 2
    x = x[:, :, top : top + crop, left : left + crop]
    return _normalise(x, IMAGENET_MEAN, IMAGENET_STD)


def preprocess_3d(frames: torch.Tensor, size: int = 112, clip_len: int = 8) -> torch.Tensor:
    """uint8 ``(n, H, W, 3)`` with n a multiple of ``clip_len`` -> ``(n/clip_len, 3, clip_len, size, size)``."""
    x = frames.permute(0, 3, 1, 2).float().div_(255.0)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    x = _normalise(x, KINETICS_MEAN, KINETICS_STD)
    n = x.shape[0] // clip_len
    return x.view(n, clip_len, 3, size, size).permute(0, 2, 1, 3, 4).contiguous()


def autocast(device: torch.device, precision: str):
    """bf16 autocast context when ``precision == 'bf16'``, else a no-op."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if precision != "fp32":
        raise ValueError(f"precision must be 'fp32' or 'bf16', got {precision!r}")
    return contextlib.nullcontext()
