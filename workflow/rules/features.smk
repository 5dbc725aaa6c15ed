# Feature stage: one job per shard and modality. Visual jobs decode each video once for
# ResNet-152 (80 x 2048) and R(2+1)D-18 (10 x 512); audio jobs run VGGish (10 x 128).
# Each job's input is its shard's video manifest (common.smk: shard_videos), not the (long) list of videos.
# Threads only change speed (decoder processes run beside the model), so a different
# thread count never rebuilds a shard.
# With `features.source: released` one import job per feature kind and shard writes the same shards
# from the release's .npy files instead (only the kinds the configured rows read, e.g. VALOR's CLAP and
# CLIP features for valor++), and the extraction rules are not defined.

if FEATURE_SOURCE == "extract":

    rule extract_visual:
        input:
            unpack(shard_videos),
        output:
            resnet152=f"{FEATURE_DIR}/resnet152/shard-{{shard}}.h5",
            r2plus1d_18=f"{FEATURE_DIR}/r2plus1d_18/shard-{{shard}}.h5",
            failures=f"{FEATURE_DIR}/failures/visual-shard-{{shard}}.tsv",
        log:
            out("logs/extract_visual/shard-{shard}.log"),
        benchmark:
            out("benchmarks/extract_visual/shard-{shard}.tsv")
        conda:
            "../../envs/avvp.yaml"
        threads: 2
        resources:
            gpu=1,
        params:
            cfg=as_json(STAGE_CFG["features_visual"]),
        message:
            "extract_visual: shard {wildcards.shard}, ResNet-152 and R(2+1)D-18 features of its videos; log: {log}"
        shell:
            "avvp extract visual --video-list {input.manifest:q} --config {params.cfg:q} --threads {threads}"
            " --out-resnet152 {output.resnet152:q} --out-r2plus1d-18 {output.r2plus1d_18:q}"
            " --failures {output.failures:q} 2> {log:q}"

    rule extract_audio:
        input:
            unpack(shard_videos),
        output:
            vggish=f"{FEATURE_DIR}/vggish/shard-{{shard}}.h5",
            failures=f"{FEATURE_DIR}/failures/audio-shard-{{shard}}.tsv",
        log:
            out("logs/extract_audio/shard-{shard}.log"),
        benchmark:
            out("benchmarks/extract_audio/shard-{shard}.tsv")
        conda:
            "../../envs/avvp.yaml"
        threads: 2
        resources:
            gpu=1,
        params:
            cfg=as_json(STAGE_CFG["features_audio"]),
        message:
            "extract_audio: shard {wildcards.shard}, VGGish features of its videos; log: {log}"
        shell:
            "avvp extract audio --video-list {input.manifest:q} --config {params.cfg:q} --threads {threads}"
            " --out-vggish {output.vggish:q} --failures {output.failures:q} 2> {log:q}"

else:

    # one job per feature kind and shard, for the kinds the configured rows read (FEATURE_KINDS)
    rule import_features:
        input:
            manifest=import_manifest,
        output:
            shard=f"{FEATURE_DIR}/{{kind}}/shard-{{shard}}.h5",
            failures=f"{FEATURE_DIR}/failures/import-{{kind}}-shard-{{shard}}.tsv",
        log:
            out("logs/import_features/{kind}/shard-{shard}.log"),
        benchmark:
            out("benchmarks/import_features/{kind}/shard-{shard}.tsv")
        conda:
            "../../envs/avvp.yaml"
        # one reader per job: shards import side by side (faster than threads within one job)
        threads: 1
        params:
            released_dir=DATA.released_dir,
            # whose layout (dataset.name); none for LLP's, whose recorded command stays as it was
            release=["--release", DATA.release] if DATA.release != "llp" else [],
            cfg=as_json(STAGE_CFG["features_import"]),
            ids=shard_ids,
            out=lambda w: f"--out-{cli_flag(w.kind)[2:]}",
        # the ids come after --: YouTube ids may start with '-'
        shell:
            "avvp import features --released-dir {params.released_dir:q} {params.release:q}"
            " --config {params.cfg:q}"
            " --threads {threads} {params.out:q} {output.shard:q} --failures {output.failures:q}"
            " -- {params.ids:q} 2> {log:q}"
