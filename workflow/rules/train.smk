# Training stage: one job per model (config `train.models`, plus MA's base model when an MA* row
# needs refined labels), or per model and seed (`train.seeds`, RUN in common.smk); features are held
# in memory.


rule train:
    input:
        unpack(model_shards),  # the shards of the feature kinds the row reads, named by kind
        index=out("dataset/index.h5"),
        refined=refined_labels,
        pseudo_labels=pseudo_labels,
        noise_ratios=noise_ratio_file,
        label_embeddings=label_embeddings,
    output:
        model=f"{RUN}/model.pt",
        history=f"{RUN}/history.json",
    log:
        out(f"logs/train/{RUN_LOG}.log"),
    benchmark:
        out(f"benchmarks/train/{RUN_LOG}.tsv")
    conda:
        "../../envs/avvp.yaml"
    threads: 2
    # train.runtime's speed options travel like threads: never params, so changing one retrains nothing
    resources:
        gpu=1,
        eval_batch_size=TRAIN_RUNTIME["eval_batch_size"],
        cuda_graphs=int(TRAIN_RUNTIME["cuda_graphs"]),
    params:
        cfg=train_cfg,
        shards=shard_options,
        out_dir=lambda w, output: os.path.dirname(output.model),
        refined=lambda w, input: option("--refined", input.refined),
        pseudo_labels=lambda w, input: option("--pseudo-labels", input.pseudo_labels),
        noise_ratios=lambda w, input: option("--noise-ratios", input.noise_ratios),
        label_embeddings=lambda w, input: option("--label-embeddings", input.label_embeddings),
    shell:
        "avvp train --model {wildcards.model:q} --index {input.index:q} {params.shards:q} --config {params.cfg:q}"
        " {params.refined:q} {params.pseudo_labels:q} {params.noise_ratios:q} {params.label_embeddings:q}"
        " --threads {threads} --eval-batch-size {resources.eval_batch_size}"
        " --cuda-graphs {resources.cuda_graphs} --out-dir {params.out_dir:q} 2> {log:q}"


# MA's refined labels: computed (`avvp refine` over the ma_base model), or imported from the CM-Co
# release's need_to_change_cmco.pkl (`refine: {source: file, file: PATH}`; no ma_base training).
# Switching source changes the rule's inputs and command, which reruns it and the MA* rows.
# Computed labels are refined once per seed of `train.seeds` (refined/seed-S/labels.h5 from
# runs/ma_base/seed-S/, with the same partner seed 0); imported ones are shared by every seed.
REFINE = config["refine"]
REFINE_TRAIN_CSV = f"{DATA.annotations_dir}/AVVP_train.csv"  # the rows the released indices refer to
if REFINE["source"] == "file":

    rule refine_labels:
        input:
            released=REFINE["file"],
            index=out("dataset/index.h5"),
            train_csv=REFINE_TRAIN_CSV,
        output:
            out("refined/labels.h5"),
        log:
            out("logs/refine_labels.log"),
        benchmark:
            out("benchmarks/refine_labels.tsv")
        conda:
            "../../envs/avvp.yaml"
        params:
            version=STAGE_VERSIONS["refine"],
            source="file",
            file=lambda w, input: input.released,
            annotations_dir=lambda w, input: os.path.dirname(input.train_csv),
        shell:
            "avvp import refined {input.released:q} --index {input.index:q}"
            " --annotations-dir {params.annotations_dir:q} --out {output:q} 2> {log:q}"

else:

    MA_BASE_RUN = RUN.format(model="ma_base", seed="{seed}")  # the base model of the run's seed

    rule refine_labels:
        input:
            model=f"{MA_BASE_RUN}/model.pt",
            index=out("dataset/index.h5"),
            vggish=all_shards("vggish"),
            resnet152=all_shards("resnet152"),
            r2plus1d_18=all_shards("r2plus1d_18"),
        output:
            out("refined/seed-{seed}/labels.h5") if SEEDS else out("refined/labels.h5"),
        log:
            out("logs/refine_labels/seed-{seed}.log") if SEEDS else out("logs/refine_labels.log"),
        benchmark:
            out("benchmarks/refine_labels/seed-{seed}.tsv") if SEEDS else out("benchmarks/refine_labels.tsv")
        conda:
            "../../envs/avvp.yaml"
        threads: 2
        resources:
            gpu=1,
        params:
            # no `source` here: params recorded by earlier versions stay equal, so finished runs are kept
            version=STAGE_VERSIONS["refine"],
            seed=0,
        shell:
            "avvp refine --model {input.model:q} --index {input.index:q} --vggish {input.vggish:q}"
            " --resnet152 {input.resnet152:q} --r2plus1d-18 {input.r2plus1d_18:q} --seed {params.seed:q}"
            " --threads {threads} --out {output:q} 2> {log:q}"


