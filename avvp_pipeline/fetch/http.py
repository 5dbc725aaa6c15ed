"""The one door to the network: every download of the pipeline goes through :func:`download` (or
:func:`download_drive` for Google Drive, :func:`hub_download` for the Hugging Face Hub, and
:func:`require_online` before yt-dlp runs).

A file is written to ``TARGET.part`` beside its target, resumed there with an HTTP ``Range`` request
after a kill or a dropped connection (restarted when the server ignores ``Range``), checked against
its expected size and hash, and only then renamed to ``TARGET``: nothing unverified ever has the final
name. 429, 5xx and dropped connections are retried with exponential back-off; 404, 410 and other client
errors are final. Errors are one line naming the URL, the target and the reason.

Base URLs come from :data:`BASES`; ``AVVP_BASE_URL_<NAME>`` overrides one (``HF_ENDPOINT`` the Hub's).
``AVVP_OFFLINE=1`` (or ``offline=True``) forbids any network access: the functions raise
:class:`Offline` before a socket is opened.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import http.client
import os
import re
import shutil
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

# name -> base URL (the videos' entry is a template with {id})
BASES = {
    "pytorch": "https://download.pytorch.org/models",
    "github": "https://github.com",
    "github-raw": "https://raw.githubusercontent.com",
    "google-drive": "https://drive.google.com",
    "huggingface": "https://huggingface.co",
    "youtube": "https://www.youtube.com/watch?v={id}",
}
OFFLINE_ENV = "AVVP_OFFLINE"
RETRIES = 5  # tries after the first, for 429, 5xx and dropped connections
BACKOFF = 2.0  # seconds before the first retry; doubled each time
MAX_WAIT = 120.0  # longest wait between tries, Retry-After included
TIMEOUT = 60.0  # seconds without a byte before a connection counts as dropped
CHUNK = 1 << 20
PROGRESS_MIN = 1 << 20  # bytes: smaller downloads show no progress bar
FINAL_STATUS = {404: "not found (HTTP 404)", 410: "gone (HTTP 410)"}


class FetchError(ValueError):
    """A download that failed or was refused: one line naming the URL, the target and the reason."""

    def __init__(self, url: str, target: str | Path, reason: str, status: int | None = None) -> None:
        super().__init__(f"cannot fetch {url} to {target}: {reason}")
        self.url, self.target, self.reason, self.status = url, str(target), reason, status


class Offline(FetchError):
    """Raised instead of opening a socket when offline mode is on."""


def base(name: str) -> str:
    """The base URL called ``name``: ``$AVVP_BASE_URL_<NAME>`` (``-`` as ``_``), else the Hub's
    ``$HF_ENDPOINT`` for ``huggingface``, else :data:`BASES`."""
    env = os.environ.get("AVVP_BASE_URL_" + name.upper().replace("-", "_"))
    if env:
        return env
    if name == "huggingface" and os.environ.get("HF_ENDPOINT"):
        return os.environ["HF_ENDPOINT"]
    return BASES[name]


def url(name: str, path: str) -> str:
    """``path`` under the base URL called ``name``."""
    return base(name).rstrip("/") + "/" + path.lstrip("/")


def is_offline(offline: bool | None = None) -> bool:
    """``offline`` when given, else whether ``$AVVP_OFFLINE`` is set to something other than 0 / false / no."""
    if offline is not None:
        return offline
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def require_online(url: str, target: str | Path, offline: bool | None = None) -> None:
    """Raise :class:`Offline` when offline mode is on: call before anything that opens a socket."""
    if is_offline(offline):
        raise Offline(url, target, f"offline mode is on ({OFFLINE_ENV}); put the file there yourself")


@dataclass(frozen=True)
class Expect:
    """What a downloaded file must be: its size, sha256, a prefix of its sha256 (the hex digits
    torchvision and torch.hub put in file names) or its git blob id (a file pinned by a repository's
    commit). Unset fields are not checked."""

    size: int | None = None
    sha256: str | None = None
    sha256_prefix: str | None = None
    git_blob: str | None = None

    def problem(self, path: Path) -> str | None:
        """Why the file at ``path`` is not this file, or None."""
        size = path.stat().st_size
        if self.size is not None and size != self.size:
            return f"{size} bytes, expected {self.size}"
        if not (self.sha256 or self.sha256_prefix or self.git_blob):
            return None
        sha, blob = hashlib.sha256(), hashlib.sha1(f"blob {size}\0".encode())
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(CHUNK), b""):
                sha.update(block)
                blob.update(block)
        digest = sha.hexdigest()
        if self.sha256 and digest != self.sha256:
            return f"sha256 {digest}, expected {self.sha256}"
        if self.sha256_prefix and not digest.startswith(self.sha256_prefix):
            return f"sha256 {digest[:16]}..., expected it to start with {self.sha256_prefix}"
        if self.git_blob and blob.hexdigest() != self.git_blob:
            return f"git blob id {blob.hexdigest()}, expected {self.git_blob}"
        return None


class _Retry(Exception):
    """A failure worth another try; ``wait`` is the server's Retry-After, if any."""

    def __init__(self, reason: str, status: int | None = None, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status, self.wait = reason, status, wait


def part_path(target: str | Path) -> Path:
    """Where a download of ``target`` is written before it is checked."""
    target = Path(target)
    return target.with_name(target.name + ".part")


def lock_path(target: str | Path) -> Path:
    """The lock file two processes fetching ``target`` take turns through (there only during a fetch)."""
    target = Path(target)
    return target.with_name(target.name + ".lock")


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    """Hold ``TARGET.lock`` so that two processes fetching one file (parallel jobs) take turns; the
    holder deletes it when done, so none is left beside the file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    lock = lock_path(target)
    while True:
        fh = open(lock, "a")
        fcntl.flock(fh, fcntl.LOCK_EX)
        if _same_file(fh, lock):
            break
        fh.close()  # the holder before us deleted it: a waiter on the old file must lock the new one
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)  # before the lock is released: nobody can lock a path we delete
        fh.close()


def _same_file(fh, path: Path) -> bool:
    """Whether the open file ``fh`` is still the file at ``path``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    return os.path.samestat(os.fstat(fh.fileno()), st)


def download(
    url: str,
    target: str | Path,
    expect: Expect = Expect(),
    *,
    retries: int = RETRIES,
    backoff: float = BACKOFF,
    timeout: float = TIMEOUT,
    progress: bool = True,
    offline: bool | None = None,
) -> Path:
    """Fetch ``url`` to ``target`` (checked against ``expect``) and return ``target``; a target already
    there that passes the checks is kept and nothing is fetched."""
    target = Path(target)
    with _locked(target):
        if target.is_file() and expect.problem(target) is None:
            return target
        require_online(url, target, offline)
        part = part_path(target)
        _with_retries(lambda: _transfer(url, part, timeout, progress), url, target, retries, backoff)
        return _publish(part, target, expect, url)


def download_drive(
    file_id: str,
    target: str | Path,
    expect: Expect = Expect(),
    *,
    retries: int = RETRIES,
    backoff: float = BACKOFF,
    timeout: float = TIMEOUT,
    progress: bool = True,
    offline: bool | None = None,
) -> Path:
    """:func:`download` of a Google Drive file through ``gdown``, which follows Drive's confirmation page
    for large files and resumes its own partial file; checked and renamed here like any download."""
    target = Path(target)
    source = url("google-drive", f"uc?id={file_id}")
    with _locked(target):
        if target.is_file() and expect.problem(target) is None:
            return target
        require_online(source, target, offline)
        staged = part_path(target)  # gdown writes beside it and renames its own partial file to it when done
        _with_retries(lambda: _gdown(source, staged, timeout, progress), source, target, retries, backoff)
        return _publish(staged, target, expect, source)


def _gdown(source: str, staged: Path, timeout: float, progress: bool) -> None:
    import gdown
    import requests

    try:
        gdown.download(source, str(staged), quiet=not progress, resume=True, use_cookies=False, timeout=timeout)
    except requests.HTTPError as exc:
        raise status_failure(exc.response.status_code, exc.response.reason, exc.response.headers) from None
    except gdown.exceptions.FileURLRetrievalError as exc:  # a Drive page instead of the file
        raise _Final("Google Drive did not give the file: " + str(exc).strip().splitlines()[0]) from None
    except (requests.RequestException, gdown.exceptions.DownloadError, OSError) as exc:
        raise _Retry(f"the connection dropped: {_reason(exc)}") from None


def hub_download(
    repo_id: str,
    filename: str,
    revision: str,
    target: str | Path,
    expect: Expect = Expect(),
    *,
    repo_type: str = "dataset",
    retries: int = RETRIES,
    backoff: float = BACKOFF,
    offline: bool | None = None,
) -> tuple[Path, str]:
    """:func:`download` of one file of a Hugging Face Hub repository at ``revision`` through
    ``huggingface_hub`` (endpoint: :func:`base` ``huggingface``); returns the target and the commit it
    came from. Besides ``expect``, a file the Hub stores in LFS must match the sha256 the Hub gives."""
    target = Path(target)
    endpoint = base("huggingface")
    source = f"{endpoint}/{repo_type}s/{repo_id}/resolve/{revision}/{filename}"
    with _locked(target):
        require_online(source, target, offline)
        (commit, hub_sha), path = _with_retries(
            lambda: _hub(repo_id, filename, revision, repo_type, endpoint, target), source, target, retries, backoff
        )
        staged = part_path(target)
        os.replace(path, staged)
        shutil.rmtree(_hub_folder(target), ignore_errors=True)
        checks = Expect(expect.size, expect.sha256 or hub_sha, expect.sha256_prefix, expect.git_blob)
        return _publish(staged, target, checks, source), commit


def _hub_folder(target: Path) -> Path:
    """Where ``huggingface_hub`` downloads (and resumes) a file for ``target``."""
    return target.parent / f".hub-{target.name}"


def _hub(repo_id: str, filename: str, revision: str, repo_type: str, endpoint: str, target: Path):
    """((commit, sha256 the Hub gives or None), path of the downloaded file)."""
    import huggingface_hub as hub
    from huggingface_hub import errors

    try:
        meta = hub.get_hf_file_metadata(
            hub.hf_hub_url(repo_id, filename, repo_type=repo_type, revision=revision, endpoint=endpoint)
        )
        sha = meta.etag if meta.etag and re.fullmatch(r"[0-9a-f]{64}", meta.etag) else None
        path = hub.hf_hub_download(
            repo_id,
            filename,
            repo_type=repo_type,
            revision=meta.commit_hash or revision,
            endpoint=endpoint,
            local_dir=_hub_folder(target),
        )
    except errors.HfHubHTTPError as exc:
        response = exc.response
        raise status_failure(response.status_code, response.reason_phrase, response.headers) from None
    except (errors.LocalEntryNotFoundError, OSError) as exc:  # the Hub could not be reached
        raise _Retry(f"connection failed: {_reason(exc)}") from None
    return (meta.commit_hash, sha), Path(path)


def _publish(part: Path, target: Path, expect: Expect, url: str) -> Path:
    """Rename the checked ``part`` to ``target``; a file failing the checks is deleted and refused."""
    problem = expect.problem(part)
    if problem:
        part.unlink()
        raise FetchError(url, target, f"refused, the file downloaded has {problem}")
    os.replace(part, target)
    return target


def _with_retries(attempt, url: str, target: Path, retries: int, backoff: float):
    """Run ``attempt`` until it succeeds, retrying :class:`_Retry` failures with exponential back-off;
    a :class:`_Final` failure, or the last retry's, is a :class:`FetchError`."""
    for n in range(retries + 1):
        try:
            return attempt()
        except _Final as exc:
            raise FetchError(url, target, exc.reason, exc.status) from None
        except _Retry as exc:
            if n == retries:
                tries = f" (after {retries + 1} tries)" if retries else ""
                raise FetchError(url, target, exc.reason + tries, exc.status) from None
            time.sleep(min(MAX_WAIT, exc.wait if exc.wait is not None else backoff * 2**n))


def _transfer(url: str, part: Path, timeout: float, progress: bool) -> None:
    """Fetch ``url`` into ``part``, continuing the bytes already there when the server honours Range."""
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # nothing left to send from there: start again
            part.unlink()
            raise _Retry("the server refused to resume (HTTP 416)", 416, 0.0) from None
        raise status_failure(exc.code, exc.reason, exc.headers) from None
    except (OSError, http.client.HTTPException) as exc:  # URLError is an OSError
        raise _Retry(f"connection failed: {_reason(exc)}") from None
    with response:
        resumed = bool(have) and response.status == 206
        if resumed and _range_start(response) != have:
            part.unlink()
            raise _Retry("the server resumed at another byte than asked", 206, 0.0)
        start = have if resumed else 0
        total = response.length + start if response.length is not None else None
        with open(part, "ab" if resumed else "wb") as out, _bar(total, start, part, progress) as bar:
            _copy(response, out, bar)
        if total is not None and part.stat().st_size < total:
            raise _Retry(f"the connection closed after {part.stat().st_size} of {total} bytes")


def _copy(response, out, bar) -> None:
    try:
        for block in iter(lambda: response.read(CHUNK), b""):
            out.write(block)
            bar.update(len(block))
    except (OSError, http.client.HTTPException) as exc:  # a reset, a timeout, a body cut short
        out.flush()
        raise _Retry(f"the connection dropped: {_reason(exc)}") from None


def _range_start(response) -> int | None:
    m = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
    return int(m.group(1)) if m else None


def _bar(total: int | None, initial: int, part: Path, progress: bool):
    shown = progress and (total is None or total >= PROGRESS_MIN)
    name = part.name.removesuffix(".part")
    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, desc=name, disable=not shown, leave=False)


class _Final(Exception):
    """A failure no retry can mend (404, 410, another client error)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason, self.status = reason, status


def status_failure(code: int, reason: str, headers=None) -> Exception:
    """The failure an HTTP error status means: retried for 429 and 5xx, final otherwise."""
    if code == 429 or code >= 500:
        retry_after = (headers or {}).get("Retry-After", "") or ""
        wait = float(retry_after) if retry_after.strip().isdigit() else None
        return _Retry(f"the server answered HTTP {code} ({reason})", code, wait)
    return _Final(FINAL_STATUS.get(code, f"the server answered HTTP {code} ({reason})"), code)


def _reason(exc: BaseException) -> str:
    inner = getattr(exc, "reason", None)
    if isinstance(exc, urllib.error.URLError) and inner is not None:
        exc = inner if isinstance(inner, BaseException) else exc
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
