"""The stages the Snakemake rules run, in workflow order: ``avvp synth``, ``index``, ``extract``, ``train``,
``refine``, ``teach-pseudo-labels``, ``merge-pseudo-labels``, ``evaluate``, ``baseline``, ``report``, ``figures``,
``video-page``. Each parser sits directly above its handler."""

from __future__ import annotations

import time

from .common import (
    add_config_arg,
    add_model_inputs,
    add_output_args,
    add_runtime_args,
    add_shard_args,
    add_video_args,
    decode_workers,
    json_arg,
    log,
    set_threads,
    shards,
    video_paths,
    workflow_results,
)


def add_parsers(sub) -> None:
    for add in (
        add_synth,
        add_index,
        add_extract,
        add_train,
        add_refine,
        add_noise_ratios,
        add_teach_pseudo_labels,
        add_merge_pseudo_labels,
        add_evaluate,
        add_baseline,
        add_report,
        add_figures,
        add_video_page,
    ):
        add(sub)


def add_synth(sub) -> None:
    p = sub.add_parser(
        "synth",
        help="write the synthetic demo set (mp4 clips + LLP-format CSVs or a custom data set's files)",
        description="Render an LLP-like set of H.264/AAC clips with planted audio, visual and "
        "audio-visual events, and write its annotations in the LLP CSV format (10-s clips of LLP classes) "
        'or, with "layout": "custom" in --config, as a custom data set (any classes and lengths; '
        "docs/datasets.md). README.md: the demo.",
    )
    add_config_arg(
        p, "synth options as JSON (config.yaml dataset.synth); layout: custom writes a custom data set's files"
    )
    p.add_argument("--videos-dir", required=True)
    p.add_argument("--annotations-dir", required=True)
    p.add_argument("--jobs", type=int, default=1, help="worker processes")
    p.set_defaults(func=synth)


def synth(args) -> int:
    from ..data.synth.generator import generate
    from ..data.synth.spec import SynthSpec

    spec = SynthSpec.from_dict({k: v for k, v in args.config.items() if k not in ("version", "layout")})
    t0 = time.perf_counter()
    layout = args.config.get("layout", "llp")
    generate(spec, args.videos_dir, args.annotations_dir, jobs=args.jobs, progress=not args.quiet, layout=layout)
    log.info(
        "wrote %d clips to %s in %.1f s",
        spec.n_train + spec.n_val + spec.n_test,
        args.videos_dir,
        time.perf_counter() - t0,
    )
    return 0


def add_index(sub) -> None:
    p = sub.add_parser(
        "index",
        help="build results/dataset/index.h5 from LLP annotation CSVs or a data set's files",
        description="Read the split CSVs and the dense eval CSVs of an LLP-layout folder into one "
        "HDF5 index (splits, weak labels, dense truth for val/test; docs/paper-protocol.md); with --dataset, "
        "the files of an lfav or custom data set (docs/datasets.md), each video as long as its features.",
    )
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--annotations-dir", help="an LLP annotation folder")
    g.add_argument("--dataset", type=json_arg, help="the config's dataset section as JSON (name, annotations_dir, ...)")
    p.add_argument("--out", required=True)
    p.add_argument(
        "--legacy-eval-audio",
        action="store_true",
        help="drop the 3 audio rows the 2021 AVVP_eval_audio.csv lost (to compare with published numbers)",
    )
    p.add_argument("--lengths-from", nargs="+", default=[], metavar="H5", help="--dataset: the videos' feature shards")
    p.add_argument("--warnings", help="--dataset: the TSV of the problems handled in its files (file, line, ...)")
    p.set_defaults(func=index)


