"""Parse new videos with a trained model: which events are heard, seen, or both, second by second.

Each video is decoded and its features extracted with the same code and the same extraction
config as the model's training features (saved in ``model.pt``); if the weights that would be
used now differ from those the training features were made with, parsing is refused. Clips
longer than 10 s are cut into consecutive 10-s windows (the last one padded by repeating its
last frame and with silence, as short clips are in training; a remainder under 0.5 s is
dropped), decoded and extracted a few windows at a time so that long videos fit in memory
(their soundtrack is loaded whole: 230 MB per hour at 16 kHz); per-second predictions are
concatenated before events are formed, so an event can span windows.

Outputs per video, in its own folder ``OUT/<name>/``: ``events.json`` and ``timeline.png``, and for
people ``index.html`` (the video under its event lanes), ``events.csv``, Audacity label tracks and
``events.vtt`` (:mod:`avvp_pipeline.reporting.parse_pages`); ``OUT/index.html`` lists them all. The
name is the file's stem (``clip`` for ``clip.mp4``) when no other input has the same stem, else
its file name (``clip.mp4``, ``clip.mkv``), and when that is shared too (``a/x.mp4`` and
``b/x.mp4``) the file name and 8 hex digits of the SHA-256 of its resolved path
(``x.mp4-1a2b3c4d``). Names are compared ignoring case; they are sanitised to lie inside ``OUT``
(separators and control characters become ``_``, leading dots are dropped, an empty name becomes
``video``) and never take the names of the run's own files, nor the name of anything in ``OUT`` that
is not a video's folder made by avvp parse. ``OUT/index.tsv`` maps every input to
its folder (written before parsing starts); ``OUT/failures.tsv`` lists the inputs that gave no
result, with the reason. Both are tab-separated with ``csv`` quoting, so any file name survives.
Inputs that name the same file (``clip.mp4``, ``./clip.mp4``) share its folder and it is parsed once.

What avvp parse writes is marked by a ``.avvp-parse`` file (JSON, ``files``: the names it writes
there) in ``OUT`` and in each video's folder; it never overwrites anything else (a run file in ``OUT``
it did not write stops the run, :class:`OutputTaken`), and what it marks is never read as an input
(:func:`is_own_output`), so ``OUT`` may be the folder of the videos.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .data.llp import CLASSES
from .evaluation.events import events_from
from .evaluation.metrics import binarize_probs
from .features import store
from .features.audio_extractor import AudioExtractor
from .features.config import ExtractConfig
from .features.kinds import DEFAULT_KINDS, EXTRACTABLE, not_extractable
from .features.visual_extractor import VisualExtractor
from .fileio import shown, write_json, write_tsv
from .inference import predict_arrays
from .media.audio import load_audio
from .media.decode import iter_frames
from .media.probe import MediaError, MediaInfo, probe, segments_in
from .models.checkpoint import TrainedModel, load_trained

log = logging.getLogger(__name__)

RUN_FILES = ("index.tsv", "failures.tsv", "index.html")  # written into OUT beside the folders
MARKER = ".avvp-parse"  # in OUT and in each folder made for a video: what avvp parse wrote there
MAX_NAME_BYTES = 180  # of a folder name before any hash suffix (file systems allow 255)
EVENT_KEYS = ("audio", "visual", "audio_visual")


class ModelMismatch(ValueError):
    """The features a model was trained on cannot be reproduced here."""


class OutputTaken(ValueError):
    """A file in the output folder that avvp parse did not write: it is never overwritten."""


def written_here(folder: Path) -> set[str]:
    """The names of the files avvp parse wrote in ``folder``, from its marker (none without one)."""
    marker = folder / MARKER
    try:
        files = json.loads(marker.read_text(encoding="utf-8")).get("files") if marker.is_file() else None
    except (OSError, ValueError, AttributeError):  # not readable, not JSON, not an object: not a marker
        return set()
    return {f for f in files if isinstance(f, str)} if isinstance(files, list) else set()


def mark_written(folder: Path, names) -> None:
    """Record in ``folder``'s marker that avvp parse writes ``names`` there."""
    write_json({"written_by": "avvp parse", "files": sorted(written_here(folder) | set(names))}, folder / MARKER)


