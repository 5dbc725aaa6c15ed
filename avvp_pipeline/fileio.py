"""Small file helpers every layer uses: atomic outputs, text / JSON / TSV writers, HDF5 string datasets.

Atomic outputs: write under a temporary name beside the target, rename when complete.

A killed or failed writer never leaves a half-written file under the real name (Snakemake and
the next stage would take it for complete), and a failed one removes its temporary file, which
matters most when the disk is full. A writer killed outright (kill -9, power loss) cannot clean up:
its temporary file is removed by the next write of the same output, once its process is gone.
"""

from __future__ import annotations

import csv
import errno
import hashlib
import json
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


def temporary_path(path: str | Path, keep_suffix: bool = False) -> Path:
    """``.NAME.tmp-PID-TOKEN`` beside ``path``, unique to this call, so two writers of one path in one
    process (threads) never share it (``keep_suffix`` appends the extension, for writers that infer the
    format from it)."""
    path = Path(path)
    token = secrets.token_hex(4)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{token}{path.suffix if keep_suffix else ''}")


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except (OverflowError, ValueError):  # not a possible pid
        return False
    return True


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Delete the temporary files of ``path`` (``.NAME.tmp-PID[-TOKEN][suffix]``) whose writing process is no
    longer running on this machine; return them. Those of live processes are left alone.

    Pids are only meaningful on one machine (and pid namespace): do not write one output from two
    machines sharing a filesystem at the same time."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.tmp-(\d+)(?:-[0-9a-f]+)?(?:{re.escape(path.suffix)})?")
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except OSError:  # a missing or unlistable folder: the write itself reports what matters
        return removed
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if not match or _process_alive(int(match.group(1))):
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            size = entry.stat(follow_symlinks=False).st_size
            os.unlink(entry.path)
        except FileNotFoundError:  # removed or renamed meanwhile
            continue
        except OSError as exc:  # cleaning up is a courtesy: the write itself goes on
            log.warning("cannot remove stale temporary file %s: %s", entry.path, exc)
            continue
        log.info(
            "removed stale temporary file %s (%s) of process %s, which is no longer running",
            entry.path,
            _size(size),
            match.group(1),
        )
        removed.append(Path(entry.path))
    return removed


def _size(n: int) -> str:
    return f"{n} bytes" if n < 10**6 else f"{n / 1e6:.1f} MB"


