# avvp-pipeline: videos -> features -> trained parsers -> LLP metrics -> report.
# `snakemake --cores all` runs the embedded demo (config.yaml); see README.md for real LLP data.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config.yaml"


# shortcuts for the two data folders: `--config annotations_dir=DIR videos_dir=DIR`
for _key in ("annotations_dir", "videos_dir"):
    if _key in config:
        config["dataset"][_key] = config.pop(_key)
# and for the released features' folder (--config takes no nested keys): `--config released_dir=DIR`
if "released_dir" in config:
    config["features"]["released_dir"] = config.pop("released_dir")

validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/dataset.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


# Shards and models are listed as well, so that one deleted (or moved aside as damaged) is rebuilt
# even though the metrics made from it are still present; everything downstream then reruns.
rule all:
    default_target: True
    input:
        [all_shards(kind) for kind in FEATURE_KINDS],
        run_files("model.pt"),  # per model, or per model and seed (train.seeds)
        out("reports/results.md"),
        expand(out("reports/figures/{model}/{figure}"), model=TRAINED_MODELS, figure=FIGURES),
        expand(out("reports/videos/{model}.html"), model=TRAINED_MODELS),
        expand(out("parsed/{model}"), model=config["parse"]["models"] if config["parse"]["videos_dir"] else []),
