# Ranking and relaxation. The `rank` checkpoint orders a target's models by confidence
# (ranking_debug.json); relax=best then relaxes the top model only, relax=all every model.
# When the minimisation fails or does not converge, `folding relax` keeps the unrelaxed
# coordinates in relaxed_<model>.pdb and says why in relax_<model>.json.


checkpoint rank:
    input:
        predictions,
    output:
        f"{OUT}/{{target}}/provenance/rank.json",
    log:
        f"{OUT}/{{target}}/logs/rank.log",
    benchmark:
        f"{OUT}/{{target}}/logs/rank.benchmark.tsv"
    conda:
        "../envs/folding.yaml"
    resources:
        **CPU_JOB,
        **REPORT_SIZE,
    params:
        target_dir=lambda wc: f"{OUT}/{wc.target}",
    shell:
        "folding workflow stage --stage rank --log {log} --record {output} "
        "--details {params.target_dir}/ranking_debug.json -- "
        "folding report rank --target-dir {params.target_dir}"


rule relax:
    input:
        f"{OUT}/{{target}}/provenance/predict_{{model}}.json",
    output:
        f"{OUT}/{{target}}/provenance/relax_{{model}}.json",
    log:
        f"{OUT}/{{target}}/logs/relax_{{model}}.log",
    benchmark:
        f"{OUT}/{{target}}/logs/relax_{{model}}.benchmark.tsv"
    conda:
        "../envs/folding.yaml"
    threads: 2
    resources:
        **CPU_JOB,
        **RELAX_SIZE,
    params:
        max_iterations=SETTINGS.relax_max_iterations,
        unrelaxed=lambda wc: f"{OUT}/{wc.target}/unrelaxed_{wc.model}.pdb",
        relaxed=lambda wc: f"{OUT}/{wc.target}/relaxed_{wc.model}.pdb",
        record=lambda wc: f"{OUT}/{wc.target}/relax_{wc.model}.json",
    shell:
        "folding workflow stage --stage relax_{wildcards.model} --log {log} "
        "--record {output} --tool openmm --tool pdbfixer --details {params.record} "
        "--setting max_iterations={params.max_iterations} -- "
        "folding relax --input {params.unrelaxed} --output {params.relaxed} "
        "--record {params.record} --threads {threads} "
        "--max-iterations {params.max_iterations}"
