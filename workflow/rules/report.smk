# Report stage: the results table across every trained model and the baselines.


rule report:
    input:
        models=expand("runs/{model}/metrics.json", model=MODELS),
        baselines=["baselines/broadcast/metrics.json"],
    output:
        "reports/results.md",
    params:
        version=STAGE_VERSIONS["report"],
    conda:
        "../../envs/avvp.yaml"
    log:
        "logs/report.log",
    benchmark:
        "benchmarks/report.tsv"
    shell:
        "avvp report {input.baselines:q} {input.models:q} --out {output:q} > /dev/null 2> {log:q}"