def index(args) -> int:
    from ..data.datasets.config import read_dataset
    from ..data.index import build_index, shard_segments, write_dataset_index

    if args.dataset is None:
        counts = build_index(args.annotations_dir, args.out, legacy_eval_audio=args.legacy_eval_audio)
    else:
        if not args.warnings:
            raise ValueError("avvp index --dataset needs --warnings (where the handled problems are listed)")
        lengths = shard_segments(args.lengths_from)
        dataset = read_dataset(args.dataset, args.warnings, lengths=lengths)
        counts = write_dataset_index(args.out, dataset, {"annotations_dir": str(args.dataset["annotations_dir"])})
    log.info("index %s: %s", args.out, ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def add_extract(sub) -> None:
    p = sub.add_parser(
        "extract",
        help="extract one shard of visual (ResNet-152 + R(2+1)D-18) or audio (VGGish) features",
        description="Decode the videos of one shard and write per-extractor HDF5 shards. Bad videos "
        "are listed in the failures file; the shard completes with the rest (docs/benchmarks.md: speed).",
    )
    p.add_argument("kind", choices=["visual", "audio"])
    add_video_args(p, "the shard's video files")
    add_config_arg(
        p,
        "feature options as a flat JSON object (what config.yaml `features` sets for this kind); recorded in the shard",
    )
    add_runtime_args(p, "threads: torch threads; with N > 1, N-1 decoder processes run beside the model")
    p.add_argument("--out-resnet152")
    p.add_argument("--out-r2plus1d-18")
    p.add_argument("--out-vggish")
    p.add_argument("--failures", required=True, help="TSV listing failed videos and why")
    p.set_defaults(func=extract)


def extract(args) -> int:
    from ..features.runner import extract_audio_shard, extract_visual_shard

    paths = video_paths(args)
    set_threads(args.threads)
    cfg = {**args.config, "decode_workers": decode_workers(args.threads), "device": args.device}
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


def add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train a parsing model on extracted features",
        description="Train MODEL on the train split (features held in memory), select the best "
        "epoch on the validation split, write model.pt and history.json (docs/models-and-evaluation.md).",
    )
    add_model_inputs(p, "model name (avvp models)")
    add_config_arg(p, "training options as JSON (recipe + config.yaml `train.options`); defaults are HAN's recipe")
    p.add_argument("--refined", help="MA-refined labels (avvp refine) for the rows that train on them")
    p.add_argument("--pseudo-labels", help="segment-level pseudo labels (avvp import pseudo-labels) for the VALOR rows")
    p.add_argument("--noise-ratios", help="JoMoLD's per-class noise ratios (avvp noise-ratios) for the jomold row")
    p.add_argument("--label-embeddings", help="class embeddings for the LEAP rows (llp_label_glove_embeddings.pt)")
    add_runtime_args(p, "torch threads")
    p.add_argument("--eval-batch-size", type=int, help="speed only: videos per forward pass when scoring (256)")
    p.add_argument("--cuda-graphs", type=int, choices=(0, 1), help="speed only: 1 replays each step as a CUDA graph")
    p.add_argument("--out-dir", required=True)
    p.set_defaults(func=train)


def train(args) -> int:
    from ..training.stages import train_stage

    set_threads(args.threads)
    train_stage(
        args.model,
        args.index,
        shards(args),
        {**args.config, "device": args.device, **_train_runtime(args)},
        args.out_dir,
        refined=args.refined,
        progress=not args.quiet,
        pseudo_labels=args.pseudo_labels,
        workflow_results=workflow_results(),
        noise_ratios=args.noise_ratios,
        label_embeddings=args.label_embeddings,
    )
    return 0


def _train_runtime(args) -> dict:
    """The speed options given as flags (config.yaml `train.runtime`, passed by the train rule)."""
    given = {"eval_batch_size": args.eval_batch_size, "cuda_graphs": args.cuda_graphs}
    return {k: bool(v) if k == "cuda_graphs" else v for k, v in given.items() if v is not None}


def add_refine(sub) -> None:
    p = sub.add_parser(
        "refine",
        help="MA label refinement: modality-aware training labels from a base model",
        description="Swap each training video's audio or visual track with a label-disjoint "
        "partner, run the frozen MA base model, and drop the classes that vanish "
        "(MA, Wu & Yang, CVPR 2021). Writes audio and visual labels per training video "
        "(docs/models-and-evaluation.md, section 7).",
    )
    add_model_inputs(p, "results/runs/ma_base/model.pt")
    p.add_argument("--seed", type=int, default=0, help="seed of the partner draws (unseeded in the published code)")
    p.add_argument("--out", required=True, help="HDF5 file to write")
    add_runtime_args(p, "torch threads")
    p.set_defaults(func=refine)


def refine(args) -> int:
    from ..training.stages import refine_stage

    set_threads(args.threads)
    refine_stage(
        args.model,
        args.index,
        shards(args),
        args.out,
        seed=args.seed,
        device=args.device,
        workflow_results=workflow_results(),
    )
    return 0


def add_noise_ratios(sub) -> None:
    p = sub.add_parser(
        "noise-ratios",
        help="JoMoLD's per-class noise ratios from a trained jomold-estimator",
        description="Run the trained JoMoLD noise estimator over the train split and write, per class and "
        "modality, the share of its labelled videos taken for label noise (JoMoLD, Cheng et al., ECCV 2022; "
        "docs/models-and-evaluation.md, section 8.5). The jomold row trains with the file (avvp train "
        "--noise-ratios).",
    )
    add_model_inputs(p, "results/runs/jomold-estimator/model.pt")
    p.add_argument("--audio-threshold", type=float, default=0.6, help="a_thres of the official code (0.6)")
    p.add_argument("--visual-threshold", type=float, default=1.8, help="v_thres of the official code (1.8)")
    p.add_argument("--batch-size", type=int, default=128, help="batches whose means make a class's mean (128)")
    p.add_argument("--out", required=True, help="HDF5 file to write")
    add_runtime_args(p, "torch threads")
    p.set_defaults(func=noise_ratios)


