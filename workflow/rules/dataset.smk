# Dataset stage: (demo only) render the synthetic clips into demo/, then index splits and labels.
# The user's data folders are only ever read. synth's output is the videos folder, not its (long) list of videos.
ANNOTATIONS = [
    f"{DATA.annotations_dir}/{name}"
    for name in (
        "AVVP_train.csv",
        "AVVP_val_pd.csv",
        "AVVP_test_pd.csv",
        "AVVP_eval_audio.csv",
        "AVVP_eval_visual.csv",
    )
]

if DATA.synthetic:

    rule synth:
        output:
            annotations=ANNOTATIONS,
            videos=directory(PLAN.videos_dir),
        log:
            out("logs/synth.log"),
        benchmark:
            out("benchmarks/synth.tsv")
        conda:
            "../../envs/avvp.yaml"
        threads: 2
        params:
            cfg=as_json(STAGE_CFG["synth"]),
            annotations_dir=lambda w, output: os.path.dirname(output.annotations[0]),
        message:
            "synth: renders the demo set ({output.videos}, {params.annotations_dir}); log: {log}"
        shell:
            "avvp synth --jobs {threads} --videos-dir {output.videos:q}"
            " --annotations-dir {params.annotations_dir:q}"
            " --config {params.cfg:q} 2> {log:q}"


rule index:
    input:
        ANNOTATIONS,
    output:
        out("dataset/index.h5"),
    log:
        out("logs/index.log"),
    benchmark:
        out("benchmarks/index.tsv")
    conda:
        "../../envs/avvp.yaml"
    params:
        annotations_dir=lambda w, input: os.path.dirname(input[0]),
        legacy=["--legacy-eval-audio"] if config["dataset"]["legacy_eval_audio"] else [],
        version=STAGE_VERSIONS["index"],
    shell:
        "avvp index --annotations-dir {params.annotations_dir:q} --out {output:q} {params.legacy:q} 2> {log:q}"
