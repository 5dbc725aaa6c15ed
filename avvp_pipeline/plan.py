"""Plan the workflow at parse time: where the data is, which videos exist, which shard each belongs to.

The Snakefile calls these functions; they must be fast (all of LLP in well under a second), so they
read only the split CSVs (or, for the demo, derive the synthetic names from the seed) and list the
videos folder once (with ``features.source: released``, the release folder of each feature kind the
configured rows read, once).
Everything a run would trip over later (a missing folder, no videos, an unknown model name, a file
name Snakemake cannot take) is a :class:`PlanError` here, naming the problem.

The pipeline never writes into the user's data folders: the synthetic demo set is rendered into
:data:`SYNTH_DIR`, a folder of its own, and only when no data folders are configured. The one exception
is the folder the user names for downloading: with ``dataset.download.enabled`` the clips are fetched
into ``videos_dir``.
"""

from __future__ import annotations

import difflib
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from .data import llp
from .features.kinds import DEFAULT_KINDS, EXTRACTABLE, KINDS, in_release, not_extractable, release_folder
from .media.inputs import VIDEO_EXTENSIONS
from .models.rows import spec

log = logging.getLogger(__name__)

#: Where the synthetic demo set is rendered (annotations/ and videos/), relative to the working folder.
SYNTH_DIR = "resources/demo"


class PlanError(ValueError):
    """The configuration or the data folders cannot make a workflow; the message says why."""


@dataclass(frozen=True)
class DataSource:
    """The annotation and video folders a run reads, and the synthetic set's options when it renders one;
    ``released_dir`` (instead of videos) when the features are imported from the LLP release."""

    annotations_dir: str
    videos_dir: str | None
    synth: dict | None = None  # synth options (without ``enabled``) when the demo set is rendered
    released_dir: str | None = None
    download: dict | None = None  # dataset.download's options (without ``enabled``) when the clips are fetched
    release: str = "llp"  # whose release ``released_dir`` holds (features/kinds.py: RELEASES): dataset.name

    @property
    def synthetic(self) -> bool:
        return self.synth is not None

    @property
    def released(self) -> bool:
        return self.released_dir is not None

    @property
    def downloads(self) -> bool:
        return self.download is not None


def feature_source(features_cfg: dict | None) -> str:
    """``features.source``: ``extract`` (from the videos, the default) or ``released`` (imported)."""
    source = (features_cfg or {}).get("source") or "extract"
    if source not in ("extract", "released"):
        raise PlanError(f"features.source {source!r}: expected extract or released")
    return source


def _released_source(dataset_cfg: dict, features_cfg: dict) -> DataSource:
    ann, released = dataset_cfg.get("annotations_dir"), features_cfg.get("released_dir")
    unset = [
        key for key, value in (("dataset.annotations_dir", ann), ("features.released_dir", released)) if value is None
    ]
    if unset:
        verb = "is" if len(unset) == 1 else "are"
        raise PlanError(
            f"features.source is released but {' and '.join(unset)} {verb} not set: the released "
            "features need the annotation CSVs and the release's folder (--config annotations_dir=DIR "
            "released_dir=DIR)"
        )
    if dataset_cfg.get("videos_dir") is not None:
        log.info("features.source is released: videos_dir %s is not read", dataset_cfg["videos_dir"])
    return DataSource(str(ann), None, released_dir=str(released), release=dataset_cfg.get("name") or "llp")


