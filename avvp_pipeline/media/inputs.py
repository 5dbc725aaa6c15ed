"""Which of the paths a user gives are video files to read: folders expanded, the rest reported."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from .probe import MediaError, check_file

log = logging.getLogger(__name__)

#: Containers accepted in ``videos_dir`` as ``<YouTube id><extension>``, in order of preference when one
#: id has several files.
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".m4v", ".avi")


def collect_inputs(
    paths: list[str | Path], leave_out: Callable[[Path], bool] | None = None
) -> tuple[list[str], dict[str, str]]:
    """Expand folders into the files they hold: ``(videos, {input: reason it is skipped})``.

    Dot-files, and paths for which ``leave_out`` is true (a tool's own outputs), are left out
    silently. Dangling links, pipes, empty or missing files are skipped with a reason, so that the user
    sees them in ``failures.tsv``; the subfolders of a folder are not searched, which one line logs."""
    videos: list[str] = []
    skipped: dict[str, str] = {}

    def add(path: Path) -> None:
        try:
            check_file(path)
        except MediaError as exc:
            skipped[str(path)] = str(exc)
        else:
            videos.append(str(path))

    for item in paths:
        folder = Path(item)
        if leave_out and leave_out(folder):
            log.info("%s: written by this tool: not read as an input", folder)
        elif not folder.is_dir():
            add(folder)
        else:
            _expand(folder, add, skipped, leave_out)
    return videos, skipped


def _expand(folder: Path, add: Callable[[Path], None], skipped: dict, leave_out) -> None:
    """``add`` each file of ``folder``; one line names the subfolders, which are not searched."""
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        skipped[str(folder)] = f"{folder}: cannot list the folder ({exc.strerror})"
        return
    subfolders = []
    for entry in entries:
        if entry.name.startswith(".") or (leave_out and leave_out(entry)):
            continue
        if entry.is_dir():
            subfolders.append(entry.name)
        else:
            add(entry)
    if subfolders:
        log.warning(
            "%s: %d subfolder%s not searched (%s); give a subfolder as an input to parse the videos in it",
            folder,
            len(subfolders),
            "s" if len(subfolders) > 1 else "",
            ", ".join(subfolders),
        )
