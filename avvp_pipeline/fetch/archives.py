"""Unpacking a downloaded archive (zip or tar, any compression) once and without escaping its folder.

Every member is checked before anything is written: absolute names, ``..`` components, links (tar's
symbolic and hard links, zip entries marked as symbolic links) and devices or pipes are refused with
one line naming the archive and the member. The archive is unpacked into a temporary folder beside the
destination; its entries are moved in only when all were written, and a marker beside the archive
records its sha256, so a second call with the same archive does nothing.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from pathlib import Path, PurePosixPath

from ..fileio import read_json, sha256_file, write_json


class UnsafeArchive(ValueError):
    """An archive that is damaged or whose members would land outside the destination."""


def marker_path(archive: Path) -> Path:
    """Beside the archive: which sha256 was unpacked, and its top-level names."""
    return archive.with_name(archive.name + ".unpacked.json")


def unpack(archive: str | Path, dest: str | Path) -> list[str]:
    """Unpack ``archive`` into ``dest`` (made if needed) unless this archive was unpacked there already;
    return the top-level names it holds."""
    archive, dest = Path(archive), Path(dest)
    digest = sha256_file(archive)
    marker = marker_path(archive)
    if marker.is_file() and read_json(marker).get("sha256") == digest:
        return read_json(marker)["entries"]
    dest.mkdir(parents=True, exist_ok=True)
    staging = dest / f".unpacking-{archive.name}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        _extract(archive, staging)
        entries = sorted(p.name for p in staging.iterdir())
        for name in entries:
            _move(staging / name, dest / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    write_json({"archive": archive.name, "sha256": digest, "entries": entries}, marker)
    return entries


def _move(src: Path, dst: Path) -> None:
    """Move ``src`` to ``dst``, merging folders (a second archive adds to the same tree)."""
    if src.is_dir() and dst.is_dir():
        for child in src.iterdir():
            _move(child, dst / child.name)
    else:
        if dst.is_dir() and not dst.is_symlink():
            shutil.rmtree(dst)
        src.replace(dst)


def _extract(archive: Path, dest: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                _check_name(archive, info.filename)
                if stat.S_ISLNK(info.external_attr >> 16):
                    raise UnsafeArchive(f"{archive}: member {info.filename} is a link; links are not unpacked")
            try:
                zf.extractall(dest)
            except (zipfile.BadZipFile, EOFError, ValueError) as exc:
                raise UnsafeArchive(f"{archive}: damaged zip archive ({exc})") from None
        return
    try:
        with tarfile.open(archive) as tf:
            for member in tf.getmembers():
                _check_name(archive, member.name)
                if not (member.isfile() or member.isdir()):
                    raise UnsafeArchive(f"{archive}: member {member.name} is a link or a special file; not unpacked")
            tf.extractall(dest, filter="data")
    except (tarfile.TarError, EOFError) as exc:
        raise UnsafeArchive(f"{archive}: neither a zip nor a readable tar archive ({exc})") from None


def _check_name(archive: Path, name: str) -> None:
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise UnsafeArchive(f"{archive}: member {name} would be written outside the destination")
