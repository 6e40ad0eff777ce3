# Input check: the input was read and checked (folding.inputs) before any job started;
# each target's FASTA is written from its checked sequence, so a job re-runs only when
# that target's sequence or header changes, not when another record of the file changes
# or the file moves.


rule target_fasta:
    output:
        f"{OUT}/{{target}}/provenance/inputs.json",
    log:
        f"{OUT}/{{target}}/logs/inputs.log",
    benchmark:
        f"{OUT}/{{target}}/logs/inputs.benchmark.tsv"
    conda:
        "../envs/folding.yaml"
    resources:
        **CPU_JOB,
        **LIGHT_SIZE,
    params:
        header=lambda wc: PLAN.target(wc.target).description,
        sequence=lambda wc: PLAN.target(wc.target).sequence,
        sequence_hash=lambda wc: PLAN.target(wc.target).sequence_hash,
        fasta=lambda wc: f"{OUT}/{wc.target}/{wc.target}.fasta",
    shell:
        "folding workflow stage --stage inputs --log {log} --record {output} "
        "--sequence-hash {params.sequence_hash} -- "
        "folding workflow query --name {wildcards.target} --description {params.header:q} "
        "--sequence {params.sequence} --output {params.fasta}"


rule query_fasta:
    output:
        f"{CACHE}/queries/{{seqhash}}.fasta",
    log:
        f"{CACHE}/queries/{{seqhash}}.log",
    benchmark:
        f"{CACHE}/queries/{{seqhash}}.benchmark.tsv"
    conda:
        "../envs/folding.yaml"
    resources:
        **CPU_JOB,
        **LIGHT_SIZE,
    params:
        sequence=lambda wc: SEQUENCES[wc.seqhash],
    shell:
        "folding workflow query --name query --sequence {params.sequence} "
        "--output {output} 2> {log}"