def data_source(dataset_cfg: dict, features_cfg: dict | None = None) -> DataSource:
    """Resolve ``dataset``: the user's folders when given (read only), else the demo set in :data:`SYNTH_DIR`.

    ``dataset.synth.enabled`` (set only by the demo config) renders the demo set, and only when neither
    ``annotations_dir`` nor ``videos_dir`` is given: a config that names data folders always means real
    data, whatever a merged config file says about the demo. With ``features.source: released`` the
    data is ``annotations_dir`` and ``features.released_dir`` (no videos, no demo).
    """
    download = _download_options(dataset_cfg)
    if feature_source(features_cfg) == "released":
        if download is not None:
            raise PlanError(
                "dataset.download.enabled is true but features.source is released: the released features "
                "need no videos; set one of them"
            )
        return _released_source(dataset_cfg, features_cfg)
    ann, vids = dataset_cfg.get("annotations_dir"), dataset_cfg.get("videos_dir")
    synth = dataset_cfg.get("synth") or {}
    if download is not None and (ann is None or vids is None):
        raise PlanError(
            "dataset.download.enabled is true but dataset.annotations_dir and dataset.videos_dir are not both "
            "set: the clips the annotation CSVs name are fetched into videos_dir (--config annotations_dir=DIR "
            "videos_dir=DIR)"
        )
    if ann is None and vids is None:
        if not synth.get("enabled", False):
            raise PlanError(
                "no data: set dataset.annotations_dir and dataset.videos_dir (e.g. "
                "--config annotations_dir=DIR videos_dir=DIR), or run the demo config"
            )
        return DataSource(
            f"{SYNTH_DIR}/annotations", f"{SYNTH_DIR}/videos", {k: v for k, v in synth.items() if k != "enabled"}
        )
    if ann is None or vids is None:
        given, missing = ("annotations_dir", "videos_dir") if vids is None else ("videos_dir", "annotations_dir")
        raise PlanError(f"dataset.{given} is set but dataset.{missing} is not: real data needs both folders")
    if synth.get("enabled", False):
        log.info("data folders are given (%s, %s): the synthetic demo set is not rendered", ann, vids)
    return DataSource(str(ann), str(vids), download=download)


def _download_options(dataset_cfg: dict) -> dict | None:
    """``dataset.download`` without ``enabled`` when it is enabled, else None."""
    download = dataset_cfg.get("download") or {}
    return {k: v for k, v in download.items() if k != "enabled"} if download.get("enabled", False) else None


def check_offline(config: dict) -> None:
    """PlanError for ``offline: true`` with ``dataset.download.enabled``: downloading needs the network."""
    if config.get("offline") and _download_options(config.get("dataset") or {}) is not None:
        raise PlanError(
            "offline is true but dataset.download.enabled is true: downloading the clips needs the network; "
            "set offline: false, or download.enabled: false with the clips already in videos_dir"
        )