@contextmanager
def atomic_output(path: str | Path, keep_suffix: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to ``path`` when the block succeeds, delete it when
    the block fails. An OSError that names no file (a full disk while writing) is given ``path``.
    Temporary files of ``path`` left by killed writers are removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = temporary_path(path, keep_suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = str(path)
        raise


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


#: First characters that make a spreadsheet read a cell as a formula (OWASP's CSV injection list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(text: str) -> str:
    """``text`` for a CSV/TSV cell a spreadsheet shows as text: a single quote is put before one that
    starts like a formula (or with a quote itself, so that :func:`plain_cell` undoes it exactly)."""
    return "'" + text if text.startswith((*FORMULA_STARTS, "'")) else text


def plain_cell(text: str) -> str:
    """The text :func:`spreadsheet_cell` was given."""
    return text[1:] if text.startswith("'") else text


def shown(text: str | Path) -> str:
    """``text`` (a path) for people: bytes of a file name that are not UTF-8, which Python keeps as lone
    surrogates, are shown as ``\\xNN`` escapes, so the result is valid UTF-8 and says which bytes they are."""
    return str(text).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def write_tsv(path: str | Path, header: list[str], rows: list[tuple[str, ...]]) -> None:
    """Tab-separated ``csv`` file, atomically; any text survives (tabs and newlines are quoted, and
    file names that are not UTF-8 keep their bytes) and no cell starts like a spreadsheet formula
    (:func:`spreadsheet_cell`; :func:`read_tsv` gives the rows back as they were)."""
    with atomic_output(path) as tmp, open(tmp, "w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
        minimal = csv.writer(fh, delimiter="\t", lineterminator="\n")
        quoted = csv.writer(fh, delimiter="\t", lineterminator="\n", quoting=csv.QUOTE_ALL)
        minimal.writerow(header)
        for row in rows:  # the minimal dialect quotes "\n" but not a lone "\r", which readers split at
            (quoted if any("\r" in cell for cell in row) else minimal).writerow([spreadsheet_cell(c) for c in row])


def read_tsv(path: str | Path) -> list[list[str]]:
    """The rows (header first) of a file :func:`write_tsv` wrote, each cell as it was given."""
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    return rows[:1] + [[plain_cell(c) for c in row] for row in rows[1:]]


class DamagedFile(ValueError):
    """An input whose bytes are not its format (empty, foreign, truncated); the message names it."""


class FileLocked(ValueError):
    """An HDF5 input the library could not lock for reading: busy or on a filesystem without locks."""


def unreadable(path: str | Path, exc: OSError) -> Exception:
    """The one-line error for an input ``path`` that the system would not let us read (``exc``):
    FileNotFoundError when it is missing, else a ValueError naming it and the cause."""
    if exc.errno == errno.ENOENT:
        return FileNotFoundError(f"{path}: no such file")
    cause = {
        errno.EACCES: "no permission to read it",
        errno.EPERM: "no permission to read it",
        errno.EISDIR: "a folder, not a file",
        errno.EIO: "an input/output error reading it (a failing disk or network filesystem?)",
    }.get(exc.errno, f"cannot read it ({exc.strerror or exc})")
    return ValueError(f"{path}: {cause}")


@contextmanager
def open_hdf5(path: str | Path, what: str = "an HDF5 file") -> Iterator:
    """The HDF5 input ``path`` opened for reading (``h5py.File``); one that cannot be opened raises an
    error naming it: :func:`unreadable`, :class:`FileLocked`, or :class:`DamagedFile` (``what`` says
    what the file should have been)."""
    import h5py

    check_regular(path)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise _hdf5_open_error(Path(path), exc, what) from None
    with f:
        yield f


def _hdf5_open_error(path: Path, exc: OSError, what: str) -> Exception:
    if exc.errno == errno.EAGAIN or "unable to lock file" in str(exc):
        return FileLocked(
            f"{path}: HDF5 could not lock the file for reading ({exc}); another process has it open for "
            "writing, or the filesystem has no POSIX locks (then set HDF5_USE_FILE_LOCKING=FALSE)"
        )
    if exc.errno is not None:  # h5py passes on the system's error: the file is not readable at all
        return unreadable(path, exc)
    if path.is_file() and path.stat().st_size == 0:
        return DamagedFile(f"{path}: the file is empty (0 bytes), not {what}")
    if "signature not found" in str(exc):
        return DamagedFile(
            f"{path}: cannot be read as {what}: not an HDF5 file (no HDF5 signature), or one damaged at its start"
        )
    return DamagedFile(f"{path}: cannot be read as {what}: a damaged or truncated HDF5 file ({exc})")


def write_json(obj, path: str | Path) -> None:
    """Write ``obj`` as indented JSON (UTF-8, trailing newline), atomically."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def read_json(path: str | Path):
    """The JSON document in ``path``; a ValueError naming the file when it is not JSON or cannot be read."""
    try:
        with open_regular(path, "r", encoding="utf-8") as fh:
            return json.loads(fh.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a JSON file ({exc})") from None
    except OSError as exc:
        raise unreadable(path, exc) from None


def write_strings(group, name: str, values) -> None:
    """A 1-d UTF-8 string dataset ``name`` in the HDF5 group (or file) ``group``."""
    import h5py
    import numpy as np

    group.create_dataset(
        name, data=np.array(list(values), dtype=object), dtype=h5py.string_dtype("utf-8"), track_times=False
    )


def read_strings(dataset) -> list[str]:
    """A 1-d HDF5 string dataset as Python strings."""
    return [x.decode() if isinstance(x, bytes) else x for x in dataset[:]]


class NotRegularFile(ValueError):
    """An input path that is a FIFO, device, socket or folder: opening it could block forever."""

    def __init__(self, path: str | Path, kind: str):
        super().__init__(f"{path}: {kind}, not a regular file")
        self.kind = kind


def _file_kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder")):
        if test(mode):
            return name
    return "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a file"


def check_regular(path: str | Path) -> None:
    """:class:`NotRegularFile` when ``path`` exists and is not a regular file (links are followed);
    for inputs opened by libraries (HDF5, torch) that would block on a FIFO. A missing file passes:
    its opener says so."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if not stat.S_ISREG(mode):
        raise NotRegularFile(path, _file_kind(mode))


def open_regular(path: str | Path, mode: str = "rb", **kwargs):
    """``open(path, mode)`` for reading an input, refused (:class:`NotRegularFile`) unless it is a regular
    file; the check is made on the opened file, which is opened without blocking (a FIFO would wait
    for a writer forever)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        st_mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(st_mode):
            raise NotRegularFile(path, _file_kind(st_mode))
        os.set_blocking(fd, True)
        return open(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open_regular(path) as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
