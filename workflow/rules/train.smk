# Training stage: one job per model in config `train.models`; features are held in memory.
# `train.runtime` only changes speed: read at run time, not part of params.
TRAIN_RUNTIME_JSON = as_json(config["train"].get("runtime", {}))


rule train:
    input:
        index="dataset/index.h5",
        vggish=all_shards("vggish"),
        resnet152=all_shards("resnet152"),
        r2plus1d_18=all_shards("r2plus1d_18"),
    output:
        model="runs/{model}/model.pt",
        history="runs/{model}/history.json",
    params:
        cfg=as_json(TRAIN_CFG),
    wildcard_constraints:
        model="|".join(re.escape(m) for m in MODELS),
    threads: 2
    resources:
        gpu=1,
    conda:
        "../../envs/avvp.yaml"
    log:
        "logs/train/{model}.log",
    benchmark:
        "benchmarks/train/{model}.tsv"
    shell:
        "avvp train --model {wildcards.model} --index {input.index:q} " + shard_args() +
        " --config {params.cfg:q} --runtime {TRAIN_RUNTIME_JSON:q} --out-dir runs/{wildcards.model} 2> {log:q}"
