"""The commands people run by hand: ``avvp parse``, ``verify``, ``provenance``, ``models``. Each parser sits
directly above its handler."""

from __future__ import annotations

import json
from pathlib import Path

from .common import log


def add_parsers(sub) -> None:
    for add in (add_parse, add_verify, add_provenance, add_models):
        add(sub)


def add_parse(sub) -> None:
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
        "files) is overwritten or left out of the inputs. See docs/parse.md.",
    )
    p.add_argument(
        "videos", nargs="+", metavar="VIDEO", help="video files, or folders of them (not searched recursively)"
    )
    p.add_argument(
        "--model",
        required=True,
        help="results/runs/NAME/model.pt, or han-official: the HAN authors' released model, fetched and "
        "converted on first use into $AVVP_CACHE_DIR (default ~/.cache/avvp), its features extracted with "
        "the pretrained weights (docs/parse.md)",
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.set_defaults(func=parse)


def parse(args) -> int:
    from ..media.inputs import collect_inputs
    from ..named_models import is_named, resolve_model
    from ..parse import ModelMismatch, is_own_output, parse_videos

    videos, skipped = collect_inputs(args.videos, leave_out=is_own_output)
    if not videos and not skipped:
        raise SystemExit("avvp parse: no video files among the inputs (folders are searched one level deep)")
    model, extraction = (
        resolve_model(args.model, progress=not args.quiet) if is_named(args.model) else (args.model, None)
    )
    try:
        status = parse_videos(
            videos, model, args.out, args.device, progress=not args.quiet, skipped=skipped, extraction=extraction
        )
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


def add_verify(sub) -> None:
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
    p.set_defaults(func=verify)


def verify(args) -> int:
    from ..features.verify import verify as verify_shards

    return verify_shards(args.paths, delete=args.delete, say=print)


def add_provenance(sub) -> None:
    p = sub.add_parser(
        "provenance",
        help="print what made a shard, checkpoint or metrics file",
        description="For a feature shard: extractor, weights id and sha256, extraction config, "
        "library versions. For model.pt: model, training config, code version, the "
        "features it was trained on. For metrics.json / history.json / predictions / "
        "refined labels: what they record about their inputs. JSON on stdout.",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=provenance)


def provenance(args) -> int:
    from ..provenance import provenance as describe

    for path in args.files:
        print(json.dumps(describe(path), indent=2, default=str))
    return 0


def add_models(sub) -> None:
    p = sub.add_parser(
        "models",
        help="list the trainable models with parameter and FLOP counts",
        description="One line per model name usable in config `train.models`: trainable "
        "parameters, GFLOPs per 10-s video, and the counts under the CM-Co paper's "
        "Table 4 convention (docs/models-and-evaluation.md, section 11).",
    )
    p.set_defaults(func=models)


def models(args) -> int:
    from ..models.registry import describe_models

    print(describe_models())
    return 0