@dataclass
class VideoPlan:
    """Videos to process, in shard order, and the ones that are missing from ``videos_dir`` (or, with
    ``released_dir``, that lack one of the release's three files)."""

    videos_dir: str | None
    video_ids: list[str]
    shard_size: int
    missing: list[str] = field(default_factory=list)
    paths: dict[str, str] = field(default_factory=dict)  # id -> file; default <videos_dir>/<id>.mp4
    unusable: list[tuple[str, str]] = field(default_factory=list)  # (file, reason) found but skipped
    names: dict[str, str] = field(default_factory=dict)  # id -> LLP file name, when the clips are downloaded
    released_dir: str | None = None  # the release's folder when the features are imported
    kinds: tuple[str, ...] = DEFAULT_KINDS  # the feature kinds the run reads (imported ones: each shard's)
    release: str = "llp"  # whose release layout released_dir has

    @property
    def num_shards(self) -> int:
        return max(1, -(-len(self.video_ids) // self.shard_size))

    def shard(self, k: int) -> list[str]:
        """Video ids of shard ``k``."""
        if not 0 <= k < self.num_shards:
            raise IndexError(f"shard {k} out of range 0..{self.num_shards - 1}")
        return self.video_ids[k * self.shard_size : (k + 1) * self.shard_size]

    def path(self, vid: str) -> str:
        """The video file of ``vid``."""
        return self.paths.get(vid) or os.path.join(self.videos_dir, f"{vid}.mp4")

    def shard_paths(self, k: int) -> list[str]:
        """Video file paths of shard ``k``."""
        return [self.path(vid) for vid in self.shard(k)]

    def shard_names(self, k: int) -> list[str]:
        """The LLP file names (``<id>_<start>_<end>``) of shard ``k``'s clips, for their download."""
        return [self.names[vid] for vid in self.shard(k)]

    def shard_released_files(self, k: int, kind: str | None = None) -> list[str]:
        """The released .npy files of shard ``k``: of feature kind ``kind``, or of every kind the run reads."""
        from .features.released import release_path

        kinds = self.kinds if kind is None else (kind,)
        return [release_path(self.released_dir, name, vid, self.release) for vid in self.shard(k) for name in kinds]


def _synth_filenames(synth_cfg: dict) -> list[str]:
    from .data.synth.clip_plan import video_filenames
    from .data.synth.spec import SynthSpec

    # the names follow from the seed, the split sizes and the lengths: a custom class list is the synth job's
    names = video_filenames(SynthSpec.from_dict({k: v for k, v in synth_cfg.items() if k != "classes"}))
    return [f for split in ("train", "val", "test") for f in names[split]]


def _annotation_ids(annotations_dir: str) -> list[str]:
    """Sorted unique YouTube ids of the three split files; PlanError for a name without a valid id."""
    return sorted(_annotation_names(annotations_dir))


def _annotation_names(annotations_dir: str) -> dict[str, str]:
    """``{YouTube id: LLP file name}`` of the three split files; PlanError for a name without a valid id."""
    d = Path(annotations_dir)
    if not d.is_dir():
        raise PlanError(f"annotations_dir {d}: folder not found")
    names = {}
    paths = [d / split_file for split_file in llp.SPLIT_FILES.values()]
    for path in paths:
        if not path.is_file():
            raise PlanError(
                f"{path}: annotation file not found (annotations_dir needs {', '.join(llp.SPLIT_FILES.values())})"
            )
    try:
        llp.check_splits_disjoint(paths)
    except ValueError as exc:  # a repeated id or a video in two splits: name the lines at planning
        raise PlanError(str(exc)) from None
    for path in paths:
        for name in llp.read_weak_labels(path)[0]:
            vid = name[:11]
            if not llp.YOUTUBE_ID.fullmatch(vid):
                raise PlanError(
                    f"{path}: filename {name!r} does not start with an 11-character YouTube id "
                    "(letters, digits, '-' and '_')"
                )
            names[vid] = name
    return names


def unusable_entry(entry: os.DirEntry, path: str) -> str | None:
    """Why a folder entry named like an input cannot be read (a dangling link, not a file), or None."""
    if entry.is_symlink() and not os.path.exists(path):
        return f"dangling symbolic link (to {os.readlink(path)})"
    if not entry.is_file():
        return "not a regular file"
    return None


def _scan_videos(videos_dir: str, wanted: set[str]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """``({id: file}, [(file, reason) skipped])`` for the files of ``videos_dir`` named after a wanted id."""
    d = Path(videos_dir)
    if not d.exists():
        raise PlanError(f"videos_dir {d}: folder not found")
    if not d.is_dir():
        raise PlanError(f"videos_dir {d}: not a folder")
    found: dict[str, list[str]] = {}
    unusable, n_videos = [], 0
    for entry in os.scandir(d):
        stem, ext = os.path.splitext(entry.name)
        if ext.lower() not in VIDEO_EXTENSIONS or entry.name.startswith("."):
            continue
        n_videos += 1
        if stem not in wanted:
            continue
        path = os.path.join(videos_dir, entry.name)
        problem = unusable_entry(entry, path)
        if problem:
            unusable.append((path, problem))
        else:
            found.setdefault(stem, []).append(entry.name)
    if n_videos == 0:
        raise PlanError(
            f"videos_dir {d}: no videos (expected <YouTube id>.mp4 files; also accepted: "
            f"{', '.join(VIDEO_EXTENSIONS[1:])})"
        )
    order = {ext: i for i, ext in enumerate(VIDEO_EXTENSIONS)}
    paths = {}
    for vid, names in found.items():
        names.sort(key=lambda n: (order[os.path.splitext(n)[1].lower()], n))
        if len(names) > 1:
            log.warning("%s: several files for video %s (%s): using %s", videos_dir, vid, ", ".join(names), names[0])
        paths[vid] = os.path.join(videos_dir, names[0])
    return paths, sorted(unusable)


def _scan_released(
    released_dir: str, wanted: set[str], kinds: tuple[str, ...] = DEFAULT_KINDS, release: str = "llp"
) -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    """``({kind: ids with a file}, [(file, reason) skipped])``: the release folder of each of ``kinds``
    listed once."""
    d = Path(released_dir)
    if not d.is_dir():
        raise PlanError(f"features.released_dir {d}: " + ("not a folder" if d.exists() else "folder not found"))
    found: dict[str, set[str]] = {}
    unusable = []
    for name in kinds:
        folder = release_folder(name, release)
        sub = os.path.join(released_dir, folder)
        if not os.path.isdir(sub):
            raise PlanError(
                f"features.released_dir {d}: no folder {folder}/ (the {name} features the configured rows "
                f"read; they need {', '.join(release_folder(k, release) + '/' for k in kinds)})"
            )
        ids = found[name] = set()
        for entry in os.scandir(sub):
            stem, ext = os.path.splitext(entry.name)
            if ext != ".npy" or stem not in wanted:
                continue
            path = os.path.join(sub, entry.name)
            problem = unusable_entry(entry, path)
            if problem:
                unusable.append((path, problem))
            else:
                ids.add(stem)
    return found, sorted(unusable)


def _plan_released(source: DataSource, ids: list[str], shard_size: int, kinds: tuple[str, ...]) -> VideoPlan:
    """Videos with a released file of every one of ``kinds``; the others are reported and skipped."""
    for name in kinds:
        if not in_release(name, source.release):
            raise PlanError(
                f"train.models reads {name} features, which {source.release.upper()}'s release (features.source: "
                f"released) does not have: drop the rows that read them"
            )
    found, unusable = _scan_released(source.released_dir, set(ids), kinds, source.release)
    folder = {name: release_folder(name, source.release) for name in kinds}
    lacking = ", ".join(f"{folder[name]}/ {len(ids) - len(have)}" for name, have in found.items())
    present = set.intersection(*found.values())
    missing = _report(
        ids,
        present,
        unusable,
        "features.released_dir",
        source.released_dir,
        f"has all its feature files (expected e.g. {folder[kinds[0]]}/{ids[0]}.npy; missing per folder: {lacking})",
        f" (missing per folder: {lacking})",
    )
    return VideoPlan(
        None,
        [v for v in ids if v in present],
        shard_size,
        missing,
        unusable=unusable,
        released_dir=source.released_dir,
        kinds=tuple(kinds),
        release=source.release,
    )


def _report(
    ids: list[str], present, unusable: list[tuple[str, str]], key: str, folder: str, none_there: str, detail: str = ""
) -> list[str]:
    """Log the skipped entries and the missing videos; PlanError when none is there. Returns the missing ids."""
    for path, reason in unusable:
        log.warning("skipping %s: %s", path, reason)
    missing = [v for v in ids if v not in present]
    if len(missing) == len(ids):
        raise PlanError(f"{key} {folder}: none of the {len(ids)} annotated videos {none_there}")
    if missing:
        log.warning(
            "%d of %d videos are missing from %s%s and will be skipped (e.g. %s)",
            len(missing),
            len(ids),
            folder,
            detail,
            ", ".join(missing[:5]),
        )
    return missing


def plan_videos(
    dataset_cfg: dict,
    shard_size: int,
    features_cfg: dict | None = None,
    kinds: tuple[str, ...] = DEFAULT_KINDS,
    video_ids: list[str] | None = None,
) -> VideoPlan:
    """Sorted unique video ids of all splits, split into shards; missing videos are reported and skipped.

    ``video_ids``: the videos a data set description lists (lfav, custom: ``dataset_plan.py``); None:
    those of LLP's split files. With ``features.source: released`` a video is there when the release has
    its file of each of ``kinds`` (the feature kinds the configured rows read, :func:`feature_kinds`). With
    ``dataset.download.enabled`` every annotated clip is planned, present or not.
    """
    source = data_source(dataset_cfg, features_cfg)
    if source.synthetic:  # rendered by the synth rule
        ids = sorted({llp.video_id(f) for f in _synth_filenames(source.synth)})
        return VideoPlan(source.videos_dir, ids, shard_size)
    if source.downloads:  # every annotated clip: the download jobs fetch the ones not there yet
        names = _annotation_names(source.annotations_dir)
        return VideoPlan(source.videos_dir, sorted(names), shard_size, names=names)
    ids = _annotation_ids(source.annotations_dir) if video_ids is None else video_ids
    if not ids:
        raise PlanError(f"dataset.annotations_dir {source.annotations_dir}: its split files list no videos")
    if source.released:
        return _plan_released(source, ids, shard_size, tuple(kinds))
    paths, unusable = _scan_videos(source.videos_dir, set(ids))
    missing = _report(ids, paths, unusable, "videos_dir", source.videos_dir, f"is there (expected e.g. {ids[0]}.mp4)")
    present = [v for v in ids if v in paths]
    return VideoPlan(source.videos_dir, present, shard_size, missing, paths, unusable)


def check_pseudo_labels(train_cfg: dict, pseudo_cfg: dict | None) -> None:
    """PlanError where a row of ``train.models`` trains on pseudo labels (VALOR) and ``pseudo_labels`` gives
    none, or names a folder that lacks the released layout."""
    pseudo_cfg = pseudo_cfg or {"source": "none"}
    needing = [m for m in train_cfg.get("models") or [] if spec(m).pseudo_labels]
    if pseudo_cfg.get("source", "none") == "none":
        if needing:
            raise PlanError(
                f"train.models has {', '.join(needing)}, which train on segment-level pseudo labels, "
                "but pseudo_labels.source is none: set pseudo_labels: {source: released, dir: DIR} "
                "(DIR holding CLIP/segment_pseudo_labels/ and CLAP/segment_pseudo_labels/) or "
                "pseudo_labels: {source: teachers} (computed by the CLIP and CLAP teachers)"
            )
        return
    if pseudo_cfg.get("source") == "teachers":
        from .teachers.folders import check_folder
        from .teachers.vocabulary import teacher_config

        try:
            cfg = teacher_config({k: v for k, v in pseudo_cfg.items() if k not in ("source", "dir")})
            for kind in ("clip", "clap"):
                if cfg[kind]["weights"] != "random":
                    check_folder(kind, cfg[kind]["weights"], digest=False)
        except (ValueError, OSError) as exc:
            raise PlanError(f"pseudo_labels: {exc}") from None
        return
    folder = pseudo_cfg.get("dir")
    if not folder:
        raise PlanError("pseudo_labels.source is released but pseudo_labels.dir is not set")
    for sub in ("CLIP/segment_pseudo_labels", "CLAP/segment_pseudo_labels"):
        if not os.path.isdir(os.path.join(folder, sub)):
            raise PlanError(f"pseudo_labels.dir {folder}: no {sub}/ folder")


#: The row whose trained model gives JoMoLD's noise ratios (``noise_ratios.source: computed``).
NOISE_ESTIMATOR = "jomold-estimator"


def rows_needed(train_cfg: dict, refine_cfg: dict | None, noise_cfg: dict | None = None) -> list[str]:
    """The rows a run trains: ``train.models``, MA's base model when an MA* row refines labels here, and
    JoMoLD's noise estimator when the jomold row's noise ratios are computed here."""
    rows = list(train_cfg.get("models") or [])
    computed = (refine_cfg or {}).get("source", "computed") == "computed"
    if computed and any(spec(m).labels == "refined" for m in rows) and "ma_base" not in rows:
        rows.append("ma_base")
    estimated = (noise_cfg or {}).get("source", "computed") == "computed"
    if estimated and any(spec(m).jomold == "denoise" for m in rows) and NOISE_ESTIMATOR not in rows:
        rows.append(NOISE_ESTIMATOR)
    return rows


def feature_kinds(train_cfg: dict, refine_cfg: dict | None = None, noise_cfg: dict | None = None) -> tuple[str, ...]:
    """The feature kinds the rows of a run read (:func:`rows_needed`), in the kinds table's order; HAN's
    three when no row is configured."""
    wanted = {k for m in rows_needed(train_cfg, refine_cfg, noise_cfg) for k in spec(m).features}
    return tuple(k for k in KINDS if k in wanted) or DEFAULT_KINDS


def check_feature_kinds(
    features_cfg: dict, train_cfg: dict, refine_cfg: dict | None = None, noise_cfg: dict | None = None
) -> None:
    """PlanError where a row of ``train.models`` reads feature kinds the configured feature source
    cannot provide (``features.source: extract`` computes only the extractable kinds from videos)."""
    if feature_source(features_cfg) != "extract":
        return
    for row in rows_needed(train_cfg, refine_cfg, noise_cfg):
        lacking = not_extractable(spec(row).features)
        if lacking:
            folders = " and ".join(f"{KINDS[k].release_folder}/" for k in lacking)
            raise PlanError(
                f"train.models has {row}, which reads the feature kinds {', '.join(lacking)}, but "
                f"features.source is extract, which computes only {', '.join(EXTRACTABLE)} from the videos: "
                f"import them with features.source: released and features.released_dir holding {folders} "
                "(docs/released-features.md), or drop the row"
            )


def check_parse(features_cfg: dict, parse_cfg: dict) -> None:
    """PlanError for ``parse.videos_dir`` with released features, or with a row in ``parse.models`` that
    reads feature kinds that cannot be extracted from raw video: such models cannot parse new videos."""
    if (parse_cfg or {}).get("videos_dir"):
        for row in parse_cfg.get("models") or []:
            lacking = not_extractable(spec(row).features)
            if lacking:
                raise PlanError(
                    f"parse.models has {row}, which reads the feature kinds {', '.join(lacking)}; these cannot "
                    f"be extracted from raw video here (only {', '.join(EXTRACTABLE)} can), so it cannot "
                    "parse new videos: drop it from parse.models"
                )
    if feature_source(features_cfg) == "released" and (parse_cfg or {}).get("videos_dir"):
        raise PlanError(
            "parse.videos_dir is set but features.source is released: a model trained on the released "
            "features cannot parse new videos (their extraction cannot be reproduced here); set "
            "parse.videos_dir: null, or train on features extracted by this pipeline"
        )


def parse_inputs(folder: str) -> list[str]:
    """The videos of ``parse.videos_dir`` for the parse rule: the files ``avvp parse FOLDER`` would read.

    What that leaves out (subfolders, dangling links, empty files) is reported; a name with ``{`` or
    ``}`` (which Snakemake would read as a wildcard) is a PlanError: rename it, or use ``avvp parse``.
    """
    from .media.inputs import collect_inputs

    if not Path(folder).is_dir():
        raise PlanError(f"parse.videos_dir {folder}: folder not found")
    files, skipped = collect_inputs([folder])
    for reason in skipped.values():
        log.warning("parse: skipping %s", reason)
    for f in files:
        if "{" in Path(f).name or "}" in Path(f).name:
            raise PlanError(
                f"parse.videos_dir: {f}: a file name with '{{' or '}}' cannot be a workflow input; "
                "rename it, or parse it directly with `avvp parse`"
            )
    if not files:
        raise PlanError(f"parse.videos_dir {folder}: no videos")
    return files


def check_models(known: list[str], train_cfg: dict, parse_cfg: dict) -> None:
    """PlanError for a model name in ``train.models``, ``train.per_model`` or ``parse.models`` that is not a row."""
    places = [
        ("train.models", train_cfg.get("models") or []),
        ("train.per_model", list(train_cfg.get("per_model") or {})),
        ("parse.models", parse_cfg.get("models") or []),
    ]
    for where, names in places:
        for name in names:
            if name not in known:
                close = difflib.get_close_matches(name, known, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise PlanError(
                    f"unknown model {name!r} in {where}{hint} (`avvp models` lists them: {', '.join(known)})"
                )