def _video_folder(path: Path) -> bool:
    """Whether ``path`` is a folder avvp parse made for a video."""
    return path.is_dir() and "events.json" in written_here(path)


def is_own_output(path: Path) -> bool:
    """Whether ``path`` is something avvp parse wrote: a video's folder or a run file (never a video to
    parse, when ``--out`` is, or lies in, a folder of inputs)."""
    return _video_folder(path) or path.name in written_here(path.parent)


def _folder_taken(path: Path) -> bool:
    """Whether ``path`` exists and is not a video's folder avvp parse made (so it must not be written into)."""
    return os.path.lexists(path) and not _video_folder(path)


def claim_out_dir(out_dir: Path) -> None:
    """Make ``out_dir`` and mark the run files as avvp parse's; :class:`OutputTaken` when one of them
    exists and was not written by it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ours = written_here(out_dir)
    for name in RUN_FILES:
        if os.path.lexists(out_dir / name) and name not in ours:
            raise OutputTaken(
                f"{out_dir / name}: not written by avvp parse, which never overwrites such a file; "
                "give another --out (or move the file away)"
            )
    mark_written(out_dir, RUN_FILES)


def check_extractable(model_path: str | Path, kinds: tuple[str, ...]) -> None:
    """:class:`ModelMismatch` unless a model reading ``kinds`` can parse raw video: its features must be
    the ones `avvp extract` computes (VGGish, ResNet-152, R(2+1)D-18)."""
    lacking = not_extractable(kinds)
    if lacking or tuple(kinds) != DEFAULT_KINDS:
        raise ModelMismatch(
            f"{model_path}: the model reads the feature kinds {', '.join(kinds)}; "
            f"{', '.join(lacking) or 'that combination'} cannot be extracted from raw video here (only "
            f"{', '.join(EXTRACTABLE)} can), so it cannot parse new videos; parse with a model trained on "
            "those three"
        )


@dataclass
class VideoParser:
    """A trained model with the extractors that made its training features."""

    trained: TrainedModel
    visual: VisualExtractor
    audio: AudioExtractor
    visual_cfg: ExtractConfig
    audio_cfg: ExtractConfig
    device: torch.device
    windows_per_pass: int = 6  # 10-s windows decoded and extracted together: a minute of frames in memory

    @classmethod
    def load(cls, model_path: str | Path, device: str = "auto", extraction: dict | None = None) -> VideoParser:
        """Load ``model.pt`` and build its extractors; :class:`ModelMismatch` if they would differ.
        ``extraction``: feature configs to extract with instead of the model's own, for a model trained on
        features this pipeline cannot reproduce (the official HAN: named_models.py); not checked."""
        from .device import resolve_device

        dev = resolve_device(device)
        trained = load_trained(model_path, dev)
        check_extractable(model_path, trained.kinds)
        if extraction is not None:
            return cls._build(trained, extraction, dev)
        configs = trained.feature_configs
        released = [
            k
            for k in DEFAULT_KINDS
            if isinstance((configs or {}).get(k), dict) and configs[k].get("source") == "released"
        ]
        if released:
            where = configs[released[0]].get("released_dir", "?")
            raise ModelMismatch(
                f"{model_path}: the model was trained on the released LLP features (imported from "
                f"{where}), which this pipeline cannot reproduce from new videos (the release does "
                "not record its weights or preprocessing exactly); to parse videos, train on "
                "features extracted here (features.source: extract)"
            )
        if not configs or any(configs.get(k) is None for k in DEFAULT_KINDS):
            raise ModelMismatch(
                f"{model_path}: the model does not record how its features were extracted "
                "(trained before avvp-pipeline saved feature configs); retrain it"
            )
        vp = cls._build(trained, configs, dev)
        problems = trained.extraction_mismatches(
            {name: {**weights, "config_hash": store.config_hash(configs[name])} for name, weights in vp.weights.items()}
        )
        if problems:
            raise ModelMismatch(
                f"{model_path}: cannot extract features the way the model was trained "
                f"({'; '.join(problems)}); put the same weight files in weights_dir or retrain"
            )
        return vp

    @classmethod
    def _build(cls, trained: TrainedModel, configs: dict, dev: torch.device) -> VideoParser:
        vis_cfg = ExtractConfig.from_dict({**configs["resnet152"], "device": str(dev), "decode_workers": 0})
        aud_cfg = ExtractConfig.from_dict({**configs["vggish"], "device": str(dev), "decode_workers": 0})
        return cls(trained, VisualExtractor(vis_cfg), AudioExtractor(aud_cfg), vis_cfg, aud_cfg, dev)

    @property
    def weights(self) -> dict[str, dict[str, str]]:
        """Each extractor's ``weights_id`` and ``weights_sha256``: what makes the features of a parse."""
        used = {"resnet152": self.visual.resnet_w, "r2plus1d_18": self.visual.r21d_w, "vggish": self.audio.weights}
        return {name: {"weights_id": w.weights_id, "weights_sha256": w.sha256} for name, w in used.items()}

    @property
    def gate(self) -> str:
        return self.trained.gate

    def predict(self, path: str | Path, info: MediaInfo | None = None) -> dict:
        """Per-segment probabilities and binarised events of one video (all passes); ``info``: its probe,
        probed here when not given."""
        info = probe(path) if info is None else info
        duration = info.duration
        if duration <= 0:
            raise MediaError(f"{path}: the container states no duration")
        seg = self.trained.segment_seconds
        passes, span = model_passes(duration, seg, self.trained.parse_window)
        inputs, has_audio = self._features(path, info, passes * span * seg)
        probs = predict_arrays(self.trained.net, *(x.reshape(passes, -1, x.shape[-1]) for x in inputs))
        pa, pv = binarize_probs(probs, self.gate)
        segments = min(passes * span, math.ceil(duration / seg - 1e-6))
        duration = min(duration, segments * seg)

        def joined(x: np.ndarray) -> np.ndarray:  # (passes, C, span) -> (C, segments)
            return np.concatenate(list(x), axis=1)[:, :segments]

        return {
            "duration": duration,
            "seconds": segments,
            "windows": passes,
            "has_audio": has_audio,
            "classes": self.trained.classes,
            "segment_seconds": seg,
            "pred_audio": joined(pa),
            "pred_visual": joined(pv),
            "prob_audio": joined(probs["frame_prob"][:, :, 0].transpose(0, 2, 1)),
            "prob_visual": joined(probs["frame_prob"][:, :, 1].transpose(0, 2, 1)),
        }

    def _features(self, path: str | Path, info: MediaInfo, seconds: float) -> tuple[list[np.ndarray], bool]:
        """The audio, 2D and 3D features of the first ``seconds`` of a video, each ``(rows, width)``, and
        whether it has sound. They are extracted in clips of the extractors' length (10 s; the last one
        padded by repeating its last frame and with silence), a few clips of frames in memory at a time."""
        clip = self.visual_cfg.num_frames / self.visual_cfg.fps
        clips = math.ceil(seconds / clip - 1e-9)
        per = self.visual_cfg.num_frames
        frames = iter_frames(path, self.visual_cfg.fps, clips * per, info=info)  # probed once
        feats2d, feats3d = [], []
        for first in range(0, clips, self.windows_per_pass):  # decoded frames of one group in memory
            group = [
                np.stack([next(frames) for _ in range(per)]) for _ in range(min(self.windows_per_pass, clips - first))
            ]
            y2d, y3d = self.visual(group)
            feats2d.append(y2d)
            feats3d.append(y3d)
        samples, has_audio = load_audio(path, self.audio_cfg.sample_rate, float(clips * clip), info=info)
        emb = self.audio(samples.reshape(clips, -1))
        out = []
        for x in (emb, np.concatenate(feats2d), np.concatenate(feats3d)):
            rows = round(x.shape[1] / clip * seconds)  # the clips' rows cover whole seconds
            out.append(x.reshape(-1, x.shape[-1])[:rows])
        return out, has_audio

    def weights_note(self, model_path: str | Path) -> str:
        """Which weights parse: the model file's, and the feature extractors' (random ones said so)."""
        used = {"ResNet-152": self.visual.resnet_w, "R(2+1)D-18": self.visual.r21d_w, "VGGish": self.audio.weights}
        random = [name for name, w in used.items() if w.is_random]
        named = [
            f"{name} {w.weights_id}" + (f" (sha256 {w.sha256[:12]})" if w.sha256 else "") for name, w in used.items()
        ]
        return (
            f"Weights: the model's from {shown(model_path)}; features by "
            + ", ".join(named)
            + (f" (RANDOM weights for {', '.join(random)}: not pretrained features)" if random else "")
            + "."
        )


