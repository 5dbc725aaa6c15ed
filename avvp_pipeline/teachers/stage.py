"""Compute VALOR's segment-level pseudo labels for one shard of videos with the CLIP and CLAP teachers.

Each training video of the shard is decoded once in a decoder process (media/: the 10 frames VALOR reads
of the 8-fps frames, and the soundtrack at 48 kHz mono through ffmpeg); CLIP labels the visual track,
CLAP the audio track, each masked to the video's weak label. A video without a soundtrack gets no audio
labels (all 0: nothing can be heard). A video that cannot be decoded is one line of the failures file and
is left out (it then trains on its weak label only); the shard completes. The shard's labels are written
through ``data/pseudo_labels.py``; :func:`merge_pseudo_labels` there joins the shards.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import transformers
from tqdm import tqdm

from .. import __version__
from ..data.index import index_classes, load_split
from ..data.llp import CLASSES
from ..data.pseudo_labels import SHAPE, write_pseudo_labels
from ..device import resolve_device
from ..features.failures import write_failures
from ..media.jobs import decode_teacher_inputs
from ..media.pool import DecoderPool
from .clap_teacher import SAMPLE_RATE, ClapTeacher
from .clip_teacher import NUM_SEGMENTS, ClipTeacher, frame_indices
from .loading import load_teacher
from .vocabulary import teacher_config, vocabulary

log = logging.getLogger(__name__)

FPS, NUM_FRAMES, DURATION = 8.0, 80, 10.0


class Teachers:
    """Both teachers, loaded once; :meth:`labels` gives a video's ``(audio, visual)`` pseudo labels."""

    def __init__(self, cfg: dict, device: str | torch.device = "auto"):
        cfg = teacher_config(cfg)
        self.cfg, self.device = cfg, resolve_device(device)
        loaded = {
            kind: load_teacher(kind, cfg[kind]["weights"], cfg[kind]["sha256"], cfg["seed"], cfg["random_size"])
            for kind in ("clip", "clap")
        }
        self.clip = ClipTeacher(loaded["clip"], vocabulary("clip", cfg["clip"]), self.device)
        self.clap = ClapTeacher(loaded["clap"], vocabulary("clap", cfg["clap"]), self.device)

    def provenance(self) -> dict:
        """What the labels were made with (recorded in the pseudo-labels file)."""
        return {
            "source": "teachers",
            "clip": {**self.clip.loaded.provenance, **self.clip.vocab.record()},
            "clap": {**self.clap.loaded.provenance, **self.clap.vocab.record()},
            "random": self.clip.loaded.is_random or self.clap.loaded.is_random,
            "frames": f"{NUM_SEGMENTS} of {NUM_FRAMES} at {FPS:g} fps, round(linspace(0, n - 1, 10))",
            "audio": f"{SAMPLE_RATE} Hz mono, 10 segments",
            "transformers_version": transformers.__version__,
            "avvp_pipeline_version": __version__,
        }

    def labels(self, frames: np.ndarray, samples: np.ndarray, has_audio: bool, weak: np.ndarray):
        """``(audio, visual)`` ``(10, 25)`` uint8 of one video."""
        visual = self.clip.labels(frames, weak)
        audio = self.clap.labels(samples, weak) if has_audio else np.zeros(SHAPE, np.uint8)
        return audio, visual


def require_llp_videos(index_path: str | Path, lengths: np.ndarray) -> None:
    """A ValueError naming the index unless its videos are what the teachers label: LLP's classes (one caption
    and threshold each) and 10-s clips."""
    classes = index_classes(index_path)[0]
    if classes != CLASSES:
        raise ValueError(
            f"{index_path}: the teachers label LLP's {len(CLASSES)} classes (VALOR's captions); this index has "
            f"{len(classes)} ({', '.join(classes[:4])}{', ...' if len(classes) > 4 else ''})"
        )
    if (lengths != NUM_SEGMENTS).any():
        raise ValueError(
            f"{index_path}: the teachers label 10-s clips; this index has videos of {lengths.min()} to "
            f"{lengths.max()} segments"
        )


def decode_job(path: str) -> tuple:
    """The decoder-process job of one video: VALOR's 10 frames of the 80 at 8 fps, and 10 s at 48 kHz."""
    return path, FPS, NUM_FRAMES, tuple(int(i) for i in frame_indices(NUM_FRAMES)), SAMPLE_RATE, DURATION


def teach_shard(
    video_paths: list[str],
    index_path: str | Path,
    cfg: dict,
    out: str | Path,
    failures_path: str | Path,
    *,
    device: str = "auto",
    decode_workers: int = 1,
    progress: bool = True,
    teachers: Teachers | None = None,
) -> dict:
    """Pseudo labels of the training videos among ``video_paths`` (others are not trained on) into ``out``,
    bad videos into ``failures_path``; return ``{"videos", "labelled", "failed", "random"}``."""
    train = load_split(index_path, "train")
    require_llp_videos(index_path, train.lengths)
    weak = {vid: train.labels[i] for i, vid in enumerate(train.video_ids)}
    paths = [str(p) for p in video_paths if Path(p).stem in weak]
    teachers = Teachers(cfg, device) if teachers is None else teachers
    provenance = teachers.provenance()
    if provenance["random"]:
        log.warning("RANDOM-weight teachers: these pseudo labels are not VALOR's (see the file's provenance)")
    ids, audio, visual, failures = [], [], [], []
    bar = tqdm(total=len(paths), desc="teachers", unit="video", disable=not progress)
    with DecoderPool(decode_workers) as pool, bar:
        for path, result, err in pool.imap(decode_teacher_inputs, [decode_job(p) for p in paths]):
            bar.update(1)
            vid = Path(path).stem
            if err is None:
                try:
                    a, v = teachers.labels(*result, weak[vid])
                except Exception as exc:  # one video must not cost the shard
                    err = f"{path}: the teachers failed: {type(exc).__name__}: {exc}"
            if err is not None:
                failures.append((vid, path, err))
                log.error("skipping %s", err)
                continue
            ids.append(vid)
            audio.append(a)
            visual.append(v)
    empty = np.zeros((0, *SHAPE), np.uint8)
    provenance.update(videos=len(ids), n_failed=len(failures))
    write_pseudo_labels(
        out, ids, np.stack(audio) if audio else empty, np.stack(visual) if visual else empty, provenance
    )
    write_failures(failures_path, failures)
    return {"videos": len(paths), "labelled": len(ids), "failed": len(failures), "random": provenance["random"]}


def embeddings(teachers: Teachers, frames: np.ndarray, samples: np.ndarray) -> dict[str, np.ndarray]:
    """A video's teacher features, as VALOR releases them: ``clip`` the L2-normalised image embeddings
    ``(10, 768)`` of its 10 frames, ``clap`` HTS-AT's feature map ``(64, 768)`` of its soundtrack
    (sizes of the published teachers; random small ones are narrower)."""
    return {
        "clip": teachers.clip.image_embeddings(frames).cpu().numpy().astype(np.float32),
        "clap": teachers.clap.feature_map(samples).cpu().numpy().astype(np.float32),
    }
