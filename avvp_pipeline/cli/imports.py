"""``avvp import KIND``: bring what others released into the workflow's formats (features, a trained model,
VALOR's pseudo labels, CM-Co's refined labels). Each parser sits directly above its handler."""

from __future__ import annotations

import time

from ..features.kinds import KINDS, RELEASES, cli_flag
from .common import add_config_arg, add_output_args, add_threads_arg, log


def add_parsers(sub) -> None:
    p = sub.add_parser(
        "import",
        help="released features, model, pseudo labels, refined labels or noise ratios: avvp import KIND",
        description="Import what others released into the workflow's own formats; `avvp import KIND --help` "
        "for each (docs/released-features.md, docs/official-checkpoint.md, docs/teachers.md, "
        "docs/refined-labels.md).",
    )
    kinds = p.add_subparsers(dest="what", required=True, metavar="KIND")
    for add in (add_features, add_model, add_pseudo_labels, add_refined, add_noise_ratios):
        add(kinds)


def add_features(sub) -> None:
    p = sub.add_parser(
        "features",
        help="one shard of the released LLP or LFAV features (.npy files)",
        usage="avvp import features --released-dir DIR [--release llp|lfav] --out-KIND H5 [--out-KIND H5 ...] "
        "--failures TSV [--config JSON] [--threads N] -- ID [ID ...]",
        description="Write feature shards of some videos, one per --out-KIND option, from released "
        "features. LLP's: "
        + ", ".join(f"DIR/{k.release_folder}/<id>.npy {k.shape} ({n})" for n, k in KINDS.items() if k.release_folder)
        + "; LFAV's (--release lfav), one row per second of a video of T seconds: "
        + ", ".join(f"DIR/{k.lfav_folder}/<id>.npy (T, {k.width}) ({n})" for n, k in KINDS.items() if k.lfav_folder)
        + "; float32 (float64 is converted). Each file is "
        "read without unpickling and checked (a .npy file, float, that shape, finite); a "
        "bad file is one line (video_id, path, reason) of the failures file and leaves "
        "its video out of every shard written, the others are imported. The shards are those "
        "`avvp extract` writes (video_ids, features; has_audio, which the release does "
        "not record, is 1 for every video), with source=released, the folder and a "
        "sha256 of the imported files as provenance (docs/released-features.md).",
    )
    p.add_argument(
        "--released-dir",
        required=True,
        metavar="DIR",
        help="the release's folder (holding the folders above)",
    )
    p.add_argument(
        "--release",
        choices=RELEASES,
        default="llp",
        help="whose release: its folder names and shapes (default: llp)",
    )
    p.add_argument(
        "ids",
        nargs="+",
        metavar="ID",
        help="11-character YouTube ids of the shard; put -- before them, as ids may start with '-'",
    )
    add_config_arg(p, "recorded in the shards with source and released_dir (the workflow passes the stage version)")
    add_threads_arg(p, "reader threads")
    for name in KINDS:
        p.add_argument("--out-" + cli_flag(name)[2:], dest=f"out_{name}", metavar="H5", help=f"the {name} shard")
    p.add_argument("--failures", required=True, metavar="TSV", help="TSV listing bad files and why")
    p.set_defaults(func=features)


def features(args) -> int:
    from ..features.released import import_shard

    stage_cfg = {"source": "released", "released_dir": args.released_dir, **args.config}
    if args.release != "llp":  # LLP's shards record what they always did
        stage_cfg["release"] = args.release
    outputs = {name: getattr(args, f"out_{name}") for name in KINDS if getattr(args, f"out_{name}")}
    if not outputs:
        raise ValueError(
            f"avvp import features needs at least one of {', '.join('--out-' + cli_flag(n)[2:] for n in KINDS)}"
        )
    t0 = time.perf_counter()
    failures = import_shard(
        args.ids,
        args.released_dir,
        outputs,
        args.failures,
        stage_cfg,
        threads=args.threads,
        progress=not args.quiet,
        release=args.release,
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


def add_model(sub) -> None:
    p = sub.add_parser(
        "model",
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
    p.set_defaults(func=model)


def model(args) -> int:
    from ..models.official import import_official_han

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


def add_pseudo_labels(sub) -> None:
    p = sub.add_parser(
        "pseudo-labels",
        help="VALOR's released segment-level pseudo labels into one HDF5 file",
        description="Read CLAP/segment_pseudo_labels/<id>.npy (audio) and CLIP/segment_pseudo_labels/"
        "<id>.npy (visual), (10, 25) 0/1 per video, of the index's training videos, "
        "without unpickling; a bad or missing file is one line of the failures file and "
        "its video trains on its weak label only (docs/teachers.md).",
    )
    p.add_argument("--released-dir", required=True, help="folder holding CLIP/ and CLAP/")
    p.add_argument("--index", required=True, help="results/dataset/index.h5 (avvp index)")
    add_output_args(p, "HDF5 file to write (results/pseudo_labels/labels.h5)", "TSV of the files left out")
    add_threads_arg(p, "file readers")
    p.set_defaults(func=pseudo_labels)


def pseudo_labels(args) -> int:
    from ..data.pseudo_labels import import_for_index

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


def add_refined(sub) -> None:
    p = sub.add_parser(
        "refined",
        help="MA-refined labels from the CM-Co release's need_to_change_cmco.pkl",
        description="Write the refined labels (the `avvp refine` format) from the pickle the CM-Co "
        "authors released with their code: per modality, 25 lists (LLP class order) of "
        "row indices into the released AVVP_train.csv. A class is dropped from a video's "
        "audio (visual) label where its row is in that class's audio (visual) list. Rows "
        "are matched to the index's training videos by filename; rows of videos the "
        "index lacks are unused. The file is decoded without running any of its code: "
        "a pickle naming anything but torch scalar tensors is refused (docs/refined-labels.md).",
    )
    p.add_argument("pkl", metavar="PKL", help="need_to_change_cmco.pkl")
    p.add_argument("--index", required=True, help="results/dataset/index.h5 (avvp index)")
    p.add_argument(
        "--annotations-dir",
        required=True,
        help="folder with the released AVVP_train.csv, whose rows the pickle's indices refer to",
    )
    p.add_argument("--out", required=True, help="HDF5 file to write (results/refined/labels.h5)")
    p.set_defaults(func=refined)


def refined(args) -> int:
    from ..data.released_refined import import_released_refined

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


def add_noise_ratios(sub) -> None:
    p = sub.add_parser(
        "noise-ratios",
        help="JoMoLD's noise ratios from the official code's noise_ratios.npz",
        description="Write the noise-ratio file (the `avvp noise-ratios` format) from the noise_ratios.npz "
        "that JoMoLD's official main.py writes in its calculate_noise_ratio mode (arrays audio and "
        "visual, 25 ratios in LLP class order). Read without unpickling: an object array is refused.",
    )
    p.add_argument("npz", metavar="NPZ", help="noise_ratios.npz")
    p.add_argument("--out", required=True, help="HDF5 file to write")
    p.set_defaults(func=noise_ratios)


def noise_ratios(args) -> int:
    from ..data.noise_ratios import import_official

    import_official(args.npz, args.out)
    log.info("imported noise ratios from %s (%s)", args.npz, args.out)
    return 0
