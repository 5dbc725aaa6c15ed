"""Which of the paths a user gives are video files to read: folders expanded, the rest reported."""

from __future__ import annotations

from pathlib import Path

from .probe import MediaError, check_file

#: Containers accepted in ``videos_dir`` as ``<YouTube id><extension>``, in order of preference when one
#: id has several files.
VIDEO_EXTENSIONS = (".mp4", ".mkv", ".webm", ".mov", ".m4v", ".avi")


def collect_inputs(paths: list[str | Path]) -> tuple[list[str], dict[str, str]]:
    """Expand folders into the files they hold: ``(videos, {input: reason it is skipped})``.

    Dot-files are left out silently; subfolders, dangling links, pipes, empty or missing files are
    skipped with a reason, so that the user sees them in ``failures.tsv``."""
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
        if not folder.is_dir():
            add(folder)
            continue
        try:
            entries = sorted(folder.iterdir())
        except OSError as exc:
            skipped[str(folder)] = f"{folder}: cannot list the folder ({exc.strerror})"
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                skipped[str(entry)] = f"{entry}: a folder inside {folder}: not searched; pass it explicitly"
            else:
                add(entry)
    return videos, skipped