def noise_ratios(args) -> int:
    from ..training.stages import noise_ratio_stage

    set_threads(args.threads)
    noise_ratio_stage(
        args.model,
        args.index,
        shards(args),
        args.out,
        args.audio_threshold,
        args.visual_threshold,
        args.batch_size,
        device=args.device,
        workflow_results=workflow_results(),
    )
    return 0


def add_teach_pseudo_labels(sub) -> None:
    p = sub.add_parser(
        "teach-pseudo-labels",
        help="VALOR's segment-level pseudo labels of a shard of videos from the CLIP and CLAP teachers",
        description="For each training video among --videos: CLIP (visual) scores the 10 frames VALOR samples "
        "of the 8-fps frames, CLAP (audio, HTS-AT with fusion) each second of the 48 kHz soundtrack, against one "
        "caption per class; a class is on in a second when its logit is above its threshold and it is in the "
        "video's weak label. Teachers load from local transformers folders (safetensors only; nothing is "
        "downloaded) or are seeded random networks (weights: random; labelled random in the output). A video "
        "that cannot be decoded is one line of --failures. Join shards with `avvp merge-pseudo-labels`. "
        "See docs/teachers.md.",
        epilog='config example: {"clip": {"weights": "/w/clip-vit-large-patch14", "sha256": "..."}, '
        '"clap": {"weights": "/w/clap-htsat-fused", "thresholds": {"Dog": 3}}}; defaults: VALOR\'s captions '
        "and thresholds, weights random (small networks; random_size: full for the published sizes).",
    )
    add_video_args(p, "the shard's video files (<YouTube id>.mp4)")
    p.add_argument("--index", required=True, help="results/dataset/index.h5 (weak labels, training split)")
    add_config_arg(p, "teacher settings as JSON (see below)")
    add_output_args(p, "HDF5 file to write (the pseudo-labels format)", "TSV of the videos left out")
    add_runtime_args(p, "torch threads; with 2 or more, threads - 1 decoder processes run beside the teachers")
    p.set_defaults(func=teach_pseudo_labels)