# VALOR's segment-level pseudo labels (the valor rows): imported from its release's CLIP/ and CLAP/
# segment_pseudo_labels folders (`pseudo_labels: {source: released, dir: DIR}`) into one HDF5 file;
# a bad file is a line of the failures file and its video trains on its weak label only.
if PSEUDO_LABELS["source"] == "released":

    rule import_pseudo_labels:
        input:
            index=out("dataset/index.h5"),
            manifest=PSEUDO_LABEL_MANIFEST,  # the released files' sizes and times (common.smk)
        output:
            labels=out("pseudo_labels/labels.h5"),
            failures=out("pseudo_labels/failures.tsv"),
        log:
            out("logs/import_pseudo_labels.log"),
        benchmark:
            out("benchmarks/import_pseudo_labels.tsv")
        conda:
            "../../envs/avvp.yaml"
        threads: 1
        params:
            version=STAGE_VERSIONS["pseudo_labels"],
            released_dir=PSEUDO_LABELS["dir"],
        shell:
            "avvp import pseudo-labels --released-dir {params.released_dir:q} --index {input.index:q}"
            " --out {output.labels:q} --failures {output.failures:q} --threads {threads} 2> {log:q}"


# ... or computed here by VALOR's teachers (`pseudo_labels: {source: teachers}`): CLIP labels the visual
# track, CLAP the audio track of each training video, one job per shard of videos, then one merge.
if PSEUDO_LABELS["source"] == "teachers":

    rule teach_pseudo_labels:
        input:
            unpack(shard_videos),
            index=out("dataset/index.h5"),
            weights=teacher_weight_files,
        output:
            labels=out("pseudo_labels/shards/shard-{shard}.h5"),
            failures=out("pseudo_labels/failures/shard-{shard}.tsv"),
        log:
            out("logs/teach_pseudo_labels/shard-{shard}.log"),
        benchmark:
            out("benchmarks/teach_pseudo_labels/shard-{shard}.tsv")
        conda:
            "../../envs/avvp.yaml"
        threads: 2
        resources:
            gpu=1,
        params:
            cfg=as_json(STAGE_CFG["pseudo_labels_teachers"]),
        message:
            "teach_pseudo_labels: shard {wildcards.shard}, CLIP and CLAP label its training videos; log: {log}"
        shell:
            "avvp teach-pseudo-labels --video-list {input.manifest:q} --index {input.index:q} --config {params.cfg:q}"
            " --threads {threads} --out {output.labels:q} --failures {output.failures:q} 2> {log:q}"

    rule merge_pseudo_labels:
        input:
            labels=expand(out("pseudo_labels/shards/shard-{shard}.h5"), shard=[f"{k:04d}" for k in SHARDS]),
            failures=expand(out("pseudo_labels/failures/shard-{shard}.tsv"), shard=[f"{k:04d}" for k in SHARDS]),
        output:
            labels=out("pseudo_labels/labels.h5"),
            failures=out("pseudo_labels/failures.tsv"),
        log:
            out("logs/merge_pseudo_labels.log"),
        conda:
            "../../envs/avvp.yaml"
        threads: 1
        shell:
            "avvp merge-pseudo-labels --shards {input.labels:q} --shard-failures {input.failures:q}"
            " --out {output.labels:q} --failures {output.failures:q} 2> {log:q}"


# JoMoLD's per-class noise ratios (the jomold row, when trained): computed by `avvp noise-ratios` from the
# trained jomold-estimator (`noise_ratios: {source: computed}`, the default; per seed of `train.seeds`,
# jomold/seed-S/ from runs/jomold-estimator/seed-S/), or imported from the official code's noise_ratios.npz
# (`noise_ratios: {source: file, file: PATH}`; no estimator training, shared by every seed).
if STAGE_CFG["noise_ratios"] and NOISE_RATIOS["source"] == "file":

    rule import_noise_ratios:
        input:
            released=NOISE_RATIOS["file"],
        output:
            out("jomold/noise_ratios.h5"),
        log:
            out("logs/noise_ratios.log"),
        conda:
            "../../envs/avvp.yaml"
        params:
            cfg=as_json(STAGE_CFG["noise_ratios"]),
        shell:
            "avvp import noise-ratios {input.released:q} --out {output:q} 2> {log:q}"

elif STAGE_CFG["noise_ratios"]:

    ESTIMATOR_RUN = RUN.format(model=NOISE_ESTIMATOR, seed="{seed}")  # the estimator of the run's seed

    rule noise_ratios:
        input:
            unpack(lambda w: row_shards(NOISE_ESTIMATOR)),
            model=f"{ESTIMATOR_RUN}/model.pt",
            index=out("dataset/index.h5"),
        output:
            out("jomold/seed-{seed}/noise_ratios.h5") if SEEDS else out("jomold/noise_ratios.h5"),
        log:
            out("logs/noise_ratios/seed-{seed}.log") if SEEDS else out("logs/noise_ratios.log"),
        benchmark:
            out("benchmarks/noise_ratios/seed-{seed}.tsv") if SEEDS else out("benchmarks/noise_ratios.tsv")
        conda:
            "../../envs/avvp.yaml"
        threads: 2
        resources:
            gpu=1,
        params:
            cfg=as_json(STAGE_CFG["noise_ratios"]),
            shards=lambda w, input: row_shard_options(NOISE_ESTIMATOR, input),
        shell:
            "avvp noise-ratios --model {input.model:q} --index {input.index:q} {params.shards:q}"
            " --threads {threads} --out {output:q} 2> {log:q}"
