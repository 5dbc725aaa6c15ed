"""Parse new videos with a trained model: which events are heard, seen, or both, second by second.

Each video is decoded and its features extracted with the same code and the same extraction
config as the model's training features (saved in ``model.pt``); if the weights that would be
used now differ from those the training features were made with, parsing is refused. Clips
longer than 10 s are cut into consecutive 10-s windows (the last one padded by repeating its
last frame and with silence, as short clips are in training; a remainder under 0.5 s is
dropped), decoded and extracted a few windows at a time so that long videos fit in memory
(their soundtrack is loaded whole: 230 MB per hour at 16 kHz); per-second predictions are
concatenated before events are formed, so an event can span windows. Outputs per video, in
``OUT/<video name>/``: ``events.json`` and ``timeline.png``.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .atomic import write_text
from .data.llp import CLASSES
from .evaluation.evaluate import write_json
from .evaluation.metrics import binarize_predictions
from .features import store
from .features.runner import AudioExtractor, ExtractConfig, VisualExtractor
from .media.audio import load_audio
from .media.decode import iter_frames
from .media.probe import MediaError, probe
from .training.data import EXTRACTORS
from .training.trainer import load_model

log = logging.getLogger(__name__)

WINDOW = 10  # seconds per model input
EVENT_KEYS = ("audio", "visual", "audio_visual")


class ModelMismatch(ValueError):
    """The features a model was trained on cannot be reproduced here."""


@dataclass
class Parser:
    """A trained model with the extractors that made its training features."""

    model: torch.nn.Module
    ckpt: dict
    visual: VisualExtractor
    audio: AudioExtractor
    visual_cfg: ExtractConfig
    audio_cfg: ExtractConfig
    device: torch.device
    windows_per_pass: int = 6  # 10-s windows decoded and extracted together: a minute of frames in memory

    @classmethod
    def load(cls, model_path: str | Path, device: str = "auto") -> "Parser":
        """Load ``model.pt`` and build its extractors; :class:`ModelMismatch` if they would differ."""
        from .device import resolve_device

        dev = resolve_device(device)
        model, ckpt = load_model(model_path, dev)
        configs = ckpt.get("feature_configs")
        if not configs or any(configs.get(k) is None for k in EXTRACTORS):
            raise ModelMismatch(f"{model_path}: the model does not record how its features were extracted "
                                "(trained before avvp-pipeline saved feature configs); retrain it")
        vis_cfg = ExtractConfig.from_dict({**configs["resnet152"], "device": str(dev), "decode_workers": 0})
        aud_cfg = ExtractConfig.from_dict({**configs["vggish"], "device": str(dev), "decode_workers": 0})
        visual, audio = VisualExtractor(vis_cfg), AudioExtractor(aud_cfg)
        now = {"resnet152": (visual.resnet_w, configs["resnet152"]), "r2plus1d_18": (visual.r21d_w, configs["r2plus1d_18"]),
               "vggish": (audio.weights, configs["vggish"])}
        problems = []
        for name, (w, stage_cfg) in now.items():
            mine = {"weights_id": w.weights_id, "weights_sha256": w.sha256, "config_hash": store.config_hash(stage_cfg)}
            trained = ckpt["features"][name]
            for key in ("weights_id", "weights_sha256", "config_hash"):
                if str(mine[key]) != str(trained[key]):
                    problems.append(f"{name} {key}: model trained with {trained[key]!r}, here {mine[key]!r}")
        if problems:
            raise ModelMismatch(f"{model_path}: cannot extract features the way the model was trained "
                                f"({'; '.join(problems)}); put the same weight files in weights_dir or retrain")
        return cls(model, ckpt, visual, audio, vis_cfg, aud_cfg, dev)

    @property
    def gate(self) -> str:
        return self.ckpt["train_config"].get("gate", "global")

    def predict(self, path: str | Path) -> dict:
        """Per-second probabilities and binarised events of one video (all windows)."""
        info = probe(path)
        duration = info.duration
        if duration <= 0:
            raise MediaError(f"{path}: the container states no duration")
        # a remainder under half a second (LLP's "10-s" clips are often 10.03 s long) adds no window
        windows = max(1, math.ceil((duration - 0.5) / WINDOW))
        per = self.visual_cfg.num_frames
        frames = iter_frames(path, self.visual_cfg.fps, windows * per)
        feats2d, feats3d = [], []
        for first in range(0, windows, self.windows_per_pass):  # decoded frames of one pass in memory
            group = [np.stack([next(frames) for _ in range(per)])
                     for _ in range(min(self.windows_per_pass, windows - first))]
            y2d, y3d = self.visual(group)
            feats2d.append(y2d)
            feats3d.append(y3d)
        y2d, y3d = np.concatenate(feats2d), np.concatenate(feats3d)
        samples, has_audio = load_audio(path, self.audio_cfg.sample_rate, float(windows * WINDOW))
        emb = self.audio(samples.reshape(windows, -1))
        with torch.inference_mode():
            out = self.model(*(torch.from_numpy(x).to(self.device) for x in (emb, y2d, y3d)))
        probs = {k: getattr(out, k).float().cpu().numpy() for k in ("global_prob", "audio_prob", "visual_prob",
                                                                       "frame_prob")}
        pa, pv = binarize_predictions(probs["frame_prob"], probs["global_prob"], gate=self.gate,
                                      audio_prob=probs["audio_prob"], visual_prob=probs["visual_prob"])
        seconds = min(windows * WINDOW, math.ceil(duration - 1e-6))
        duration = min(duration, float(seconds))

        def joined(x: np.ndarray) -> np.ndarray:  # (W, 25, 10) -> (25, seconds)
            return np.concatenate(list(x), axis=1)[:, :seconds]

        return {"duration": duration, "seconds": seconds, "windows": windows, "has_audio": has_audio,
                "pred_audio": joined(pa), "pred_visual": joined(pv),
                "prob_audio": joined(probs["frame_prob"][:, :, 0].transpose(0, 2, 1)),
                "prob_visual": joined(probs["frame_prob"][:, :, 1].transpose(0, 2, 1))}


def events_from(pred: np.ndarray, prob: np.ndarray, duration: float) -> list[dict]:
    """Runs of ones in ``pred`` (25, S) as ``{label, onset, offset, score}``; ``offset`` capped at ``duration``."""
    events = []
    for c in range(pred.shape[0]):
        padded = np.concatenate([[0], pred[c].astype(int), [0]])
        d = np.diff(padded)
        for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1)):
            events.append({"label": CLASSES[c], "onset": float(a), "offset": round(min(float(b), duration), 3),
                           "score": round(float(np.clip(prob[c, a:b].mean(), 0.0, 1.0)), 4)})
    return sorted(events, key=lambda e: (e["onset"], e["label"]))


def events_json(result: dict, video: str | Path, model_name: str, model_path: str | Path, gate: str) -> dict:
    """The ``events.json`` document of one parsed video."""
    both = result["pred_audio"] & result["pred_visual"]
    return {
        "video": str(video), "model": model_name, "model_path": str(model_path), "gate": gate,
        "duration": round(result["duration"], 3), "windows": result["windows"], "has_audio": result["has_audio"],
        "audio": events_from(result["pred_audio"], result["prob_audio"], result["duration"]),
        "visual": events_from(result["pred_visual"], result["prob_visual"], result["duration"]),
        # heard and seen in the same seconds; score: the lower of the two segment probabilities
        "audio_visual": events_from(both, np.minimum(result["prob_audio"], result["prob_visual"]), result["duration"]),
    }


def validate_events(doc: dict) -> None:
    """Raise ValueError unless ``doc`` follows the events.json schema (docs/parse.md)."""
    for key in EVENT_KEYS:
        if not isinstance(doc.get(key), list):
            raise ValueError(f"events.json: {key!r} must be a list")
        for e in doc[key]:
            if set(e) != {"label", "onset", "offset", "score"}:
                raise ValueError(f"events.json: {key} event with keys {sorted(e)}")
            if e["label"] not in CLASSES:
                raise ValueError(f"events.json: unknown label {e['label']!r}")
            if not (0 <= e["onset"] < e["offset"]):
                raise ValueError(f"events.json: {key} event {e} needs 0 <= onset < offset")
            if not (0.0 <= e["score"] <= 1.0):
                raise ValueError(f"events.json: {key} event {e} has a score outside [0, 1]")


def parse_videos(videos: list[str | Path], model_path: str | Path, out_dir: str | Path, device: str = "auto",
                 progress: bool = True) -> dict[str, str]:
    """Parse each video into ``out_dir/<name>/``; return ``{video: "ok" or the error}``. One bad file never
    stops the others; a failure is also written to ``out_dir/failures.tsv``."""
    from tqdm import tqdm

    from .reporting.figures import save, timelines

    parser = Parser.load(model_path, device)
    name = parser.ckpt["model_name"]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    status: dict[str, str] = {}
    for video in tqdm(videos, desc=f"parse with {name}", unit="video", disable=not progress):
        try:
            result = parser.predict(video)
        except (MediaError, OSError, ValueError) as exc:
            status[str(video)] = str(exc)
            log.error("skipping %s", exc)
            continue
        target = out_dir / Path(video).stem
        target.mkdir(parents=True, exist_ok=True)
        doc = events_json(result, video, name, model_path, parser.gate)
        validate_events(doc)
        write_json(doc, target / "events.json")
        fig = timelines([{"title": Path(video).name, "pred_audio": result["pred_audio"],
                          "pred_visual": result["pred_visual"], "prob_audio": result["prob_audio"],
                          "prob_visual": result["prob_visual"]}],
                        f"{name}: events parsed from {Path(video).name} ({result['duration']:.1f} s)",
                        seconds=result["duration"])
        save(fig, target / "timeline.png")
        status[str(video)] = "ok"
    failures = {v: s for v, s in status.items() if s != "ok"}
    write_text(out_dir / "failures.tsv", "video\treason\n" + "".join(f"{v}\t{s}\n" for v, s in failures.items()))
    return status
