"""What the ``avvp`` commands share: the logger, JSON options, the option shapes several commands take (config,
model inputs, outputs and failures, threads), the per-kind shard options, the speed options."""

from __future__ import annotations

import argparse
import json
import logging
import os

from ..features.kinds import KINDS, cli_flag

log = logging.getLogger("avvp")


def json_arg(text: str) -> dict:
    """An argparse type: a JSON object."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def add_config_arg(p: argparse.ArgumentParser, text: str) -> None:
    """``--config JSON``: a stage's options as one JSON object (``{}`` when not given)."""
    p.add_argument("--config", type=json_arg, default={}, help=text)


def add_model_inputs(p: argparse.ArgumentParser, model_help: str) -> None:
    """What a command that runs a model reads: ``--model``, ``--index`` and the feature shards."""
    p.add_argument("--model", required=True, help=model_help)
    p.add_argument("--index", required=True)
    add_shard_args(p)


def add_output_args(p: argparse.ArgumentParser, out_help: str, failures_help: str) -> None:
    """A command's output file (``--out``) and the TSV of what it left out (``--failures``)."""
    p.add_argument("--out", required=True, help=out_help)
    p.add_argument("--failures", required=True, help=failures_help)


def add_threads_arg(p: argparse.ArgumentParser, text: str) -> None:
    """``--threads N`` (default 2)."""
    p.add_argument("--threads", type=int, default=2, help=text)


def shards(args) -> dict[str, list[str]]:
    """Feature kind -> the shards given for it (kinds not given are left out)."""
    return {name: getattr(args, name) for name in KINDS if getattr(args, name)}


def add_shard_args(p: argparse.ArgumentParser) -> None:
    """One option per feature kind (``--vggish H5 ...``, ``--clap-htsat H5 ...``); give those the model reads."""
    for name, k in KINDS.items():
        p.add_argument(
            cli_flag(name),
            dest=name,
            nargs="+",
            metavar="H5",
            help=f"{name} feature shards ({k.slot}, {k.shape[0]} x {k.shape[1]}: {k.description})",
        )


def add_video_args(p: argparse.ArgumentParser, what: str) -> None:
    """The videos a stage reads: listed (``--videos``) or in a manifest file (``--video-list``, what the
    workflow's rules pass: one short input per shard)."""
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--videos", nargs="+", metavar="VIDEO", help=what)
    g.add_argument(
        "--video-list", metavar="TSV", help="a file manifest listing them (features/manifests/videos-shard-K.tsv)"
    )


def video_paths(args) -> list[str]:
    """The videos given by ``add_video_args``' options."""
    from ..features.manifest import read_files

    return args.videos if args.videos else read_files(args.video_list)


def workflow_results() -> str | None:
    """The results folder of the Snakemake workflow running this command (its rules set the variable):
    only shards inside it are the workflow's to move aside when damaged."""
    from ..features.store import WORKFLOW_RESULTS_ENV

    return os.environ.get(WORKFLOW_RESULTS_ENV) or None


def add_runtime_args(p: argparse.ArgumentParser, threads_help: str) -> None:
    """Speed-only options: never recorded in outputs, so changing them reruns nothing."""
    add_threads_arg(p, threads_help)
    p.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda, cuda:1, ...")


def set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(max(1, n))


def decode_workers(threads: int) -> int:
    """Decoder processes beside the model: all threads but one, none with one thread."""
    return max(1, threads - 1) if threads > 1 else 0
