"""What others released that the pipeline reads, where each file is fetched from and how it is pinned:
``avvp fetch KIND --out DIR`` (docs/downloads.md).

Each kind downloads its files through ``fetch/http.py`` into ``DIR/.downloads/``, unpacks archives once
(``fetch/archives.py``), checks the result with the reader that will use it, records what it fetched in
``DIR/.avvp-fetch-KIND.json`` and deletes the archives. ``DIR`` is then what ``avvp import ...`` and the
config keys read: ``features.released_dir`` (features, valor-features), ``refine.file`` (refined-labels),
``avvp import model han-official`` (han-checkpoint), ``features.weights_dir`` (weights).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .features.kinds import KINDS
from .fetch import archives, http
from .fileio import read_json, sha256_file, write_json

log = logging.getLogger(__name__)

HAN_REPO, HAN_COMMIT = "YapengTian/AVVP-ECCV20", "fde56118f2c2e7c19188dfefa2569a37b70054fe"
CMCO_REPO, CMCO_COMMIT = "GenjiB/CM-Co-Occurrence-AVVP", "1419c6731a66964288ec381f1800b49e822ed0f2"
VALOR_DATASET = "NTUBarista/valor_features"
LLP_VIDEOS = 11849  # videos of the LLP CSVs; the HAN feature release has a file of each in each folder


@dataclass(frozen=True)
class Source:
    """One released file: ``how`` is ``url`` (``where`` a path under the base URL ``base``), ``drive`` (a
    Google Drive file id) or ``hub`` (a file of the Hub dataset ``where`` at ``revision``)."""

    name: str  # the file's name under DIR (archives: under DIR/.downloads/)
    how: str
    where: str
    expect: http.Expect = http.Expect()
    base: str | None = None
    revision: str | None = None
    archive: bool = False


SOURCES: dict[str, tuple[Source, ...]] = {
    "features": (Source("llp-features.archive", "drive", "10CeaI1G9uIyz5dKnd7XTeH9-qOehC7CL", archive=True),),
    "valor-features": tuple(
        Source(f"{m}.zip", "hub", VALOR_DATASET, revision="main", archive=True) for m in ("CLIP", "CLAP")
    ),
    "refined-labels": (
        Source(
            "need_to_change_cmco.pkl",
            "url",
            f"{CMCO_REPO}/{CMCO_COMMIT}/need_to_change.pkl",
            http.Expect(
                size=2083171,
                sha256="f8980493a4f630df0f04d2a07dec94bb8286f385248187f60855d04cb7236128",
                git_blob="a86767002df01759f27fa683dd18c1c65d89d1f8",
            ),
            base="github-raw",
        ),
    ),
    "han-checkpoint": (
        Source(
            "MMIL_Net.pt",
            "url",
            f"{HAN_REPO}/{HAN_COMMIT}/models/MMIL_Net.pt",
            http.Expect(git_blob="ef441b4279b7272f6509d6c9f8bc6d522e9145ed"),
            base="github-raw",
        ),
    ),
}

# What is not pinned by a hash in SOURCES, and what is checked instead. Replace an entry by the value
# in SOURCES once it is known (each fetch logs and records the sha256 of what it got).
UNPINNED = {
    "features": "the Google Drive archive's sha256 and size are not published; checked: the unpacked "
    "vggish/, res152/ and r2plus1d_18/ folders, every file's shape, type and values",
    "valor-features": "the Hub dataset is fetched at its current revision (the commit is recorded); checked: "
    "each zip against the sha256 the Hub gives for it, then the four folders, every feature file's shape",
    "han-checkpoint": "no sha256 is published; pinned by the repository's git blob id of the file at "
    f"commit {HAN_COMMIT[:12]} (checked), then every key and shape as `avvp import model` checks them",
}
KINDS_FETCHED = (*SOURCES, "weights")
# the weight files `avvp fetch weights` gets (features/weights.py: WEIGHT_SOURCES, which needs torch)
WEIGHT_EXTRACTORS = ("resnet152", "r2plus1d_18", "vggish", "vggish_pca")


def record_path(out: Path, kind: str) -> Path:
    return out / f".avvp-fetch-{kind}.json"


def fetch_release(kind: str, out: str | Path, *, progress: bool = True, keep_archives: bool = False) -> dict:
    """Fetch, unpack and check ``kind`` into ``out``; return the record written there. A kind fetched
    before whose files still pass the checks is not fetched again."""
    if kind not in KINDS_FETCHED:
        raise ValueError(f"unknown release {kind!r}; known: {', '.join(KINDS_FETCHED)}")
    out = Path(out)
    record = record_path(out, kind)
    if record.is_file():
        try:
            summary = CHECKS[kind](out)
            log.info("%s: already fetched into %s (%s)", kind, out, summary)
            return read_json(record)
        except (ValueError, OSError) as exc:
            log.info("%s: fetching again: %s", kind, exc)
    if kind == "weights":
        files = [_weight(extractor, out, progress) for extractor in WEIGHT_EXTRACTORS]
    else:
        files = [_fetch(src, out, progress, keep_archives) for src in SOURCES[kind]]
    summary = CHECKS[kind](out)
    if not keep_archives:
        shutil.rmtree(out / ".downloads", ignore_errors=True)
    entry = {"kind": kind, "files": files, "checked": summary, "unpinned": UNPINNED.get(kind)}
    write_json(entry, record)
    log.info("%s: fetched into %s (%s)", kind, out, summary)
    return entry


def _weight(extractor: str, out: Path, progress: bool) -> dict:
    from .features import weights

    path = weights.fetch_published(extractor, out, progress=progress)
    base, where = weights.WEIGHT_SOURCES[extractor]
    return {"name": path.name, "url": http.url(base, where), "sha256": sha256_file(path)}


def _fetch(src: Source, out: Path, progress: bool, keep_archive: bool) -> dict:
    """Download one source (and unpack it when it is an archive); what the record says of it."""
    target = (out / ".downloads" if src.archive else out) / src.name
    commit = None
    if src.how == "url":
        url = http.url(src.base, src.where)
        http.download(url, target, src.expect, progress=progress)
    elif src.how == "drive":
        url = http.url("google-drive", f"uc?id={src.where}")
        http.download_drive(src.where, target, src.expect, progress=progress)
    else:
        url = f"{http.base('huggingface')}/datasets/{src.where}/resolve/{src.revision}/{src.name}"
        _, commit = http.hub_download(src.where, src.name, src.revision, target, src.expect)
    entry = {"name": src.name, "url": url, "sha256": sha256_file(target), "size": target.stat().st_size}
    if commit:
        entry["commit"] = commit
    log.info("fetched %s (sha256 %s, %d bytes)", url, entry["sha256"], entry["size"])
    if src.archive:
        entry["unpacked"] = archives.unpack(target, out)
        if not keep_archive:
            target.unlink()
            archives.marker_path(target).unlink()
    return entry


def _hoist(out: Path, folder: str, wanted: list[str]) -> None:
    """Move ``out/folder/X`` up to ``out/X`` for the ``wanted`` X (the HAN archive keeps them in ``feats/``)."""
    inner = out / folder
    for name in wanted:
        if (inner / name).is_dir() and not (out / name).exists():
            (inner / name).replace(out / name)
    if inner.is_dir() and not any(inner.iterdir()):
        inner.rmdir()


def _check_feature_folders(out: Path, kinds: list[str], expected: int | None) -> str:
    """Every ``.npy`` file of each kind's folder read and checked as the import reads it."""
    from .features.released import BadFeatureFile, read_feature_file

    counts = []
    for kind in kinds:
        folder = out / KINDS[kind].release_folder
        files = sorted(folder.glob("*.npy")) if folder.is_dir() else []
        if not files:
            raise ValueError(f"{folder}: no .npy files; the release's {KINDS[kind].release_folder}/ is missing")
        for path in files:
            try:
                read_feature_file(str(path), kind)
            except BadFeatureFile as exc:
                raise ValueError(f"{path}: {exc}") from None
        if expected and len(files) != expected:
            log.warning("%s: %d files; the release has one for each of the %d LLP videos", folder, len(files), expected)
        counts.append(f"{KINDS[kind].release_folder}/ {len(files)} files")
    return ", ".join(counts)


