"""``avvp``: the command line of avvp-pipeline, one module per audience: the workflow's stages
(``stages.py``), ``avvp import KIND`` (``imports.py``), the tools people run by hand (``tools.py``) and the
benchmarks (``bench.py``). This module builds the parser and runs a command with the shared error handling."""

from __future__ import annotations

import argparse
import errno
import logging
import os
import sys
import time

from . import bench, downloads, imports, stages, tools
from .common import log

GROUPS = [
    ("stages (the workflow's rules run these)", stages),
    ("downloads (from the internet: docs/downloads.md)", downloads),
    ("imports (released data and models)", imports),
    ("tools", tools),
    ("benchmarks", bench),
]


class _Listing:
    """Stands in for the subcommands action while a group adds its commands, noting each one's help."""

    def __init__(self, sub) -> None:
        self.sub, self.lines = sub, []

    def add_parser(self, name: str, **kwargs) -> argparse.ArgumentParser:
        self.lines.append(f"  {name:<21}{kwargs.get('help', '')}")
        return self.sub.add_parser(name, **kwargs)


def build_arg_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="avvp",
        usage="avvp [-h] [-q] [-v] COMMAND ...",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Weakly-supervised audio-visual video parsing (HAN / MA / CM-Co / VALOR on LLP).\n"
        "`snakemake --cores all` runs the stages in order; `avvp COMMAND --help` shows a command's options;\n"
        "README.md and docs/ describe them.",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", help=argparse.SUPPRESS, prog="avvp")
    sections = []
    for title, group in GROUPS:
        listing = _Listing(sub)
        group.add_parsers(listing)
        sections.append("\n".join([title + ":", *listing.lines]))
    parser.epilog = "\n\n".join(sections)
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
        + [getattr(args, a) for a in ("what", "kind", "model") if isinstance(getattr(args, a, None), str)]
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
        log.error("cannot write %s", _os_error(exc))
        rc = 1
    log.info("avvp %s %s after %.1f s", what, "finished" if not rc else f"failed (exit {rc})", time.perf_counter() - t0)
    return rc


def _os_error(exc: OSError) -> str:
    """The path and the cause of an error writing an output, in words."""
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
    return f"{where}: {hint} ({exc})"
