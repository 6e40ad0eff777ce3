# Ranking and relaxation. The `rank` checkpoint orders a target's models by confidence
# (ranking_debug.json); relax=best then relaxes the top model only, relax=all every model.
# When the minimisation fails or does not converge, `folding relax` keeps the unrelaxed
# coordinates in relaxed_<model>.pdb and says why in relax_<model>.json.


checkpoint rank:
    input:
        results=expand(f"{OUT}/{{{{target}}}}/result_{{model}}.npz", model=MODELS),
    output:
        f"{OUT}/{{target}}/ranking_debug.json",
    log:
        f"{OUT}/{{target}}/logs/rank.log",
    conda:
        "../envs/folding.yaml"
    params:
        record=lambda wc: f"{OUT}/{wc.target}/provenance/rank.json",
        target_dir=lambda wc, output: os.path.dirname(output[0]),
    shell:
        "folding workflow stage --stage rank --log {log} --record {params.record} -- "
        "folding report rank --target-dir {params.target_dir}"


rule relax:
    input:
        f"{OUT}/{{target}}/unrelaxed_{{model}}.pdb",
    output:
        pdb=f"{OUT}/{{target}}/relaxed_{{model}}.pdb",
        record=f"{OUT}/{{target}}/relax_{{model}}.json",
    log:
        f"{OUT}/{{target}}/logs/relax_{{model}}.log",
    conda:
        "../envs/folding.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        record=lambda wc: f"{OUT}/{wc.target}/provenance/relax_{wc.model}.json",
    shell:
        "folding workflow stage --stage relax_{wildcards.model} --log {log} "
        "--record {params.record} --tool openmm --tool pdbfixer "
        "--details {output.record} -- "
        "folding relax --input {input} --output {output.pdb} --record {output.record} "
        "--threads {threads}"
