"""Safe reading and writing of torch files (models, checkpoints, weights): tensors and plain data only.

Files are only ever read with ``torch.load(weights_only=True)``, never unpickled beyond that, so a
crafted file cannot run code; a file that is unsafe, damaged or foreign is refused with a
:class:`CheckpointError` naming the file and the problem (never passing on torch's advice to load it
unsafely). Files are written atomically and read back the safe way before they are kept.
"""

from __future__ import annotations

import pickle
import re
import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from .fileio import atomic_output, check_regular, open_regular


class CheckpointError(ValueError):
    """A model, checkpoint or weight file that cannot be used; the message names the file and why."""


def plain(value):
    """``value`` with numpy scalars and arrays and paths turned into plain Python data (tensors kept)."""
    if isinstance(value, np.generic):  # before float: np.float64 is a float subclass, but not plain to unpickle
        return value.item()
    if isinstance(value, (str, bool, int, float, type(None), torch.Tensor)):
        return value
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    raise TypeError(f"cannot save a {type(value).__name__} in a torch file read with weights_only=True")


def save_torch_file(obj, path: str | Path, verify: bool = True) -> None:
    """Write ``obj`` atomically with ``torch.save``; with ``verify``, read it back and refuse what
    ``weights_only=True`` could not load."""
    with atomic_output(path) as tmp:
        _save(obj, tmp)
        if not verify:
            return
        try:
            torch.load(tmp, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as exc:
            raise TypeError(
                f"{path}: not written: it would hold objects other than tensors and plain data{_culprit(str(exc))}"
            ) from None


class _Writer:
    """The file object ``torch.save`` writes through, keeping the OSError of a failed write (a full
    disk), which torch reports only as a RuntimeError about a stream position."""

    def __init__(self, fh):
        self.fh, self.error = fh, None

    def write(self, data) -> int:
        try:
            return self.fh.write(data)
        except OSError as exc:
            self.error = exc
            raise

    def flush(self) -> None:
        self.fh.flush()


def _save(obj, path: Path) -> None:
    """``torch.save(obj, path)``; a failed write raises its OSError (which names no file: the caller's
    atomic output gives it the output's name)."""
    with open(path, "wb") as fh:
        writer = _Writer(fh)
        try:
            torch.save(obj, writer)
        except RuntimeError:
            if writer.error is None:
                raise
            raise writer.error from None


def read_torch_file(path: str | Path, map_location="cpu", kind: str = "a torch file written by avvp-pipeline"):
    """``torch.load(path, weights_only=True)``; a :class:`CheckpointError` for an unsafe, corrupt or foreign file.

    ``kind`` says what the file should have been, for the messages.
    """
    path = Path(path)
    check_regular(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    head = _head(path)
    if not head:
        raise CheckpointError(f"{path}: the file is empty (0 bytes), not {kind}")
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocol of foreign files
            warnings.simplefilter("ignore")
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        # torch's own message advises loading unsafely: never pass it on
        if _is_torch_format(head) and "truncated" not in str(exc):
            raise CheckpointError(
                f"{path}: not loaded: it is not {kind}; it holds objects other than tensors and "
                f"plain data{_culprit(str(exc))}, which are never unpickled"
            ) from None
        raise CheckpointError(_corrupt(path, head, kind)) from None
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    except Exception as exc:  # whatever the zip reader or unpickler trips over in a damaged or foreign file
        if "TorchScript" in str(exc):
            raise CheckpointError(f"{path}: a TorchScript archive, not {kind}") from None
        raise CheckpointError(_corrupt(path, head, kind)) from None


def _head(path: Path) -> bytes:
    try:
        with open_regular(path) as fh:
            return fh.read(4)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read it ({exc.strerror or exc})") from None


def _is_torch_format(head: bytes) -> bool:
    """A zip archive (torch.save's format) or a pickle (the legacy format)."""
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


def _corrupt(path: Path, head: bytes, kind: str) -> str:
    if _is_torch_format(head):
        return f"{path}: the file is corrupt or truncated (an incomplete or damaged torch file), not {kind}"
    return f"{path}: not a torch file (neither a torch.save zip archive nor a pickle), not {kind}"


def _culprit(message: str) -> str:
    m = re.search(r"GLOBAL ([\w.]+)", message)
    return f" (e.g. {m.group(1)})" if m else ""


def state_dict_problems(expected: Mapping, given: Mapping, show: int = 3) -> str:
    """How ``given`` does not fit a model whose ``state_dict()`` is ``expected``: '' if it fits."""
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    wrong = [
        f"{k} {_shape(given[k])} (model {_shape(v)})"
        for k, v in expected.items()
        if k in given and _shape(given[k]) != _shape(v)
    ]
    parts = []
    for what, items in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong)):
        if items:
            more = f", ... ({len(items)} in all)" if len(items) > show else ""
            parts.append(f"{what}: {', '.join(items[:show])}{more}")
    return "; ".join(parts)


def _shape(value) -> str:
    if not isinstance(value, torch.Tensor):
        return f"a {type(value).__name__}"
    return "x".join(map(str, value.shape)) or "scalar"
