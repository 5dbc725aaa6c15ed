"""The LLP clips from their source (YouTube by default): ``avvp download videos``.

Each LLP file name ``<YouTube id>_<start>_<end>`` is fetched with yt-dlp (used as a library; the URL
comes from a template, ``fetch/http.py``'s ``youtube`` base by default), its window cut and re-encoded
as the HAN release's script did (``ffmpeg -ss START -i SOURCE -t LENGTH``, H.264 and AAC in mp4) and
written as ``OUT/<id>.mp4``. Work happens in ``OUT/.download/<id>/`` (yt-dlp resumes its partial file
there after a kill); the clip gets its final name only when ffmpeg has finished, and a clip that has
it is never fetched again. Network failures, 429 and 5xx are retried with back-off; every clip that
cannot be had is one line of the failures file (this module owns it): file name, id, reason (removed,
private, geo-blocked, sign-in, http 404, network, ...) and yt-dlp's or ffmpeg's message.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..data.llp import video_id
from ..fetch import http
from ..fileio import read_tsv, write_tsv
from .ffmpeg_bin import ffmpeg_exe
from .probe import run_ffmpeg

log = logging.getLogger(__name__)

FAILURES_HEADER = ["filename", "video_id", "reason", "detail"]
_WINDOW = re.compile(r"_(\d+(?:\.\d+)?)_(\d+(?:\.\d+)?)")
# (reason, pattern in yt-dlp's message, worth retrying), first match wins
_REASONS = [
    ("private", r"private video|video is private", False),
    ("geo-blocked", r"available in your country|geo.?restrict|blocked it in your country", False),
    ("sign-in", r"sign in to confirm|age.?restrict|members.?only|cookies", False),
    ("removed", r"video unavailable|has been removed|no longer available|account .* terminated|does not exist", False),
    ("http 429", r"HTTP Error 429", True),
    ("http {}", r"HTTP Error (5\d\d)", True),
    ("http {}", r"HTTP Error (\d\d\d)", False),
    ("network", r"timed out|connection|reset by peer|remote end closed|unable to download|errno|urlopen", True),
]


@dataclass(frozen=True)
class Clip:
    """One LLP clip: its file name, YouTube id and window in seconds."""

    filename: str
    video_id: str
    start: float
    end: float


def parse_name(filename: str) -> Clip:
    """The clip an LLP file name ``<id>_<start>_<end>`` names; a ValueError saying why not."""
    vid = video_id(filename)
    m = _WINDOW.fullmatch(filename[len(vid) :])
    if not m or float(m.group(2)) <= float(m.group(1)):
        raise ValueError(f"{filename!r} is not an LLP file name <11-character YouTube id>_<start>_<end>")
    return Clip(filename, vid, float(m.group(1)), float(m.group(2)))


@dataclass(frozen=True)
class DownloadOptions:
    """How clips are fetched: ``url_template`` with ``{id}``; ``rate_limit`` in bytes/s per download."""

    url_template: str | None = None  # None: fetch/http.py's "youtube" base (overridable there)
    jobs: int = 4
    rate_limit: float | None = None
    cookies: str | None = None
    retries: int = 3
    backoff: float = 10.0
    timeout: float = 60.0

    def url(self, vid: str) -> str:
        return (self.url_template or http.base("youtube")).format(id=vid)


class _Failed(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@dataclass(frozen=True)
class Failure:
    """One line of the failures file: a clip that could not be had, and why."""

    filename: str
    video_id: str
    reason: str
    detail: str


def read_failures(path: str | Path) -> list[Failure]:
    """The clips a failures file lists (ValueError naming the file when it is not one)."""
    rows = read_tsv(path)
    if not rows or rows[0] != FAILURES_HEADER:
        raise ValueError(f"{path}: not a clip failures file (its header must be {' '.join(FAILURES_HEADER)})")
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(FAILURES_HEADER):
            raise ValueError(f"{path}: line {n} has {len(row)} fields, expected {len(FAILURES_HEADER)}")
    return [Failure(*row) for row in rows[1:]]


def clip_path(out: str | Path, vid: str) -> Path:
    """Where the clip of YouTube id ``vid`` is written in ``out``."""
    return Path(out) / f"{vid}.mp4"


def present_clips(names: list[str], out: str | Path) -> list[Path]:
    """The clips of ``names`` that ``out`` has, in that order."""
    paths = (clip_path(out, parse_name(n).video_id) for n in dict.fromkeys(names))
    return [p for p in paths if p.is_file()]


def download_clips(
    names: list[str], out: str | Path, failures: str | Path, opts: DownloadOptions, *, progress: bool = True
) -> dict[str, int]:
    """Fetch the clips ``names`` into ``out`` and write the failures file; counts of done / kept / failed."""
    clips = [parse_name(n) for n in dict.fromkeys(names)]
    out = Path(out)
    todo = [c for c in clips if not clip_path(out, c.video_id).is_file()]
    if todo:
        http.require_online(opts.url(todo[0].video_id), clip_path(out, todo[0].video_id))
    out.mkdir(parents=True, exist_ok=True)
    failed: list[tuple[str, str, str, str]] = []
    with ThreadPoolExecutor(max(1, opts.jobs)) as pool, tqdm(total=len(todo), unit="clip", disable=not progress) as bar:
        for clip, problem in zip(todo, pool.map(lambda c: _one(c, out, opts), todo)):
            if problem:
                failed.append((clip.filename, clip.video_id, problem.reason, problem.detail))
            bar.update()
    write_tsv(failures, FAILURES_HEADER, failed)
    return {"done": len(todo) - len(failed), "kept": len(clips) - len(todo), "failed": len(failed)}


def _one(clip: Clip, out: Path, opts: DownloadOptions) -> _Failed | None:
    """Fetch and cut one clip; the failure, or None."""
    work = out / ".download" / clip.video_id
    try:
        source = _with_retries(lambda: _fetch_source(opts.url(clip.video_id), work, opts), opts)
        _cut(source, clip, work / "clip.mp4")
        (work / "clip.mp4").replace(clip_path(out, clip.video_id))
    except _Failed as exc:
        return exc
    shutil.rmtree(work, ignore_errors=True)
    return None


def _with_retries(attempt, opts: DownloadOptions):
    for n in range(opts.retries + 1):
        try:
            return attempt()
        except _Retry as exc:
            if n == opts.retries:
                raise _Failed(exc.reason, exc.detail + (f" (after {n + 1} tries)" if n else "")) from None
            time.sleep(opts.backoff * 2**n)


class _Retry(_Failed):
    pass


def _fetch_source(url: str, work: Path, opts: DownloadOptions) -> Path:
    """The whole source video, fetched by yt-dlp into ``work`` (resuming a partial file there)."""
    import yt_dlp

    work.mkdir(parents=True, exist_ok=True)
    params = {
        "format": "best/bestvideo*+bestaudio",
        "outtmpl": str(work / "source.%(ext)s"),
        "noplaylist": True,
        "continuedl": True,
        "retries": 0,
        "fragment_retries": 0,
        "extractor_retries": 0,
        "socket_timeout": opts.timeout,
        "ratelimit": opts.rate_limit,
        "cookiefile": opts.cookies,
        "ffmpeg_location": ffmpeg_exe(),
        "logger": _Quiet(),
        "quiet": True,
        "noprogress": True,
    }
    try:
        with yt_dlp.YoutubeDL({k: v for k, v in params.items() if v is not None}) as ydl:
            info = ydl.extract_info(url, download=True)
            path = Path(ydl.prepare_filename(info))
    except yt_dlp.utils.DownloadError as exc:
        raise _classified(str(exc)) from None
    found = [p for p in work.glob("source.*") if not p.name.endswith((".part", ".ytdl")) and p.is_file()]
    if not path.is_file() and not found:
        raise _Failed("error", "yt-dlp reported success but wrote no file")
    return path if path.is_file() else found[0]


def failure_reason(message: str) -> tuple[str, bool]:
    """``(reason, worth retrying)`` of a yt-dlp error message."""
    for reason, pattern, transient in _REASONS:
        m = re.search(pattern, message, re.IGNORECASE)
        if m:
            return reason.format(*m.groups()), transient
    return "error", False


def _classified(message: str) -> _Failed:
    reason, transient = failure_reason(message)
    return (_Retry if transient else _Failed)(reason, " ".join(message.replace("ERROR:", "").split()))


class _Quiet:
    """yt-dlp's logger: its messages go to the failures file, not the console."""

    def debug(self, msg: str) -> None:
        pass

    info = warning = debug

    def error(self, msg: str) -> None:
        log.debug("yt-dlp: %s", msg)


def _cut(source: Path, clip: Clip, dest: Path) -> None:
    """The clip's window of ``source`` as H.264 + AAC mp4 at ``dest`` (the release's ffmpeg call)."""
    args = ["-nostdin", "-y", "-loglevel", "error", "-ss", f"{clip.start:g}", "-i", str(source)]
    args += ["-t", f"{clip.end - clip.start:g}", "-c:v", "libx264", "-c:a", "aac", "-f", "mp4", str(dest)]
    try:
        done = run_ffmpeg(args, source, timeout=600.0, what="cutting the clip")
    except Exception as exc:
        raise _Failed("ffmpeg", str(exc)) from None
    if done.returncode != 0 or not dest.is_file() or dest.stat().st_size == 0:
        dest.unlink(missing_ok=True)
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise _Failed("ffmpeg", message[-1] if message else f"ffmpeg exited with status {done.returncode}")