def model_passes(duration: float, segment_seconds: float, window: int | None) -> tuple[int, int]:
    """``(passes, segments per pass)`` of the model over a video of ``duration`` seconds: windows of ``window``
    segments, where a remainder under half a second (LLP's "10-s" clips are often 10.03 s long) adds no
    window; with no ``window`` (a model trained on videos of any length), one pass over the whole video in
    the segments extraction gives a video of that length (:func:`~.media.probe.segments_in`)."""
    if window is None:
        return 1, segments_in(duration, segment_seconds)
    return max(1, math.ceil((duration - 0.5) / (window * segment_seconds))), window


def events_json(result: dict, video: str | Path, model_name: str, model_path: str | Path, gate: str) -> dict:
    """The ``events.json`` document of one parsed video."""
    both = result["pred_audio"] & result["pred_visual"]

    def found(pred: np.ndarray, prob: np.ndarray) -> list[dict]:
        classes, seconds = result.get("classes", CLASSES), result.get("segment_seconds", 1.0)  # LLP's by default
        return events_from(pred, prob, result["duration"], classes, seconds)

    return {
        "video": str(video),
        "model": model_name,
        "model_path": str(model_path),
        "gate": gate,
        "duration": round(result["duration"], 3),
        "windows": result["windows"],
        "has_audio": result["has_audio"],
        "audio": found(result["pred_audio"], result["prob_audio"]),
        "visual": found(result["pred_visual"], result["prob_visual"]),
        # heard and seen in the same seconds; score: the lower of the two segment probabilities
        "audio_visual": found(both, np.minimum(result["prob_audio"], result["prob_visual"])),
    }