def teach_pseudo_labels(args) -> int:
    from ..teachers.stage import teach_shard

    set_threads(args.threads)
    t0 = time.perf_counter()
    stats = teach_shard(
        video_paths(args),
        args.index,
        args.config,
        args.out,
        args.failures,
        device=args.device,
        decode_workers=decode_workers(args.threads),
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


def add_merge_pseudo_labels(sub) -> None:
    p = sub.add_parser(
        "merge-pseudo-labels",
        help="join the per-shard pseudo labels of `avvp teach-pseudo-labels` into one file",
        description="Concatenate shard files (disjoint videos, the same teacher settings: refused otherwise) "
        "into the file training reads, and their failures files into one (docs/teachers.md).",
    )
    p.add_argument("--shards", nargs="+", required=True, metavar="H5")
    p.add_argument("--shard-failures", nargs="+", required=True, metavar="TSV")
    add_output_args(p, "results/pseudo_labels/labels.h5", "results/pseudo_labels/failures.tsv")
    p.set_defaults(func=merge_pseudo_labels)


def merge_pseudo_labels(args) -> int:
    from ..data.pseudo_labels import merge_pseudo_labels as merge

    if len(args.shards) != len(args.shard_failures):
        raise ValueError("give one --shard-failures file per --shards file")
    stats = merge(args.shards, args.shard_failures, args.out, args.failures)
    log.info(
        "merged the pseudo labels of %d videos into %s (%d failed: %s)",
        stats["videos"],
        args.out,
        stats["failed"],
        args.failures,
    )
    return 0


def add_evaluate(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="evaluate a trained model with the LLP protocol",
        description="Predict a split and score it with the LLP protocol: writes metrics.json "
        "(ten F-scores) and predictions.h5 (per-second probabilities; docs/models-and-evaluation.md, section 10).",
    )
    add_model_inputs(p, "results/runs/NAME/model.pt")
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
    p.add_argument(
        "--scorer",
        choices=["llp", "lfav"],
        default="llp",
        help="llp: the ten F-scores; lfav: LFAV's protocol (its modality gate, the F-scores, snippet mAPs and "
        "selection score; docs/models-and-evaluation.md, section 10.9)",
    )
    p.add_argument("--out-metrics", required=True, help="metrics.json to write")
    p.add_argument("--out-predictions", required=True, help="predictions.h5 to write")
    add_runtime_args(p, "torch threads")
    p.set_defaults(func=evaluate)


def evaluate(args) -> int:
    from ..evaluation.evaluate import evaluate_model

    set_threads(args.threads)
    result = evaluate_model(
        args.model,
        args.index,
        shards(args),
        args.split,
        args.out_metrics,
        args.out_predictions,
        None if args.gate == "auto" else args.gate,
        device=args.device,
        protocols=args.protocol or (),
        workflow_results=workflow_results(),
        scorer=args.scorer,
    )
    log.info(
        "%s on %s: %s", result["model"], args.split, " ".join(f"{k}={v:.1f}" for k, v in result["f_scores"].items())
    )
    return 0


def add_baseline(sub) -> None:
    p = sub.add_parser(
        "baseline",
        help="score the broadcast baseline (video label on every second)",
        description="Score the broadcast baseline: each video's weak label on every second, over the "
        "split's videos that the feature shards given hold in every kind (those a model is scored on; "
        "all of the split's videos without shards; docs/models-and-evaluation.md, section 8).",
    )
    p.add_argument("--index", required=True)
    add_shard_args(p)
    p.add_argument("--split", default="test")
    p.add_argument("--out", required=True, help="metrics.json to write")
    p.set_defaults(func=baseline)


def baseline(args) -> int:
    from ..evaluation.evaluate import broadcast_baseline

    result = broadcast_baseline(args.index, args.split, args.out, shards(args))
    log.info(
        "broadcast baseline on %s: %s", args.split, " ".join(f"{k}={v:.1f}" for k, v in result["f_scores"].items())
    )
    return 0


def add_report(sub) -> None:
    p = sub.add_parser(
        "report",
        help="results tables (Markdown, CSV) from metrics.json files",
        description="One line per model in the layout of the CM-Co paper's Table 1, each "
        "followed by the paper's published figures where it reports the row. "
        "Several runs of one model (train.seeds) make one Markdown line, mean ± "
        "sample std and n over the seeds, and one CSV line per seed (docs/seeds.md).",
    )
    p.add_argument("metrics", nargs="+", help="metrics.json files, one run each")
    p.add_argument("--out", required=True, help="Markdown table to write")
    p.add_argument("--csv", help="also write the table as CSV")
    p.add_argument("--per-class-csv", help="also write per-class segment-level F-scores as CSV")
    p.add_argument("--no-published", action="store_true", help="leave out the paper's published figures")
    p.add_argument(
        "--video-lists",
        nargs="+",
        default=[],
        metavar="TSV",
        help="the shards' video manifests: the report then states how many clips of each split were "
        "available of those listed (needs --index)",
    )
    p.add_argument("--index", help="results/dataset/index.h5: the clips each split lists")
    p.add_argument(
        "--download-failures", nargs="+", default=[], metavar="TSV", help="why missing clips could not be downloaded"
    )
    p.set_defaults(func=report)


def report(args) -> int:
    from ..evaluation.tables import per_class_csv, results_csv, results_markdown
    from ..fileio import write_text

    text = "# Results\n\n" + results_markdown(args.metrics, published=not args.no_published)
    if args.video_lists:
        from ..evaluation.availability import clips_markdown, split_clips

        if not args.index:
            raise ValueError("avvp report: --video-lists needs --index (the clips each split lists)")
        text += "\n" + clips_markdown(split_clips(args.index, args.video_lists, args.download_failures))
    write_text(args.out, text)
    if args.csv:
        write_text(args.csv, results_csv(args.metrics, published=not args.no_published))
    if args.per_class_csv:
        write_text(args.per_class_csv, per_class_csv(args.metrics))
    print(text)
    return 0


def add_figures(sub) -> None:
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
    p.set_defaults(func=figures)


def figures(args) -> int:
    from ..reporting.figures import model_figures

    for path in model_figures(args.predictions, args.history, args.out_dir, args.videos):
        print(path)
    return 0


def add_video_page(sub) -> None:
    p = sub.add_parser(
        "video-page",
        help="a model's test videos played under its predicted events and the truth (HTML)",
        description="From runs/NAME/predictions.h5: one self-contained HTML page (no server, no "
        "network) with every evaluated video whose file is in --videos-dir, its "
        "heard / seen / heard-and-seen predictions and the truth as lanes under the player "
        "(docs/parse-page.md).",
    )
    p.add_argument("--predictions", required=True, help="runs/NAME/predictions.h5 (avvp evaluate)")
    p.add_argument("--name", required=True, help="the model's name, for the page's title")
    p.add_argument("--videos-dir", help="folder of <YouTube id>.mp4 (or .mkv, .webm, ...) files")
    p.add_argument("--out", required=True, help="the page to write, e.g. reports/videos/NAME.html")
    p.set_defaults(func=video_page)


def video_page(args) -> int:
    from ..reporting.model_pages import model_page

    counts = model_page(args.predictions, args.out, args.name, args.videos_dir)
    log.info("%s: %d of %d evaluated videos have a file to play", args.out, counts["shown"], counts["videos"])
    return 0
