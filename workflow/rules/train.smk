# Training stage: one job per model (config `train.models`, plus MA's base model when an MA* row
# needs refined labels); features are held in memory.


rule train:
    input:
        index="dataset/index.h5",
        vggish=all_shards("vggish"),
        resnet152=all_shards("resnet152"),
        r2plus1d_18=all_shards("r2plus1d_18"),
        refined=refined_labels,
    output:
        model="runs/{model}/model.pt",
        history="runs/{model}/history.json",
    params:
        cfg=train_cfg,
        out_dir=lambda w, output: os.path.dirname(output.model),
        refined=lambda w, input: option("--refined", input.refined),
    wildcard_constraints:
        model=model_constraint(),
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
        "avvp train --model {wildcards.model:q} --index {input.index:q} --vggish {input.vggish:q}"
        " --resnet152 {input.resnet152:q} --r2plus1d-18 {input.r2plus1d_18:q} --config {params.cfg:q}"
        " {params.refined:q} --threads {threads} --out-dir {params.out_dir:q} 2> {log:q}"


rule refine_labels:
    input:
        model="runs/ma_base/model.pt",
        index="dataset/index.h5",
        vggish=all_shards("vggish"),
        resnet152=all_shards("resnet152"),
        r2plus1d_18=all_shards("r2plus1d_18"),
    output:
        "refined/labels.h5",
    params:
        version=STAGE_VERSIONS["refine"],
        seed=0,
    threads: 2
    resources:
        gpu=1,
    conda:
        "../../envs/avvp.yaml"
    log:
        "logs/refine_labels.log",
    benchmark:
        "benchmarks/refine_labels.tsv"
    shell:
        "avvp refine --model {input.model:q} --index {input.index:q} --vggish {input.vggish:q}"
        " --resnet152 {input.resnet152:q} --r2plus1d-18 {input.r2plus1d_18:q} --seed {params.seed:q}"
        " --threads {threads} --out {output:q} 2> {log:q}"
