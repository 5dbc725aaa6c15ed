# avvp-pipeline: videos -> features -> trained parsers -> LLP metrics -> report.
# `snakemake --cores all` runs the embedded demo (config.yaml); see docs/reproduction.md for real LLP data.
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from avvp_pipeline.config_schema import load_schema, prepare_config
from avvp_pipeline.plan import PlanError
from avvp_pipeline.results_lock import ResultsLocked, lock_results

min_version("9.0")


configfile: "config.yaml"


# shortcuts (`--config annotations_dir=DIR videos_dir=DIR released_dir=DIR`: --config takes no nested
# keys) expanded, and numbers inside `--config key='{...}'` (which arrive as text) converted
try:
    prepare_config(config, load_schema(f"{workflow.basedir}/workflow/schemas/config.schema.yaml"))
except PlanError as _exc:
    raise WorkflowError(str(_exc)) from None
validate(config, "workflow/schemas/config.schema.yaml")  # fills in the defaults


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


# The one set of wildcard constraints: every rule's wildcards mean the same thing everywhere.
wildcard_constraints:
    model=model_constraint(),
    seed=r"\d+",
    shard=r"\d{4}",
    kind="|".join(re.escape(k) for k in FEATURE_KINDS),


include: "workflow/rules/dataset.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/report.smk"


# One run at a time writes a results folder, whichever working folder it starts from. onstart runs
# only in the main snakemake process of a real run: not for -n, --lint, --report or --unlock, nor in jobs.
onstart:
    try:
        lock_results(RESULTS)
    except ResultsLocked as exc:
        raise WorkflowError(str(exc)) from None


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
