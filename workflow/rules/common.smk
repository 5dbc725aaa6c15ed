# Shared planning for all rules: which videos exist, which shard each belongs to, and the
# stage-local config each rule receives (so a change reruns only the stages it concerns).
import json
import os
import re

from avvp_pipeline import STAGE_VERSIONS
from avvp_pipeline.models.rows import MODELS as ALL_MODELS
from avvp_pipeline.models.rows import spec
from avvp_pipeline.features.kinds import cli_flag
from avvp_pipeline.features.store import WORKFLOW_RESULTS_ENV
from avvp_pipeline.fetch.http import OFFLINE_ENV
from avvp_pipeline.plan import check_feature_kinds, check_models, check_parse, check_pseudo_labels, data_source
from avvp_pipeline.plan import check_offline
from avvp_pipeline.plan_results_dir import check_results_dir
from avvp_pipeline.plan import feature_kinds, feature_source, plan_videos, rows_needed
from avvp_pipeline.plan_manifests import manifest_path, write_import_manifests, write_pseudo_label_manifest
from avvp_pipeline.plan_manifests import video_manifest_path, write_video_manifests
from avvp_pipeline.plan import parse_inputs as plan_parse_inputs
from avvp_pipeline.data.datasets.config import annotation_files
from avvp_pipeline.dataset_plan import dataset_kind, described_videos, index_dataset, read_planned
from avvp_pipeline.reporting import FIGURES
from avvp_pipeline.teachers.folders import WEIGHTS_FILE
from avvp_pipeline.plan import NOISE_ESTIMATOR
from avvp_pipeline.stage_plan import check_noise_ratios, check_refine, stage_configs
from avvp_pipeline.train_plan import check_train_options, run_dir, run_dirs, run_seeds, runtime_options, train_params
from avvp_pipeline.train_plan import check_label_embeddings, label_embeddings_file
from snakemake.exceptions import WorkflowError

# Everything a run would trip over later stops here, at planning, with one message.
try:
    check_results_dir(config, workflow.basedir)  # before anything is written there
    check_offline(config)
    check_models(list(ALL_MODELS), config["train"], config["parse"])
    # dataset.name: llp (the default), lfav or custom; first, as it refuses what only LLP's files give
    DATASET_KIND = dataset_kind(config)
    SEEDS = run_seeds(config["train"])  # None: one run per row in runs/NAME/ (the default)
    check_train_options(config["train"], rows_needed(config["train"], config["refine"], config["noise_ratios"]))
    TRAIN_RUNTIME = runtime_options(config["train"])  # speed only: rule resources, never params
    check_pseudo_labels(config["train"], config.get("pseudo_labels"))
    check_label_embeddings(config["train"])
    check_parse(config["features"], config["parse"])
    check_feature_kinds(config["features"], config["train"], config["refine"], config["noise_ratios"])
    FEATURE_SOURCE = feature_source(config["features"])
    # the feature kinds the configured rows read: only these are imported (features.source: released)
    FEATURE_KINDS = feature_kinds(config["train"], config["refine"], config["noise_ratios"])
    DATA = data_source(config["dataset"], config["features"])
    # lfav and custom files read and checked now (not the demo's: the synth job renders them)
    DESCRIPTION = read_planned(config, DATA)
    PLAN = plan_videos(
        config["dataset"],
        config["features"]["shard_size"],
        config["features"],
        FEATURE_KINDS,
        described_videos(DESCRIPTION),
    )
    ANNOTATIONS = annotation_files(DATASET_KIND, DATA.annotations_dir, rendered=DATA.synthetic)
    PARSE_VIDEOS = plan_parse_inputs(config["parse"]["videos_dir"]) if config["parse"]["videos_dir"] else []
    check_refine(config["refine"])
    check_noise_ratios(config["train"], config["noise_ratios"])
    # each stage's config and version, recorded in its params (changing it reruns that stage)
    STAGE_CFG = stage_configs(config, DATA)
except ValueError as _exc:  # PlanError, and annotation files that cannot be read
    raise WorkflowError(str(_exc)) from None
