"""``avvp fetch KIND`` (released files and weights) and ``avvp download videos`` (the LLP clips): what the
pipeline needs from the internet, fetched, checked and resumable (docs/downloads.md). Each parser sits
directly above its handler."""

from __future__ import annotations


def add_parsers(sub) -> None:
    for add in (add_fetch,):
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