def _check_features(out: Path) -> str:
    _hoist(out, "feats", [KINDS[k].release_folder for k in ("vggish", "resnet152", "r2plus1d_18")])
    return _check_feature_folders(out, ["vggish", "resnet152", "r2plus1d_18"], LLP_VIDEOS)


def _check_valor(out: Path) -> str:
    from .data import pseudo_labels

    summary = _check_feature_folders(out, ["clip_vitl14", "clap_htsat"], None)
    for folder in pseudo_labels.RELEASE_FOLDERS.values():
        if not any((out / folder).glob("*.npy")):
            raise ValueError(f"{out / folder}: no .npy files; VALOR's {folder}/ is missing")
        summary += f", {folder}/ {sum(1 for _ in (out / folder).glob('*.npy'))} files"
    return summary


def _check_refined(out: Path) -> str:
    from .data.released_refined import read_released_refined

    visual, audio = read_released_refined(out / "need_to_change_cmco.pkl")
    return f"{sum(map(len, visual))} visual and {sum(map(len, audio))} audio drops"


def _check_han(out: Path) -> str:
    from .models.official import check_official_han

    ignored = check_official_han(out / "MMIL_Net.pt")
    return f"every key of HAN present ({len(ignored)} keys of unused submodules)"


def _check_weights(out: Path) -> str:
    from .features import weights

    for extractor in WEIGHT_EXTRACTORS:
        weights.resolve(extractor, "pretrained", weights_dir=out, offline=True)
    return ", ".join(weights.WEIGHT_FILES[e][1] for e in WEIGHT_EXTRACTORS)


CHECKS: dict[str, Callable[[Path], str]] = {
    "features": _check_features,
    "valor-features": _check_valor,
    "refined-labels": _check_refined,
    "han-checkpoint": _check_han,
    "weights": _check_weights,
}
