# Evaluation stage: LLP protocol (LFAV's for dataset.name lfav) on the test split (metrics.json + predictions.h5) of every run (per
# model, or per model and seed: RUN in common.smk), and the broadcast baseline that needs no training.
# `evaluate.protocols` adds the scores of other post-processing protocols, each under its own name.


rule evaluate:
    input:
        unpack(model_shards),  # the shards of the feature kinds the row reads, named by kind
        model=f"{RUN}/model.pt",
        index=out("dataset/index.h5"),
    output:
        metrics=f"{RUN}/metrics.json",
        predictions=f"{RUN}/predictions.h5",
    log:
        out(f"logs/evaluate/{RUN_LOG}.log"),
    benchmark:
        out(f"benchmarks/evaluate/{RUN_LOG}.tsv")
    conda:
        "../../envs/avvp.yaml"
    threads: 2
    resources:
        gpu=1,
    params:
        cfg=as_json(STAGE_CFG["evaluate"]),
        split=STAGE_CFG["evaluate"]["split"],
        gate=STAGE_CFG["evaluate"]["gate"],
        protocols=[f"--protocol={p}" for p in STAGE_CFG["evaluate"].get("protocols", [])],
        # LFAV's protocol for dataset.name lfav (stage_plan.py); none for LLP, whose command stays as it was
        scorer=["--scorer", STAGE_CFG["evaluate"]["scorer"]] if "scorer" in STAGE_CFG["evaluate"] else [],
        shards=shard_options,
    shell:
        "avvp evaluate --model {input.model:q} --index {input.index:q} {params.shards:q} --split {params.split:q}"
        " --gate {params.gate:q} {params.protocols:q} {params.scorer:q} --threads {threads}"
        " --out-metrics {output.metrics:q} --out-predictions {output.predictions:q} 2> {log:q}"


# scored on the videos the shards hold in every kind the run makes: those the models are scored on
rule baseline_broadcast:
    input:
        unpack(lambda w: {kind: all_shards(kind) for kind in FEATURE_KINDS}),
        index=out("dataset/index.h5"),
    output:
        metrics=out("baselines/broadcast/metrics.json"),
    log:
        out("logs/baseline_broadcast.log"),
    benchmark:
        out("benchmarks/baseline_broadcast.tsv")
    conda:
        "../../envs/avvp.yaml"
    params:
        cfg=as_json(STAGE_CFG["evaluate"]),
        split=STAGE_CFG["evaluate"]["split"],
        shards=lambda w, input: [a for kind in FEATURE_KINDS for a in (cli_flag(kind), *getattr(input, kind))],
    shell:
        "avvp baseline --index {input.index:q} {params.shards:q} --split {params.split:q}"
        " --out {output.metrics:q} 2> {log:q}"
