"""avvp-pipeline: weakly-supervised audio-visual video parsing as a reproducible pipeline."""

__version__ = "0.1.0"

# Bump a stage's number when its code changes what it writes: the number is part of the
# Snakemake rule's params, so outputs made by older code are rebuilt.
STAGE_VERSIONS = {
    "synth": 1,
    "index": 1,
    "features_visual": 2,
    "features_audio": 3,
    "features_import": 1,
    "refine": 1,
    "pseudo_labels": 1,
    "pseudo_labels_teachers": 1,
    "noise_ratios": 1,
    "train": 3,
    "evaluate": 2,
    "report": 2,
}