def validate_events(doc: dict, classes: tuple[str, ...] = CLASSES) -> None:
    """Raise ValueError unless ``doc`` follows the events.json schema (docs/parse.md), its labels among
    ``classes`` (the model's)."""
    for key in EVENT_KEYS:
        if not isinstance(doc.get(key), list):
            raise ValueError(f"events.json: {key!r} must be a list")
        for e in doc[key]:
            if set(e) != {"label", "onset", "offset", "score"}:
                raise ValueError(f"events.json: {key} event with keys {sorted(e)}")
            if e["label"] not in classes:
                raise ValueError(f"events.json: unknown label {e['label']!r}")
            if not (0 <= e["onset"] < e["offset"]):
                raise ValueError(f"events.json: {key} event {e} needs 0 <= onset < offset")
            if not (0.0 <= e["score"] <= 1.0):
                raise ValueError(f"events.json: {key} event {e} has a score outside [0, 1]")


def safe_name(text: str) -> str:
    """``text`` as one folder name that stays inside its parent: no separators, control characters or
    leading dots (so never ``..``), not empty, valid UTF-8 and at most :data:`MAX_NAME_BYTES` bytes."""
    name = "".join(
        "_" if c in "/\\" or ord(c) < 32 or ord(c) == 127 or "\ud800" <= c <= "\udfff" else c for c in text
    ).lstrip(".")
    name = name.encode()[:MAX_NAME_BYTES].decode(errors="ignore")
    return name if name.strip() else "video"


def _path_digest(path: Path) -> str:
    return hashlib.sha256(os.fsencode(path)).hexdigest()


def _candidate(given: Path, resolved: Path, level: int) -> str:
    """Folder name of ``given`` at disambiguation ``level``: stem, file name, + short hash, + full hash,
    + full hash and a count (past names taken by the user's own files)."""
    if level == 0:
        return safe_name(given.stem)
    if level == 1:
        return safe_name(given.name)
    name = f"{safe_name(given.name)}-{_path_digest(resolved)[: 8 if level == 2 else None]}"
    return name if level <= 3 else f"{name}-{level - 3}"


