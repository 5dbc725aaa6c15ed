# Report stage: the results table across every trained model and the baselines.


rule report:
    input:
        models=expand("runs/{model}/metrics.json", model=MODELS),
        baselines=["baselines/broadcast/metrics.json"],
    output:
        md="reports/results.md",
        csv="reports/results.csv",
        per_class="reports/per_class.csv",
    params:
        version=STAGE_VERSIONS["report"],
    conda:
        "../../envs/avvp.yaml"
    log:
        "logs/report.log",
    benchmark:
        "benchmarks/report.tsv"
    shell:
        "avvp report {input.baselines:q} {input.models:q} --out {output.md:q} --csv {output.csv:q}"
        " --per-class-csv {output.per_class:q} > /dev/null 2> {log:q}"
