"""``avvp``: the command line of avvp-pipeline. Snakemake rules call these subcommands.

Run ``avvp SUBCOMMAND --help`` for the options of each stage.
"""

from __future__ import annotations

import argparse
import errno
import json
import logging
import os
import sys
import time
from pathlib import Path

from .bench import add_parsers as add_bench_parsers
from .features.kinds import KINDS, cli_flag

log = logging.getLogger("avvp")


def _json_arg(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def _shards(args) -> dict[str, list[str]]:
    """Feature kind -> the shards given for it (kinds not given are left out)."""
    return {name: getattr(args, name) for name in KINDS if getattr(args, name)}


def _add_shard_args(p: argparse.ArgumentParser) -> None:
    """One option per feature kind (``--vggish H5 ...``, ``--clap-htsat H5 ...``); give those the model reads."""
    for name, k in KINDS.items():
        p.add_argument(
            cli_flag(name),
            dest=name,
            nargs="+",
            metavar="H5",
            help=f"{name} feature shards ({k.slot}, {k.shape[0]} x {k.shape[1]}: {k.description})",
        )


def _workflow_results() -> str | None:
    """The results folder of the Snakemake workflow running this command (its rules set the variable):
    only shards inside it are the workflow's to move aside when damaged."""
    from .features.store import WORKFLOW_RESULTS_ENV

    return os.environ.get(WORKFLOW_RESULTS_ENV) or None


def _add_runtime_args(p: argparse.ArgumentParser, threads_help: str) -> None:
    """Speed-only options: never recorded in outputs, so changing them reruns nothing."""
    p.add_argument("--threads", type=int, default=2, help=threads_help)
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1, ...")


def _set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(max(1, n))


def cmd_synth(args) -> int:
    from .data.synth import SynthSpec, generate

    spec = SynthSpec.from_dict({k: v for k, v in args.config.items() if k != "version"})
    t0 = time.perf_counter()
    generate(spec, args.videos_dir, args.annotations_dir, jobs=args.jobs, progress=not args.quiet)
    log.info(
        "wrote %d clips to %s in %.1f s",
        spec.n_train + spec.n_val + spec.n_test,
        args.videos_dir,
        time.perf_counter() - t0,
    )
    return 0


def cmd_index(args) -> int:
    from .data.index import build_index

    counts = build_index(args.annotations_dir, args.out, legacy_eval_audio=args.legacy_eval_audio)
    log.info("index %s: %s", args.out, ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def cmd_extract(args) -> int:
    from .features.runner import extract_audio_shard, extract_visual_shard

    paths = args.videos
    _set_threads(args.threads)
    cfg = {**args.config, "decode_workers": max(1, args.threads - 1) if args.threads > 1 else 0, "device": args.device}
    log.info("%s features of %d videos", args.kind, len(paths))
    t0 = time.perf_counter()
    if args.kind == "visual":
        if not (args.out_resnet152 and args.out_r2plus1d_18):
            raise ValueError("visual extraction needs --out-resnet152 and --out-r2plus1d-18")
        failures = extract_visual_shard(
            paths,
            args.out_resnet152,
            args.out_r2plus1d_18,
            args.failures,
            cfg,
            progress=not args.quiet,
            stage_cfg=args.config,
        )
    else:
        if not args.out_vggish:
            raise ValueError("audio extraction needs --out-vggish")
        failures = extract_audio_shard(
            paths, args.out_vggish, args.failures, cfg, progress=not args.quiet, stage_cfg=args.config
        )
    dt = time.perf_counter() - t0
    log.info(
        "%s: %d videos in %.1f s (%.2f videos/s), %d failed (see %s)",
        args.kind,
        len(paths),
        dt,
        len(paths) / dt if dt else 0.0,
        len(failures),
        args.failures,
    )
    return 0


def cmd_import_features(args) -> int:
    from .features.released import import_shard

    stage_cfg = {"source": "released", "released_dir": args.released_dir, **args.config}
    outputs = {name: getattr(args, f"out_{name}") for name in KINDS if getattr(args, f"out_{name}")}
    if not outputs:
        raise ValueError(
            f"import-features needs at least one of {', '.join('--out-' + cli_flag(n)[2:] for n in KINDS)}"
        )
    t0 = time.perf_counter()
    failures = import_shard(
        args.ids, args.released_dir, outputs, args.failures, stage_cfg, threads=args.threads, progress=not args.quiet
    )
    dt = time.perf_counter() - t0
    bad = len({f[0] for f in failures})
    log.info(
        "imported %d of %d videos from %s in %.1f s; %d bad files (see %s)",
        len(args.ids) - bad,
        len(args.ids),
        args.released_dir,
        dt,
        len(failures),
        args.failures,
    )
    return 0


def cmd_train(args) -> int:
    from .training.stages import train_stage

    _set_threads(args.threads)
    train_stage(
        args.model,
        args.index,
        _shards(args),
        {**args.config, "device": args.device, **_train_runtime(args)},
        args.out_dir,
        refined=args.refined,
        progress=not args.quiet,
        pseudo_labels=args.pseudo_labels,
        workflow_results=_workflow_results(),
    )
    return 0


def _train_runtime(args) -> dict:
    """The speed options given as flags (config.yaml `train.runtime`, passed by the train rule)."""
    given = {"eval_batch_size": args.eval_batch_size, "cuda_graphs": args.cuda_graphs}
    return {k: bool(v) if k == "cuda_graphs" else v for k, v in given.items() if v is not None}


def cmd_refine(args) -> int:
    from .training.stages import refine_stage

    _set_threads(args.threads)
    refine_stage(
        args.model,
        args.index,
        _shards(args),
        args.out,
        seed=args.seed,
        device=args.device,
        workflow_results=_workflow_results(),
    )
    return 0


def cmd_import_pseudo_labels(args) -> int:
    from .data.pseudo_labels import import_for_index

    stats = import_for_index(args.released_dir, args.index, args.out, args.failures, threads=args.threads)
    log.info(
        "imported the pseudo labels of %d of %d training videos from %s (%d left out: %s)",
        stats["imported"],
        stats["videos"],
        args.released_dir,
        stats["failed"],
        args.failures,
    )
    return 0


def cmd_teach_pseudo_labels(args) -> int:
    from .teachers.stage import teach_shard

    _set_threads(args.threads)
    t0 = time.perf_counter()
    stats = teach_shard(
        args.videos,
        args.index,
        args.config,
        args.out,
        args.failures,
        device=args.device,
        decode_workers=max(1, args.threads - 1) if args.threads > 1 else 0,
        progress=not args.quiet,
    )
    log.info(
        "pseudo labels of %d of %d training videos in %.1f s with %s teachers; %d failed (see %s)",
        stats["labelled"],
        stats["videos"],
        time.perf_counter() - t0,
        "RANDOM-weight" if stats["random"] else "the configured",
        stats["failed"],
        args.failures,
    )
    return 0


def cmd_merge_pseudo_labels(args) -> int:
    from .data.pseudo_labels import merge_pseudo_labels

    if len(args.shards) != len(args.shard_failures):
        raise ValueError("give one --shard-failures file per --shards file")
    stats = merge_pseudo_labels(args.shards, args.shard_failures, args.out, args.failures)
    log.info(
        "merged the pseudo labels of %d videos into %s (%d failed: %s)",
        stats["videos"],
        args.out,
        stats["failed"],
        args.failures,
    )
    return 0


def cmd_import_refined(args) -> int:
    from .data.released_refined import import_released_refined

    stats = import_released_refined(args.pkl, args.index, args.annotations_dir, args.out)
    log.info(
        "imported refined labels of %d videos from %s: %d of %d labels dropped from audio, %d from visual (%s)",
        stats["videos"],
        args.pkl,
        stats["dropped_audio"],
        stats["labels"],
        stats["dropped_visual"],
        args.out,
    )
    if stats["released_drops_unused"]:
        log.info(
            "%d drops of the file concern training videos the index does not hold (unused)",
            stats["released_drops_unused"],
        )
    return 0


def cmd_import_model(args) -> int:
    from .models.official import import_official_han

    info = import_official_han(args.file, args.out)
    log.info(
        "imported %s (%s, sha256 %s) as model han into %s; ignored %d keys of submodules its forward pass never runs",
        args.file,
        info["source"],
        info["sha256"],
        args.out,
        len(info["ignored_keys"]),
    )
    return 0


def cmd_evaluate(args) -> int:
    from .evaluation.evaluate import evaluate_model

    _set_threads(args.threads)
    result = evaluate_model(
        args.model,
        args.index,
        _shards(args),
        args.split,
        args.out_dir,
        None if args.gate == "auto" else args.gate,
        device=args.device,
        protocols=args.protocol or (),
        workflow_results=_workflow_results(),
    )
    log.info(
        "%s on %s: %s", result["model"], args.split, " ".join(f"{k}={v:.1f}" for k, v in result["f_scores"].items())
    )
    return 0


def cmd_baseline(args) -> int:
    from .evaluation.evaluate import broadcast_baseline

    result = broadcast_baseline(args.index, args.split, args.out)
    log.info(
        "broadcast baseline on %s: %s", args.split, " ".join(f"{k}={v:.1f}" for k, v in result["f_scores"].items())
    )
    return 0


def cmd_report(args) -> int:
    from .evaluation.tables import per_class_csv, results_csv, results_markdown
    from .fileio import write_text

    text = "# Results\n\n" + results_markdown(args.metrics, published=not args.no_published)
    write_text(args.out, text)
    if args.csv:
        write_text(args.csv, results_csv(args.metrics, published=not args.no_published))
    if args.per_class_csv:
        write_text(args.per_class_csv, per_class_csv(args.metrics))
    print(text)
    return 0


def cmd_parse(args) -> int:
    from .media.inputs import collect_inputs
    from .parse import ModelMismatch, is_own_output, parse_videos

    videos, skipped = collect_inputs(args.videos, leave_out=is_own_output)
    if not videos and not skipped:
        raise SystemExit("avvp parse: no video files among the inputs (folders are searched one level deep)")
    try:
        status = parse_videos(videos, args.model, args.out, args.device, progress=not args.quiet, skipped=skipped)
    except ModelMismatch as exc:
        log.error("%s", exc)
        return 2
    bad = {v: s for v, s in status.items() if s != "ok"}
    log.info(
        "parsed %d of %d videos into %s%s",
        len(status) - len(bad),
        len(status),
        args.out,
        f"; {len(bad)} failed (see {Path(args.out) / 'failures.tsv'})" if bad else "",
    )
    return 1 if bad and len(bad) == len(status) else 0


def cmd_verify(args) -> int:
    from .features.verify import verify

    return verify(args.paths, delete=args.delete, say=print)


def cmd_provenance(args) -> int:
    from .provenance import provenance

    for path in args.files:
        print(json.dumps(provenance(path), indent=2, default=str))
    return 0


def cmd_figures(args) -> int:
    from .reporting.figures import model_figures

    for path in model_figures(args.predictions, args.history, args.out_dir, args.videos):
        print(path)
    return 0


def cmd_video_page(args) -> int:
    from .reporting.model_pages import model_page

    counts = model_page(args.predictions, args.out, args.name, args.videos_dir)
    log.info("%s: %d of %d evaluated videos have a file to play", args.out, counts["shown"], counts["videos"])
    return 0


def cmd_models(args) -> int:
    from .models.registry import describe_models

    print(describe_models())
    return 0


def cmd_bench(args) -> int:
    return args.bench(args)


def build_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avvp",
        description="Weakly-supervised audio-visual video parsing pipeline (HAN / MA / CM-Co / CM-S on LLP). "
        "Each subcommand is one stage; `snakemake --cores all` runs them all in order.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    p = sub.add_parser(
        "synth",
        help="write the synthetic demo set (mp4 clips + LLP-format CSVs)",
        description="Render an LLP-like set of 10-s H.264/AAC clips with planted audio, visual and "
        "audio-visual events, and write its annotations in the LLP CSV format.",
    )
    p.add_argument("--config", type=_json_arg, default={}, help="synth options as JSON (config.yaml dataset.synth)")
    p.add_argument("--videos-dir", required=True)
    p.add_argument("--annotations-dir", required=True)
    p.add_argument("--jobs", type=int, default=1, help="worker processes")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser(
        "index",
        help="build results/dataset/index.h5 from LLP annotation CSVs",
        description="Read the split CSVs and the dense eval CSVs of an LLP-layout folder into one "
        "HDF5 index (splits, weak labels, dense truth for val/test).",
    )
    p.add_argument("--annotations-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument(
        "--legacy-eval-audio",
        action="store_true",
        help="drop the 3 audio rows the 2021 AVVP_eval_audio.csv lost (to compare with published numbers)",
    )
    p.set_defaults(func=cmd_index)

    p = sub.add_parser(
        "extract",
        help="extract one shard of visual (ResNet-152 + R(2+1)D-18) or audio (VGGish) features",
        description="Decode the videos of one shard and write per-extractor HDF5 shards. Bad videos "
        "are listed in the failures file; the shard completes with the rest.",
    )
    p.add_argument("kind", choices=["visual", "audio"])
    p.add_argument("--videos", nargs="+", required=True, metavar="MP4", help="the shard's video files")
    p.add_argument(
        "--config",
        type=_json_arg,
        default={},
        help="feature options as a flat JSON object (what config.yaml `features` sets for this kind); "
        "recorded in the shard",
    )
    _add_runtime_args(p, "threads: torch threads; with N > 1, N-1 decoder processes run beside the model")
    p.add_argument("--out-resnet152")
    p.add_argument("--out-r2plus1d-18")
    p.add_argument("--out-vggish")
    p.add_argument("--failures", required=True, help="TSV listing failed videos and why")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser(
        "import-features",
        help="import one shard of the released LLP features (.npy files)",
        usage="avvp import-features --released-dir DIR --out-KIND H5 [--out-KIND H5 ...] "
        "--failures TSV [--config JSON] [--threads N] -- ID [ID ...]",
        description="Write feature shards of some videos, one per --out-KIND option, from released "
        "features: "
        + ", ".join(f"DIR/{k.release_folder}/<id>.npy {k.shape} ({name})" for name, k in KINDS.items())
        + ", float32 (float64 is converted). Each file is "
        "read without unpickling and checked (a .npy file, float, that shape, finite); a "
        "bad file is one line (video_id, path, reason) of the failures file and leaves "
        "its video out of every shard written, the others are imported. The shards are those "
        "`avvp extract` writes (video_ids, features; has_audio, which the release does "
        "not record, is 1 for every video), with source=released, the folder and a "
        "sha256 of the imported files as provenance.",
    )
    p.add_argument(
        "--released-dir",
        required=True,
        metavar="DIR",
        help="the release's folder (holding " + ", ".join(k.release_folder + "/" for k in KINDS.values()) + ")",
    )
    p.add_argument(
        "ids",
        nargs="+",
        metavar="ID",
        help="11-character YouTube ids of the shard; put -- before them, as ids may start with '-'",
    )
    p.add_argument(
        "--config",
        type=_json_arg,
        default={},
        help="recorded in the shards with source and released_dir (the workflow passes the stage version)",
    )
    p.add_argument("--threads", type=int, default=2, help="reader threads")
    for name in KINDS:
        p.add_argument("--out-" + cli_flag(name)[2:], dest=f"out_{name}", metavar="H5", help=f"the {name} shard")
    p.add_argument("--failures", required=True, metavar="TSV", help="TSV listing bad files and why")
    p.set_defaults(func=cmd_import_features)

    p = sub.add_parser(
        "train",
        help="train a parsing model on extracted features",
        description="Train MODEL on the train split (features held in memory), select the best "
        "epoch on the validation split, write model.pt and history.json.",
    )
    p.add_argument("--model", required=True, help="model name (see avvp_pipeline.models.registry)")
    p.add_argument("--index", required=True)
    _add_shard_args(p)
    p.add_argument(
        "--config",
        type=_json_arg,
        default={},
        help="training options as JSON (recipe + config.yaml `train.options`); defaults are HAN's recipe",
    )
    p.add_argument("--refined", help="MA-refined labels (avvp refine) for the rows that train on them")
    p.add_argument("--pseudo-labels", help="segment-level pseudo labels (avvp import-pseudo-labels) for the VALOR rows")
    _add_runtime_args(p, "torch threads")
    p.add_argument("--eval-batch-size", type=int, help="speed only: videos per forward pass when scoring (256)")
    p.add_argument("--cuda-graphs", type=int, choices=(0, 1), help="speed only: 1 replays each step as a CUDA graph")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "refine",
        help="MA label refinement: modality-aware training labels from a base model",
        description="Swap each training video's audio or visual track with a label-disjoint "
        "partner, run the frozen MA base model, and drop the classes that vanish "
        "(MA, Wu & Yang, CVPR 2021). Writes audio and visual labels per training video.",
    )
    p.add_argument("--model", required=True, help="results/runs/ma_base/model.pt")
    p.add_argument("--index", required=True)
    _add_shard_args(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the partner draws (unseeded in the published code)")
    p.add_argument("--out", required=True, help="HDF5 file to write")
    _add_runtime_args(p, "torch threads")
    p.set_defaults(func=cmd_refine)

    p = sub.add_parser(
        "import-pseudo-labels",
        help="VALOR's released segment-level pseudo labels into one HDF5 file",
        description="Read CLAP/segment_pseudo_labels/<id>.npy (audio) and CLIP/segment_pseudo_labels/"
        "<id>.npy (visual), (10, 25) 0/1 per video, of the index's training videos, "
        "without unpickling; a bad or missing file is one line of the failures file and "
        "its video trains on its weak label only.",
    )
    p.add_argument("--released-dir", required=True, help="folder holding CLIP/ and CLAP/")
    p.add_argument("--index", required=True, help="results/dataset/index.h5 (avvp index)")
    p.add_argument("--out", required=True, help="HDF5 file to write (results/pseudo_labels/labels.h5)")
    p.add_argument("--failures", required=True, help="TSV of the files left out")
    p.add_argument("--threads", type=int, default=2, help="file readers")
    p.set_defaults(func=cmd_import_pseudo_labels)

    p = sub.add_parser(
        "teach-pseudo-labels",
        help="VALOR's segment-level pseudo labels of a shard of videos from the CLIP and CLAP teachers",
        description="For each training video among --videos: CLIP (visual) scores the 10 frames VALOR samples "
        "of the 8-fps frames, CLAP (audio, HTS-AT with fusion) each second of the 48 kHz soundtrack, against one "
        "caption per class; a class is on in a second when its logit is above its threshold and it is in the "
        "video's weak label. Teachers load from local transformers folders (safetensors only; nothing is "
        "downloaded) or are seeded random networks (weights: random; labelled random in the output). A video "
        "that cannot be decoded is one line of --failures. Join shards with `avvp merge-pseudo-labels`.",
        epilog='config example: {"clip": {"weights": "/w/clip-vit-large-patch14", "sha256": "..."}, '
        '"clap": {"weights": "/w/clap-htsat-fused", "thresholds": {"Dog": 3}}}; defaults: VALOR\'s captions '
        "and thresholds, weights random (small networks; random_size: full for the published sizes).",
    )
    p.add_argument("--videos", nargs="+", required=True, help="the shard's video files (<YouTube id>.mp4)")
    p.add_argument("--index", required=True, help="results/dataset/index.h5 (weak labels, training split)")
    p.add_argument("--config", type=_json_arg, default={}, help="teacher settings as JSON (see below)")
    p.add_argument("--out", required=True, help="HDF5 file to write (the pseudo-labels format)")
    p.add_argument("--failures", required=True, help="TSV of the videos left out")
    _add_runtime_args(p, "torch threads; with 2 or more, threads - 1 decoder processes run beside the teachers")
    p.set_defaults(func=cmd_teach_pseudo_labels)

    p = sub.add_parser(
        "merge-pseudo-labels",
        help="join the per-shard pseudo labels of `avvp teach-pseudo-labels` into one file",
        description="Concatenate shard files (disjoint videos, the same teacher settings: refused otherwise) "
        "into the file training reads, and their failures files into one.",
    )
    p.add_argument("--shards", nargs="+", required=True, metavar="H5")
    p.add_argument("--shard-failures", nargs="+", required=True, metavar="TSV")
    p.add_argument("--out", required=True, help="results/pseudo_labels/labels.h5")
    p.add_argument("--failures", required=True, help="results/pseudo_labels/failures.tsv")
    p.set_defaults(func=cmd_merge_pseudo_labels)

    p = sub.add_parser(
        "import-refined",
        help="MA-refined labels from the CM-Co release's need_to_change_cmco.pkl",
        description="Write the refined labels (the `avvp refine` format) from the pickle the CM-Co "
        "authors released with their code: per modality, 25 lists (LLP class order) of "
        "row indices into the released AVVP_train.csv. A class is dropped from a video's "
        "audio (visual) label where its row is in that class's audio (visual) list. Rows "
        "are matched to the index's training videos by filename; rows of videos the "
        "index lacks are unused. The file is decoded without running any of its code: "
        "a pickle naming anything but torch scalar tensors is refused.",
    )
    p.add_argument("pkl", metavar="PKL", help="need_to_change_cmco.pkl")
    p.add_argument("--index", required=True, help="results/dataset/index.h5 (avvp index)")
    p.add_argument(
        "--annotations-dir",
        required=True,
        help="folder with the released AVVP_train.csv, whose rows the pickle's indices refer to",
    )
    p.add_argument("--out", required=True, help="HDF5 file to write (results/refined/labels.h5)")
    p.set_defaults(func=cmd_import_refined)

    p = sub.add_parser(
        "import-model",
        help="a released model (the HAN authors' MMIL_Net.pt) as a model.pt",
        description="Write a model.pt from weights trained elsewhere. han-official: models/MMIL_Net.pt "
        "of the HAN authors' code release (github.com/YapengTian/AVVP-ECCV20), a state dict "
        "of their MMIL_Net, read without unpickling anything but tensors. Its keys are "
        "renamed to this project's HAN (model han, HAN's recipe and gate); every key HAN "
        "needs must be in the file with the right shape. Keys of the submodules the "
        "release builds but never runs (audio_encoder, visual_encoder, cmt_encoder, "
        "hat_encoder.norm1/norm2) are ignored and listed in the provenance, with the "
        "file's path and sha256. The model expects the released LLP features: evaluate it "
        "on shards imported from them (features.source: released); it cannot parse new "
        "videos. See docs/official-checkpoint.md.",
    )
    p.add_argument("kind", choices=["han-official"], help="where the weights come from")
    p.add_argument("file", metavar="FILE", help="the released weights (MMIL_Net.pt)")
    p.add_argument("--out", required=True, metavar="PATH", help="model.pt to write (e.g. runs/han-official/model.pt)")
    p.set_defaults(func=cmd_import_model)

    p = sub.add_parser(
        "evaluate",
        help="evaluate a trained model with the LLP protocol",
        description="Predict a split and score it with the LLP protocol: writes metrics.json "
        "(ten F-scores) and predictions.h5 (per-second probabilities).",
    )
    p.add_argument("--model", required=True, help="results/runs/NAME/model.pt")
    p.add_argument("--index", required=True)
    _add_shard_args(p)
    p.add_argument("--split", default="test")
    p.add_argument(
        "--gate",
        choices=["auto", "global", "modality"],
        default="auto",
        help="video-level gate: global prob (HAN/CM-Co) or p_a/p_v (MA's eval); auto: the model's recipe",
    )
    p.add_argument(
        "--protocol",
        action="append",
        choices=["llp", "modality", "tuned"],
        help="also score with this post-processing protocol, reported under its own name (repeatable): "
        "llp (global gate), modality (MA's gate), tuned (thresholds chosen on val)",
    )
    p.add_argument("--out-dir", required=True)
    _add_runtime_args(p, "torch threads")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("baseline", help="score the broadcast baseline (video label on every second)")
    p.add_argument("--index", required=True)
    p.add_argument("--split", default="test")
    p.add_argument("--out", required=True, help="metrics.json to write")
    p.set_defaults(func=cmd_baseline)

    p = sub.add_parser(
        "report",
        help="results tables (Markdown, CSV) from metrics.json files",
        description="One line per model in the layout of the CM-Co paper's Table 1, each "
        "followed by the paper's published figures where it reports the row. "
        "Several runs of one model (train.seeds) make one Markdown line, mean ± "
        "sample std and n over the seeds, and one CSV line per seed.",
    )
    p.add_argument("metrics", nargs="+", help="metrics.json files, one run each")
    p.add_argument("--out", required=True, help="Markdown table to write")
    p.add_argument("--csv", help="also write the table as CSV")
    p.add_argument("--per-class-csv", help="also write per-class segment-level F-scores as CSV")
    p.add_argument("--no-published", action="store_true", help="leave out the paper's published figures")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "parse",
        help="parse new videos: audio, visual and audio-visual events per second",
        description="Decode and extract each video exactly as the model's training features were "
        "(refused when the weights differ), run the model over consecutive 10-s windows, "
        "and write OUT/<name>/events.json (keys audio, visual, audio_visual: lists of "
        "{label, onset, offset, score}, seconds) and OUT/<name>/timeline.png; for people, "
        "OUT/<name>/index.html (the video under its event lanes; OUT/index.html lists "
        "them), events.csv, Audacity label tracks and events.vtt (docs/parse-page.md). "
        "<name> is the "
        "video's stem when no other input has the same stem, else its file name (clip.mp4, "
        "clip.mkv), else the file name and 8 hex digits of the SHA-256 of its resolved path "
        "(a/x.mp4, b/x.mp4); names are sanitised to stay inside OUT, and OUT/index.tsv maps "
        "each input to its folder. A file that cannot be read is reported in "
        "OUT/failures.tsv (tab-separated, csv quoting) and the others go on; so are the "
        "dangling links and pipes of a folder given (only its files are parsed; its "
        "subfolders are named in the log; dot-files are left out). OUT may hold other files "
        "(even be the videos' folder): only what avvp parse wrote (marked by .avvp-parse "
        "files) is overwritten or left out of the inputs.",
    )
    p.add_argument(
        "videos", nargs="+", metavar="VIDEO", help="video files, or folders of them (not searched recursively)"
    )
    p.add_argument("--model", required=True, help="results/runs/NAME/model.pt")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.set_defaults(func=cmd_parse)

    p = sub.add_parser(
        "verify",
        help="check feature shards against their checksums",
        description="Read every shard (files, or folders searched for shard-*.h5) and compare its "
        "content with the checksum written with it. Exit 1 when one is corrupt, or when "
        "a path does not exist or holds no shard; with --delete, remove corrupt shards "
        "so that the next snakemake run rebuilds them.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="shard files or folders (e.g. results/features/)")
    p.add_argument("--delete", action="store_true", help="delete corrupt shards")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser(
        "provenance",
        help="print what made a shard, checkpoint or metrics file",
        description="For a feature shard: extractor, weights id and sha256, extraction config, "
        "library versions. For model.pt: model, training config, code version, the "
        "features it was trained on. For metrics.json / history.json / predictions / "
        "refined labels: what they record about their inputs. JSON on stdout.",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_provenance)

    p = sub.add_parser(
        "figures",
        help="timelines, training curves, co-occurrence and t-SNE of a model (PNG)",
        description="From results/runs/NAME/predictions.h5 and history.json: timelines.png (truth and "
        "predictions of the busiest test videos), curves.png (loss and selection metric "
        "per epoch), cooccurrence.png (class co-occurrence, truth vs predictions) and "
        "tsne.png (t-SNE of the label-aware aggregated audio and visual features).",
    )
    p.add_argument("--predictions", required=True, help="results/runs/NAME/predictions.h5 (avvp evaluate)")
    p.add_argument("--history", required=True, help="results/runs/NAME/history.json (avvp train)")
    p.add_argument("--out-dir", required=True)
    p.add_argument("--videos", type=int, default=3, help="videos in timelines.png")
    p.set_defaults(func=cmd_figures)

    p = sub.add_parser(
        "video-page",
        help="a model's test videos played under its predicted events and the truth (HTML)",
        description="From runs/NAME/predictions.h5: one self-contained HTML page (no server, no "
        "network) with every evaluated video whose file is in --videos-dir, its "
        "heard / seen / heard-and-seen predictions and the truth as lanes under the player.",
    )
    p.add_argument("--predictions", required=True, help="runs/NAME/predictions.h5 (avvp evaluate)")
    p.add_argument("--name", required=True, help="the model's name, for the page's title")
    p.add_argument("--videos-dir", help="folder of <YouTube id>.mp4 (or .mkv, .webm, ...) files")
    p.add_argument("--out", required=True, help="the page to write, e.g. reports/videos/NAME.html")
    p.set_defaults(func=cmd_video_page)

    p = sub.add_parser(
        "models",
        help="list the trainable models with parameter and FLOP counts",
        description="One line per model name usable in config `train.models`: trainable "
        "parameters, GFLOPs per 10-s video, and the counts under the CM-Co paper's "
        "Table 4 convention.",
    )
    p.set_defaults(func=cmd_models)

    p = sub.add_parser(
        "bench",
        help="benchmarks (`avvp bench --help` lists them; docs/benchmarks.md)",
        description="Speed benchmarks, each against a baseline measured in the same run, and the planted-events "
        "model benchmark (docs/benchmarks.md, docs/planted-benchmark.md). `avvp bench NAME --help`: its flags.",
    )
    add_bench_parsers(p.add_subparsers(dest="what", required=True, metavar="NAME"))
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_arg_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    return run(args)


def run(args: argparse.Namespace) -> int:
    """Run the subcommand of parsed ``args``: exit status 1 with one line naming the file and the problem
    for bad input (and the traceback with ``-v``); any other exception is a bug and propagates."""
    # Start and end lines with timestamps make each rule's log say when the stage held its device.
    what = " ".join(
        [args.command]
        + [getattr(args, a) for a in ("kind", "what", "model") if isinstance(getattr(args, a, None), str)]
    )
    log.info("avvp %s started (pid %d)", what, os.getpid())
    t0 = time.perf_counter()
    try:
        rc = args.func(args)
    except (ValueError, FileNotFoundError) as exc:  # bad input: the message names the file and the problem
        if args.verbose:
            log.exception("%s", exc)
        else:
            log.error("%s", exc)
        rc = 1
    except OSError as exc:  # unwritable or full output location (inputs that cannot be read are ValueErrors)
        where = exc.filename or "a file (run with -v to see which)"
        hint = {
            errno.ENOSPC: "the disk is full",
            errno.EDQUOT: "the disk quota is exhausted",
            errno.EFBIG: "the file would exceed the largest file size allowed (ulimit -f, or the filesystem's)",
            errno.EACCES: "no permission to write there",
            errno.EROFS: "the filesystem is read-only",
            errno.ENOTDIR: "a part of the path is a file, not a folder",
            errno.EEXIST: "a file is in the way of a folder",
        }.get(exc.errno, exc.strerror or str(exc))
        log.error("cannot write %s: %s (%s)", where, hint, exc)
        rc = 1
    log.info("avvp %s %s after %.1f s", what, "finished" if not rc else f"failed (exit {rc})", time.perf_counter() - t0)
    return rc


if __name__ == "__main__":
    sys.exit(main())
