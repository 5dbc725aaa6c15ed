"""One run at a time per results folder: an ``flock`` on a file inside it, held for the run's life.

Snakemake's own lock is per working folder, so two working folders sharing a ``results_dir`` would
interleave their writes. The main snakemake process of a real run takes this lock (the Snakefile's
``onstart``); the file records the holder (host, pid, working folder) for the refusal's message. The
kernel releases the lock when the holder exits, however it exits, so a leftover file never blocks a run.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time

#: The lock file's name inside ``results_dir``.
LOCK_NAME = ".avvp-run.lock"

_held: dict[str, object] = {}  # lock file (real path) -> its open file, kept open for the process's life


class ResultsLocked(ValueError):
    """Another run holds the results folder; the message names the folder and the holder."""


def _holder() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "workdir": os.getcwd(), "since": time.ctime()}


def describe(record: str) -> str:
    """The holder recorded in a lock file, in words."""
    try:
        h = json.loads(record)
        return f"host {h['host']}, pid {h['pid']}, working folder {h['workdir']}, since {h['since']}"
    except (ValueError, KeyError, TypeError):
        return "holder not recorded yet"


def lock_results(results_dir: str) -> None:
    """Hold ``results_dir``'s lock until this process exits; ResultsLocked when another process holds it."""
    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(results_dir, LOCK_NAME)
    key = os.path.realpath(path)
    if key in _held:
        return
    f = open(path, "a+", encoding="utf-8")  # not truncated: the holder's record stays readable
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        record = f.read()
        f.close()
        raise ResultsLocked(
            f"results_dir {results_dir} is in use by another run ({describe(record)}): wait for it to "
            "finish, or give this run a results_dir of its own"
        ) from None
    f.seek(0)
    f.truncate()
    f.write(json.dumps(_holder()) + "\n")
    f.flush()
    _held[key] = f
