# Training stage: one job per model in config `train.models`; features are held in memory.


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
        cfg=train_cfg,
        out_dir=lambda w, output: os.path.dirname(output.model),
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
        "avvp train --model {wildcards.model} --index {input.index:q} --vggish {input.vggish:q}"
        " --resnet152 {input.resnet152:q} --r2plus1d-18 {input.r2plus1d_18:q} --config {params.cfg:q}"
        " --threads {threads} --out-dir {params.out_dir:q} 2> {log:q}"