SHARDS = list(range(PLAN.num_shards))
DOWNLOAD = DATA.download  # dataset.download's options when the clips are fetched (dataset.smk), else None
RESULTS = config["results_dir"].rstrip("/")  # every output of the run lies below it
# Tells the stages which shards are this workflow's (a damaged one is moved aside to be rebuilt); an
# environment variable rather than an option, so that finished jobs keep their recorded commands.
os.environ[WORKFLOW_RESULTS_ENV] = os.path.abspath(RESULTS)
# `offline: true`: the jobs that could fetch (extraction: missing pretrained weights) open no socket;
# an environment variable, like the one above, so that flipping it reruns nothing.
if config["offline"]:
    os.environ[OFFLINE_ENV] = "1"


def out(path):
    """``path`` (relative) inside the run's results folder."""
    return f"{RESULTS}/{path}"


FEATURE_DIR = out("features")
TRAINED_MODELS = config["train"]["models"]
# One run per row (runs/NAME/), or per row and seed (runs/NAME/seed-S/, docs/seeds.md): the rules that
# train, refine and evaluate write RUN, and the figures and parsing read the first seed's run.
RUN = out(run_dir("{model}", "{seed}" if SEEDS else None))
RUN_LOG = "{model}/seed-{seed}" if SEEDS else "{model}"  # logs/<stage>/RUN_LOG.log
FIRST_SEED = SEEDS[0] if SEEDS else None


def train_cfg(wildcards):
    """The run's recorded options and the stage's version (a param of the train rule: a change retrains the row)."""
    seed = wildcards.get("seed")
    return as_json(train_params(wildcards.model, config["train"], None if seed is None else int(seed)))


def run_files(name):
    """``name`` (model.pt, metrics.json, ...) in every run folder of `train.models` (per seed)."""
    return [out(f"{d}/{name}") for d in run_dirs(TRAINED_MODELS, SEEDS)]


def first_run(name):
    """Input function: ``name`` in the run of ``wildcards.model`` with the first seed (figures, parsing)."""
    return lambda wildcards: out(f"{run_dir(wildcards.model, FIRST_SEED)}/{name}")


def as_json(d):
    """Compact JSON for a shell argument (quote it with {params.x:q})."""
    return json.dumps(d, sort_keys=True, separators=(",", ":"))


def model_constraint():
    """Wildcard regex matching every model name of the registry (names contain * and +)."""
    return "|".join(re.escape(m) for m in ALL_MODELS)


def refined_labels(wildcards):
    """MA-refined labels for the rows that train on them: computed ones are the run's seed's (refined/
    seed-S/ from runs/ma_base/seed-S/), imported ones are shared by every seed."""
    if spec(wildcards.model).labels != "refined":
        return []
    seed = wildcards.get("seed") if config["refine"]["source"] == "computed" else None
    return [out("refined/labels.h5" if seed is None else f"refined/seed-{seed}/labels.h5")]


PSEUDO_LABELS = config.get("pseudo_labels") or {"source": "none", "dir": None}
NOISE_RATIOS = config["noise_ratios"]


def noise_ratio_file(wildcards):
    """JoMoLD's noise ratios for the rows that flip labels with them: computed ones are the run's seed's
    (jomold/seed-S/ from runs/jomold-estimator/seed-S/), an imported file is shared by every seed."""
    if spec(wildcards.model).jomold != "denoise":
        return []
    seed = wildcards.get("seed") if NOISE_RATIOS["source"] == "computed" else None
    return [out("jomold/noise_ratios.h5" if seed is None else f"jomold/seed-{seed}/noise_ratios.h5")]


def teacher_weight_files(wildcards):
    """The teachers' weight files (none for random teachers): replacing one reruns the teachers."""
    teachers = STAGE_CFG["pseudo_labels_teachers"]
    return [
        os.path.join(teachers[k]["weights"], WEIGHTS_FILE)
        for k in ("clip", "clap")
        if teachers[k]["weights"] != "random"
    ]


def pseudo_labels(wildcards):
    """The pseudo-labels file for the rows that train on it (VALOR), shared by every seed."""
    return [out("pseudo_labels/labels.h5")] if spec(wildcards.model).pseudo_labels else []


def label_embeddings(wildcards):
    """LEAP's class-embedding file for the rows that read it (a new file retrains them)."""
    path = label_embeddings_file(wildcards.model, config["train"])
    return [path] if path else []


def option(flag, value):
    """``[flag, value]`` when ``value`` is set, else ``[]``: quoted with ``{params.x:q}`` it gives the
    quoted option or nothing."""
    return [flag, str(value)] if value else []


