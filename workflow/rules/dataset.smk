# Dataset stage: (demo only) render the synthetic clips into demo/, then index splits and labels.
# The user's data folders are only ever read, but for videos_dir with dataset.download (download_videos below).
# synth's output is the videos folder, not its (long) list of videos.
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


# dataset.download: one job per shard fetches its clips into videos_dir (the one folder the pipeline
# writes videos into, and only when told to) and writes the shard's video manifest, the clips it has,
# which the shard's extraction and teacher jobs read. A clip already there is never fetched again.
# Only the clip names are params: the download options change no clip, so they travel as resources and
# changing one reruns nothing (an empty one is unset). Runs on the machine that starts the workflow
# (localrule: cluster nodes often have no network).
if DATA.downloads:

    rule download_videos:
        output:
            manifest=f"{FEATURE_DIR}/manifests/videos-shard-{{shard}}.tsv",
            failures=out("downloads/failures-shard-{shard}.tsv"),
        log:
            out("logs/download_videos/shard-{shard}.log"),
        benchmark:
            out("benchmarks/download_videos/shard-{shard}.tsv")
        localrule: True
        conda:
            "../../envs/avvp.yaml"
        resources:
            download_jobs=DOWNLOAD["jobs"],
            download_retries=DOWNLOAD["retries"],
            download_rate=DOWNLOAD["rate_limit"] or "",
            download_cookies=DOWNLOAD["cookies"] or "",
            download_url=DOWNLOAD["url_template"] or "",
        params:
            videos_dir=DATA.videos_dir,
            names=lambda w: PLAN.shard_names(int(w.shard)),
        message:
            "download_videos: shard {wildcards.shard}'s clips into {params.videos_dir}; log: {log}"
        # the names come after --: YouTube ids may start with '-'
        shell:
            "avvp --quiet download videos --out {params.videos_dir:q} --manifest {output.manifest:q}"
            " --failures {output.failures:q} --jobs {resources.download_jobs} --retries {resources.download_retries}"
            " --rate-limit={resources.download_rate:q} --cookies={resources.download_cookies:q}"
            " --url-template={resources.download_url:q} -- {params.names:q} 2> {log:q}"
