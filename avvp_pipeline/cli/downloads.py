"""``avvp fetch KIND`` (released files and weights) and ``avvp download videos`` (the LLP clips): what the
pipeline needs from the internet, fetched, checked and resumable (docs/downloads.md). Each parser sits
directly above its handler."""

from __future__ import annotations

from .common import log


def add_parsers(sub) -> None:
    for add in (add_fetch, add_download):
        add(sub)


def add_fetch(sub) -> None:
    from ..releases import KINDS_FETCHED

    p = sub.add_parser(
        "fetch",
        help="released features, VALOR's features, refined labels, HAN's checkpoint or the weights",
        description="Download KIND from its official source, check it and leave DIR as `avvp import` and the "
        "config read it: features (the HAN release's archive: DIR is features.released_dir), valor-features "
        "(VALOR's CLIP.zip and CLAP.zip, unpacked beside them), refined-labels (DIR/need_to_change_cmco.pkl, "
        "refine.file), han-checkpoint (DIR/MMIL_Net.pt) and weights (features.weights_dir). Interrupted "
        "downloads resume; nothing unchecked keeps its final name; a kind already fetched is only checked. "
        "AVVP_OFFLINE=1 forbids any download (docs/downloads.md).",
    )
    p.add_argument("kind", choices=KINDS_FETCHED, metavar="KIND", help=", ".join(KINDS_FETCHED))
    p.add_argument("--out", required=True, metavar="DIR", help="folder to fill")
    p.add_argument("--keep-archives", action="store_true", help="keep the downloaded archives in DIR/.downloads/")
    p.set_defaults(func=fetch)


def fetch(args) -> int:
    from ..releases import fetch_release

    fetch_release(args.kind, args.out, progress=not args.quiet, keep_archives=args.keep_archives)
    return 0


def add_download(sub) -> None:
    d = sub.add_parser(
        "download",
        help="the LLP clips from YouTube, cut and re-encoded as the release did: avvp download videos",
        description="Download what the pipeline reads from its source; `avvp download videos --help`.",
    )
    what = d.add_subparsers(dest="what", required=True, metavar="WHAT")
    p = what.add_parser(
        "videos",
        help="the LLP clips",
        description="Fetch each LLP clip (file names <YouTube id>_<start>_<end>) with yt-dlp, cut its window "
        "and re-encode it as H.264 + AAC mp4 into OUT/<id>.mp4, as the HAN release's script did. A clip "
        "already in OUT is never fetched again; an interrupted one resumes and never has its final name "
        "before it is complete. Clips that cannot be had are listed in the failures file with the reason "
        "(removed, private, geo-blocked, sign-in, http STATUS, network). docs/downloads.md.",
    )
    p.add_argument("names", nargs="*", metavar="NAME", help="LLP file names; put -- before them (ids may start with -)")
    p.add_argument("--csv", nargs="+", default=[], metavar="CSV", help="LLP CSVs whose file names to fetch")
    p.add_argument("--list", metavar="TXT", help="a file of LLP file names, one a line")
    p.add_argument("--out", required=True, metavar="DIR", help="folder of the clips (dataset.videos_dir)")
    p.add_argument("--failures", metavar="TSV", help="failures file (default: OUT/failures.tsv)")
    p.add_argument(
        "--manifest",
        metavar="TSV",
        help="also write a video manifest of the clips OUT has (what the workflow's extraction jobs read)",
    )
    p.add_argument("--jobs", type=int, default=4, help="clips fetched at once")
    p.add_argument("--rate-limit", metavar="RATE", help="bytes per second per clip, e.g. 2M or 500K")
    p.add_argument(
        "--cookies", metavar="FILE", help="a Netscape cookies file for yt-dlp (sign-in, age checks; empty: none)"
    )
    p.add_argument("--retries", type=int, default=3, help="tries after the first for network, 429 and 5xx failures")
    p.add_argument("--backoff", type=float, default=10.0, help="seconds before the first retry, doubled each time")
    p.add_argument(
        "--url-template",
        metavar="URL",
        help="where a clip's source is, with {id} for its YouTube id (default or empty: YouTube's watch URL)",
    )
    p.set_defaults(func=download)


def download(args) -> int:
    from pathlib import Path

    from ..data.llp import read_weak_labels
    from ..media.clip_download import DownloadOptions, download_clips, present_clips

    names = list(args.names)
    for csv in args.csv:
        names += read_weak_labels(csv)[0]
    if args.list:
        names += [line.strip() for line in Path(args.list).read_text().splitlines() if line.strip()]
    if not names:
        raise ValueError("avvp download videos: no clips given (NAME ..., --csv or --list)")
    rate = None
    if args.rate_limit:
        from yt_dlp.utils import parse_bytes

        rate = parse_bytes(args.rate_limit)
        if rate is None:
            raise ValueError(f"--rate-limit {args.rate_limit!r}: not a rate like 2M or 500K")
    # empty values (the workflow's rule passes every option) mean unset
    opts = DownloadOptions(args.url_template or None, args.jobs, rate, args.cookies or None, args.retries, args.backoff)
    failures = args.failures or str(Path(args.out) / "failures.tsv")
    counts = download_clips(names, args.out, failures, opts, progress=not args.quiet)
    log.info(
        "%d clips fetched into %s, %d were there already, %d could not be had (see %s)",
        counts["done"],
        args.out,
        counts["kept"],
        counts["failed"],
        failures,
    )
    if args.manifest:
        from ..features import manifest

        manifest.update(args.manifest, [str(p) for p in present_clips(names, args.out)])
    return 0