def output_folders(videos: list[str | Path], out_dir: str | Path | None = None) -> dict[str, str]:
    """``{video as given: folder name inside OUT}``, one folder per file (see the module doc); with
    ``out_dir``, never a name that something there other than a folder of avvp parse already has."""
    resolved = {str(v): Path(v).resolve() for v in videos}
    files: dict[Path, Path] = {}  # resolved -> first spelling given
    for v in videos:
        files.setdefault(resolved[str(v)], Path(v))
    level = dict.fromkeys(files, 0)
    while True:
        names = {r: _candidate(g, r, level[r]) for r, g in files.items()}
        seen: dict[str, int] = {}
        for name in names.values():
            seen[name.casefold()] = seen.get(name.casefold(), 0) + 1
        clashing = [
            r
            for r, name in names.items()
            if seen[name.casefold()] > 1
            or name.casefold() in RUN_FILES
            or (out_dir is not None and _folder_taken(Path(out_dir) / name))
        ]
        if not clashing:
            break
        for r in clashing:  # the whole digest (level 3) is unique to each file: only taken names go past it
            level[r] = level[r] + 1 if level[r] < 3 or out_dir is not None else 3
    return {v: names[r] for v, r in resolved.items()}


def _parse_one(vp: VideoParser, video: str, target: Path, name: str, model_path: str | Path) -> None:
    """Write ``events.json``, ``timeline.png``, the exports and the page of one video into ``target``."""
    from .reporting.figures import save, timelines
    from .reporting.parse_pages import PAGE_FILES, write_video_outputs

    info = probe(video)  # once: decoding, the soundtrack and the page's web copy all read it
    result = vp.predict(video, info)
    target.mkdir(parents=True, exist_ok=True)
    mark_written(target, ("events.json", "timeline.png", *PAGE_FILES))  # first, so a later run may write here again
    doc = {**events_json(result, video, name, model_path, vp.gate), "weights": vp.weights}
    validate_events(doc, result["classes"])
    write_json(doc, target / "events.json")
    fig = timelines(
        [
            {
                "title": shown(Path(video).name),
                "pred_audio": result["pred_audio"],
                "pred_visual": result["pred_visual"],
                "prob_audio": result["prob_audio"],
                "prob_visual": result["prob_visual"],
            }
        ],
        f"{name}: events parsed from {shown(Path(video).name)} ({result['duration']:.1f} s)",
        result["classes"],
        seconds=result["duration"],
        segment_seconds=result["segment_seconds"],
    )
    save(fig, target / "timeline.png")
    write_video_outputs(target, doc, result, video, info, vp.weights_note(model_path))


def parse_videos(
    videos: list[str | Path],
    model_path: str | Path,
    out_dir: str | Path,
    device: str = "auto",
    progress: bool = True,
    skipped: dict[str, str] | None = None,
    extraction: dict | None = None,
) -> dict[str, str]:
    """Parse each video into its own ``out_dir/<name>/`` (see the module doc); return ``{video: "ok" or the
    error}``. One bad file never stops the others. ``out_dir/index.tsv`` maps each video to its folder;
    failures, and the inputs in ``skipped`` (``{input: reason}``, e.g. from :func:`collect_inputs`), are
    written to ``out_dir/failures.tsv``. ``extraction``: see :meth:`VideoParser.load`."""
    from tqdm import tqdm

    vp = VideoParser.load(model_path, device, extraction)
    name = vp.trained.name
    out_dir = Path(out_dir)
    claim_out_dir(out_dir)
    folders = output_folders(videos, out_dir)
    write_tsv(out_dir / "index.tsv", ["video", "folder"], [(v, f) for v, f in folders.items()])
    status: dict[str, str] = dict(skipped or {})
    done: dict[str, str] = {}  # folder -> status: a file given twice is parsed once
    for video in tqdm(videos, desc=f"parse with {name}", unit="video", disable=not progress):
        folder = folders[str(video)]
        if folder not in done:
            try:
                _parse_one(vp, str(video), out_dir / folder, name, model_path)
                done[folder] = "ok"
            except (MediaError, OSError, ValueError) as exc:
                done[folder] = str(exc)
                log.error("skipping %s", exc)
        status[str(video)] = done[folder]
    write_tsv(out_dir / "failures.tsv", ["video", "reason"], [(v, s) for v, s in status.items() if s != "ok"])
    from .reporting.parse_pages import write_parse_index

    write_parse_index(out_dir, folders, status, name)
    return status
