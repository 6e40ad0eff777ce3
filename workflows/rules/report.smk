# Report: ranked_<i>.pdb/.cif, confidence JSON, plots, timings.json (from the stage
# manifests) and, written last, report.html per target; index.html for the run.


rule report:
    input:
        rank=f"{OUT}/{{target}}/provenance/rank.json",
        relaxed=relaxed_models,
    output:
        f"{OUT}/{{target}}/report.html",
    log:
        f"{OUT}/{{target}}/logs/report.log",
    benchmark:
        f"{OUT}/{{target}}/logs/report.benchmark.tsv"
    conda:
        "../envs/folding.yaml"
    resources:
        **CPU_JOB,
        **REPORT_SIZE,
    params:
        target_dir=lambda wc, output: os.path.dirname(output[0]),
    shell:
        "folding report target --target-dir {params.target_dir} "
        "--name {wildcards.target} > {log} 2>&1"


rule index:
    input:
        expand(f"{OUT}/{{target}}/report.html", target=TARGET_NAMES),
    output:
        f"{OUT}/index.html",
    log:
        f"{OUT}/logs/index.log",
    benchmark:
        f"{OUT}/logs/index.benchmark.tsv"
    conda:
        "../envs/folding.yaml"
    resources:
        **CPU_JOB,
        **LIGHT_SIZE,
    params:
        output_dir=lambda wc, output: os.path.dirname(output[0]),
    shell:
        "folding report index --output-dir {params.output_dir} > {log} 2>&1"
