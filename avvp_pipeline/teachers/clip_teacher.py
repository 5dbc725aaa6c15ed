"""The visual teacher: CLIP scores 10 frames of a clip (one per second) against one caption per class.

As VALOR samples them: of the clip's frames at 8 fps (80 for 10 s), the 10 at indices
``round(linspace(0, n - 1, 10))``; each is resized to 224 x 224 (bilinear without antialiasing, what
torchvision's ``Resize`` did to tensors in the version VALOR ran; no crop) and normalised with CLIP's
mean and std. The logits are CLIP's ``logits_per_image`` (cosine similarity of the
L2-normalised image and caption embeddings times ``exp(logit_scale)``); a class is on in a second when its
logit is above its threshold and the class is in the video's weak label.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.transforms.functional import resize

from .loading import LoadedTeacher
from .vocabulary import Vocabulary

NUM_SEGMENTS = 10


def frame_indices(n: int, k: int = NUM_SEGMENTS) -> np.ndarray:
    """The ``k`` frames of ``n`` that VALOR's CLIP teacher reads: ``round(linspace(0, n - 1, k))``."""
    if n < 1:
        raise ValueError("a clip without frames")
    return np.round(np.linspace(0, n - 1, k)).astype(np.int64)


def threshold_labels(logits: torch.Tensor | np.ndarray, thresholds, weak: np.ndarray) -> np.ndarray:
    """``(10, 25)`` uint8: ``logit > threshold`` for the classes of the weak label ``(25,)``, 0 elsewhere."""
    logits = torch.as_tensor(logits).float().cpu().numpy()
    on = logits > np.asarray(thresholds, dtype=np.float32)[None, :]
    return (on & (np.asarray(weak)[None, :] > 0)).astype(np.uint8)


class ClipTeacher:
    """CLIP over the 10 sampled frames of a clip: logits, image embeddings and pseudo labels."""

    def __init__(self, loaded: LoadedTeacher, vocab: Vocabulary, device: torch.device):
        self.loaded, self.vocab, self.device = loaded, vocab, device
        self.model = loaded.model.to(device)
        pre = loaded.preprocess
        self.size = int(pre["image_size"])
        self.mean = torch.tensor(pre["image_mean"], device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(pre["image_std"], device=device).view(1, 3, 1, 1)
        tokens = loaded.tokenizer(text=list(vocab.captions), padding=True, return_tensors="pt")
        with torch.inference_mode():
            out = self.model.text_model(
                input_ids=tokens["input_ids"].to(device), attention_mask=tokens["attention_mask"].to(device)
            )
            self.text = F.normalize(self.model.text_projection(out.pooler_output), dim=-1)
            self.scale = self.model.logit_scale.exp()

    def pixels(self, frames: np.ndarray) -> torch.Tensor:
        """``(k, H, W, 3)`` uint8 RGB -> ``(k, 3, 224, 224)`` normalised float."""
        x = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device).permute(0, 3, 1, 2).float() / 255.0
        x = resize(x, [self.size, self.size], antialias=False)
        return (x - self.mean) / self.std

    @torch.inference_mode()
    def image_embeddings(self, frames: np.ndarray) -> torch.Tensor:
        """L2-normalised image embeddings ``(10, D)`` of the 10 sampled frames (``(10, H, W, 3)`` uint8);
        D = 768 for ViT-L/14, VALOR's ``CLIP/features``."""
        out = self.model.vision_model(pixel_values=self.pixels(frames))
        return F.normalize(self.model.visual_projection(out.pooler_output), dim=-1)

    @torch.inference_mode()
    def logits(self, frames: np.ndarray) -> torch.Tensor:
        """``(10, 25)`` logits of each sampled frame against each class caption."""
        return self.scale * self.image_embeddings(frames) @ self.text.t()

    def labels(self, frames: np.ndarray, weak: np.ndarray) -> np.ndarray:
        """``(10, 25)`` uint8 visual pseudo labels, masked to the weak label ``(25,)``."""
        return threshold_labels(self.logits(frames), self.vocab.thresholds, weak)
