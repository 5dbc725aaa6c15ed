# Report stage: results tables across every trained model and the baselines, the figures of each
# model, and what `snakemake --report results/report.html` collects (captions in workflow/report/). With
# several `train.seeds` the tables read every seed's run; figures and parsing use the first seed's.


rule report:
    input:
        unpack(report_clips),  # which clips of each split the run had
        models=run_files("metrics.json"),
        baselines=[out("baselines/broadcast/metrics.json")],
    output:
        md=out("reports/results.md"),
        csv=report(
            out("reports/results.csv"),
            caption="../report/results.rst",
            category="1. Results",
            labels={"table": "F-scores, ours and published"},
        ),
        per_class=report(
            out("reports/per_class.csv"),
            caption="../report/per_class.rst",
            category="1. Results",
            labels={"table": "per-class segment-level F"},
        ),
    log:
        out("logs/report.log"),
    benchmark:
        out("benchmarks/report.tsv")
    conda:
        "../../envs/avvp.yaml"
    params:
        version=STAGE_VERSIONS["report"],
        clips=report_clip_options,
    shell:
        "avvp report {input.baselines:q} {input.models:q} --out {output.md:q} --csv {output.csv:q}"
        " --per-class-csv {output.per_class:q} {params.clips:q} > /dev/null 2> {log:q}"


rule figures:
    input:
        predictions=first_run("predictions.h5"),
        history=first_run("history.json"),
    output:
        timelines=report(
            out("reports/figures/{model}/timelines.png"),
            caption="../report/timelines.rst",
            category="2. Figures",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "event timelines"},
        ),
        curves=report(
            out("reports/figures/{model}/curves.png"),
            caption="../report/curves.rst",
            category="2. Figures",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "training curves"},
        ),
        cooccurrence=report(
            out("reports/figures/{model}/cooccurrence.png"),
            caption="../report/cooccurrence.rst",
            category="2. Figures",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "class co-occurrence"},
        ),
        tsne=report(
            out("reports/figures/{model}/tsne.png"),
            caption="../report/tsne.rst",
            category="2. Figures",
            subcategory="{model}",
            labels={"model": "{model}", "figure": "t-SNE"},
        ),
    log:
        out("logs/figures/{model}.log"),
    benchmark:
        out("benchmarks/figures/{model}.tsv")
    conda:
        "../../envs/avvp.yaml"
    params:
        version=STAGE_VERSIONS["report"],
        out_dir=lambda w, output: os.path.dirname(output.timelines),
    shell:
        "avvp figures --predictions {input.predictions:q} --history {input.history:q}"
        " --out-dir {params.out_dir:q} > /dev/null 2> {log:q}"


# One HTML page per model: its test videos (those whose files exist) under the predicted events and the truth.
rule video_page:
    input:
        predictions=first_run("predictions.h5"),
    output:
        out("reports/videos/{model}.html"),
    log:
        out("logs/video_page/{model}.log"),
    benchmark:
        out("benchmarks/video_page/{model}.tsv")
    conda:
        "../../envs/avvp.yaml"
    params:
        version=STAGE_VERSIONS["report"],
        videos_dir=option("--videos-dir", DATA.videos_dir),
    shell:
        "avvp video-page --predictions {input.predictions:q} --name {wildcards.model:q} {params.videos_dir:q}"
        " --out {output:q} 2> {log:q}"


rule parse:
    input:
        model=first_run("model.pt"),
        videos=parse_inputs,
    output:
        directory(out("parsed/{model}")),
    log:
        out("logs/parse/{model}.log"),
    benchmark:
        out("benchmarks/parse/{model}.tsv")
    conda:
        "../../envs/avvp.yaml"
    threads: 2
    resources:
        gpu=1,
    message:
        "parse: the configured videos with {wildcards.model}'s model -> {output}; log: {log}"
    shell:
        "avvp --quiet parse {input.videos:q} --model {input.model:q} --out {output:q} 2> {log:q}"
