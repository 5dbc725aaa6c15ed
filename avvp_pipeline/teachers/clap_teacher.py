"""The audio teacher: CLAP (HTS-AT with feature fusion) scores each second of a clip against one caption
per class.

As VALOR does it: the clip's soundtrack at 48 kHz mono (``n`` samples) is cut into 10 segments starting at
``round(linspace(0, n, 11))[:10]``, each ``n // 10`` samples long; each segment is quantised to 16 bits and
back (as LAION-CLAP does with raw audio), repeated to fill CLAP's 10-s window and zero-padded
(``repeatpad``), and its log-mel spectrogram is the four channels of the fusion input (the whole window,
four times: a segment is shorter than 10 s). The segment's embedding (L2-normalised audio projection)
against each caption's, times ``exp(logit_scale_a)``, is the logit. One departure: LAION-CLAP and
``transformers``' feature extractor mark one random clip of a batch as "longer than 10 s" when none is,
so that the fusion layers run; here no segment is marked, as VALOR's own feature-map code does, so each
segment takes the same path and the labels do not depend on chance.

The feature map (VALOR's ``CLAP/features``) is that of the whole 10-s clip: HTS-AT's last layer, ``(64, 768)``.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .clip_teacher import NUM_SEGMENTS, threshold_labels
from .loading import LoadedTeacher
from .vocabulary import Vocabulary

SAMPLE_RATE = 48000


def segments(wave: np.ndarray, k: int = NUM_SEGMENTS) -> list[np.ndarray]:
    """VALOR's ``k`` segments of a waveform: start ``round(linspace(0, n, k + 1))[i]``, ``n // k`` samples each."""
    n = wave.shape[0]
    if n < k:
        raise ValueError(f"a soundtrack of {n} samples cannot be cut into {k} segments")
    starts = np.round(np.linspace(0, n, k + 1)).astype(np.int64)[:k]
    return [wave[s : s + n // k] for s in starts]


def quantize16(wave: np.ndarray) -> np.ndarray:
    """Round-trip through 16-bit integers, as LAION-CLAP does with the audio it embeds."""
    x = (np.clip(wave, -1.0, 1.0) * 32767.0).astype(np.int16)
    return (x / 32767.0).astype(np.float32)


class ClapTeacher:
    """CLAP over the 10 one-second segments of a 48 kHz soundtrack: logits, feature maps, pseudo labels."""

    def __init__(self, loaded: LoadedTeacher, vocab: Vocabulary, device: torch.device):
        self.loaded, self.vocab, self.device = loaded, vocab, device
        self.model = loaded.model.to(device)
        self.extractor = loaded.preprocess["feature_extractor"]
        if self.extractor.sampling_rate != SAMPLE_RATE:
            raise ValueError(f"CLAP feature extractor at {self.extractor.sampling_rate} Hz, expected {SAMPLE_RATE}")
        tokens = loaded.tokenizer(list(vocab.captions), padding=True, return_tensors="pt")
        with torch.inference_mode():
            out = self.model.text_model(
                input_ids=tokens["input_ids"].to(device), attention_mask=tokens["attention_mask"].to(device)
            )
            self.text = F.normalize(self.model.text_projection(out.pooler_output), dim=-1)
            self.scale = self.model.logit_scale_a.exp()

    def _audio(self, waves: list[np.ndarray]):
        feats = self.extractor([quantize16(w) for w in waves], sampling_rate=SAMPLE_RATE, return_tensors="pt")
        longer = torch.zeros(len(waves), 1, dtype=torch.bool, device=self.device)  # see the module doc
        return self.model.audio_model(input_features=feats["input_features"].to(self.device), is_longer=longer)

    @torch.inference_mode()
    def segment_embeddings(self, wave: np.ndarray) -> torch.Tensor:
        """``(10, D)`` L2-normalised audio embeddings of the 10 segments of ``wave`` (48 kHz mono float32)."""
        out = self._audio(segments(wave))
        return F.normalize(self.model.audio_projection(out.pooler_output), dim=-1)

    @torch.inference_mode()
    def feature_map(self, wave: np.ndarray) -> torch.Tensor:
        """HTS-AT's last-layer feature map ``(64, 768)`` of the whole clip (VALOR's ``CLAP/features``)."""
        n = SAMPLE_RATE * NUM_SEGMENTS
        if wave.shape[0] != n:  # VALOR's fit to exactly 10 s: nearest samples on a uniform grid
            wave = wave[np.round(np.linspace(0, wave.shape[0] - 1, n)).astype(np.int64)]
        hidden = self._audio([wave]).last_hidden_state  # (1, C, 2, 32)
        return hidden.flatten(2).transpose(1, 2)[0]

    @torch.inference_mode()
    def logits(self, wave: np.ndarray) -> torch.Tensor:
        """``(10, 25)`` logits of each second against each class caption."""
        return self.scale * self.segment_embeddings(wave) @ self.text.t()

    def labels(self, wave: np.ndarray, weak: np.ndarray) -> np.ndarray:
        """``(10, 25)`` uint8 audio pseudo labels, masked to the weak label ``(25,)``."""
        return threshold_labels(self.logits(wave), self.vocab.thresholds, weak)