def shard_videos(wildcards):
    """A shard's videos as its jobs' inputs: their manifest (one short path; it gets a new time when a
    video is added, removed or changed), and for the demo the folder the synth job renders."""
    videos = {"manifest": video_manifest_path(FEATURE_DIR, int(wildcards.shard))}
    return {**videos, "rendered": DEMO_VIDEOS} if DATA.synthetic else videos


def import_manifest(wildcards):
    """The source manifest of the shard's released .npy files of one feature kind (features.source: released)."""
    return manifest_path(FEATURE_DIR, wildcards.kind, int(wildcards.shard))


def shard_outputs(k):
    """What the jobs reading shard ``k``'s videos write: its feature shards and teacher labels."""
    shards = [f"{FEATURE_DIR}/{kind}/shard-{k:04d}.h5" for kind in FEATURE_KINDS]
    return [*shards, out(f"pseudo_labels/shards/shard-{k:04d}.h5")]


# The demo's videos are one output of the synth job, its folder (not 100s of file names in the console).
DEMO_VIDEOS = PLAN.videos_dir if DATA.synthetic else None
# Downloaded clips: each shard's manifest is the output of its download job (dataset.smk), not written here.
if FEATURE_SOURCE == "extract" and not DATA.downloads:
    write_video_manifests(PLAN, FEATURE_DIR, shard_outputs if DATA.synthetic else None)


def download_failures(k):
    """The failures file of shard ``k``'s download job (media/clip_download.py writes and reads it)."""
    return out(f"downloads/failures-shard-{k:04d}.tsv")


def report_clips(wildcards):
    """The report's inputs on which clips the run had: the index (listed), the shards' video manifests
    (available), the download failures (why not); none with released features."""
    if FEATURE_SOURCE != "extract":
        return {}
    clips = {"index": out("dataset/index.h5"), "video_lists": [video_manifest_path(FEATURE_DIR, k) for k in SHARDS]}
    return {**clips, "download_failures": [download_failures(k) for k in SHARDS]} if DATA.downloads else clips


def report_clip_options(wildcards, input):
    """``--index H5 --video-lists TSV ... [--download-failures TSV ...]`` for :func:`report_clips`' inputs."""
    if FEATURE_SOURCE != "extract":
        return []
    options = ["--index", input.index, "--video-lists", *input.video_lists]
    return [*options, "--download-failures", *input.download_failures] if DATA.downloads else options


# Imports rerun when the content of their released files changes, whatever their times say: each job's
# input is a manifest of its files' sizes, times and inodes, rewritten here only on a change
# (avvp_pipeline/features/manifest.py, docs/released-features.md).
if FEATURE_SOURCE == "released":
    write_import_manifests(PLAN, FEATURE_DIR)
PSEUDO_LABEL_MANIFEST = out("pseudo_labels/manifest.tsv")
if PSEUDO_LABELS["source"] == "released":
    write_pseudo_label_manifest(
        PSEUDO_LABELS["dir"], PLAN.video_ids, PSEUDO_LABEL_MANIFEST, out("pseudo_labels/labels.h5")
    )


def shard_ids(wildcards):
    return PLAN.shard(int(wildcards.shard))


def all_shards(extractor):
    return expand(f"{FEATURE_DIR}/{extractor}/shard-{{shard}}.h5", shard=[f"{k:04d}" for k in SHARDS])


def row_shards(row):
    """The shards of each feature kind the row ``row`` reads, by kind (unpacked into named inputs)."""
    return {kind: all_shards(kind) for kind in spec(row).features}


def row_shard_options(row, input):
    """``--KIND H5 ...`` for each feature kind of ``row`` among ``input`` (quoted with ``{params.x:q}``)."""
    return [a for kind in spec(row).features for a in (cli_flag(kind), *getattr(input, kind))]


def model_shards(wildcards):
    """The shards of each feature kind the row ``wildcards.model`` reads (unpacked into named inputs)."""
    return row_shards(wildcards.model)


def shard_options(wildcards, input):
    """``--KIND H5 ...`` for each feature kind of the row's inputs (quoted with ``{params.x:q}``)."""
    return row_shard_options(wildcards.model, input)


def parse_inputs(wildcards):
    """Every file of `parse.videos_dir` (adding or changing a video reruns the parse)."""
    return PARSE_VIDEOS
