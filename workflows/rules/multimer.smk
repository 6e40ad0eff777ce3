# Complexes (AlphaFold-Multimer's data pipeline). Each distinct chain sequence is searched
# once, by the MSA and template rules, through the content-keyed cache (a homodimer's
# chains, and a monomer of the same sequence, share every search); heteromers' chains also
# search UniProt (jackhmmer, at most 50,000 hits) to pair MSA rows by species. Then:
# complex_msas copies each chain's results into the target's msas/<chain id>/ folders
# (AlphaFold-Multimer's layout), multimer_features builds the raw multimer features
# (per-chain MSAs, pairing, per-chain hmmsearch templates) -> features.npz and
# chains.json (chain ids, entities, residue ranges in the model's layout).


rule complex_msas:
    input:
        complex_msa_inputs,
    output:
        f"{OUT}/{{target}}/msas/chains.json",
    log:
        f"{OUT}/{{target}}/logs/msas.log",
    benchmark:
        f"{OUT}/{{target}}/logs/msas.benchmark.tsv"
    conda:
        "../envs/folding.yaml"
    resources:
        **CPU_JOB,
        **LIGHT_SIZE,
    params:
        files=lambda wc: " ".join(PLAN.chain_msa_files(PLAN.target(wc.target))),
        chains=chain_collect_args,
        sharing=complex_sharing,
    shell:
        "folding workflow collect --output {output} --msa-files {params.files} "
        "{params.chains} --sharing {params.sharing} 2> {log}"


rule multimer_features:
    input:
        inputs=f"{OUT}/{{target}}/provenance/inputs.json",
        msas=f"{OUT}/{{target}}/msas/chains.json",
    output:
        f"{OUT}/{{target}}/provenance/multimer_features.json",
    log:
        f"{OUT}/{{target}}/logs/features.log",
    benchmark:
        f"{OUT}/{{target}}/logs/features.benchmark.tsv"
    conda:
        "../envs/folding.yaml"
    resources:
        **CPU_JOB,
        **FEATURES_SIZE,
    params:
        templates=(
            f"--template-mmcif-dir {PLAN.multimer_template.mmcif_dir} "
            f"--max-template-date {SETTINGS.max_template_date}"
            if PLAN.multimer_template is not None
            else "--no-templates"
        ),
        settings=(
            f"--setting max_template_date={SETTINGS.max_template_date}"
            if PLAN.multimer_template is not None
            else "--setting templates=false"
        ),
        max_length=SETTINGS.max_length,
        chain_dirs=chain_msa_dir_args,
        sequence_hash=lambda wc: PLAN.target(wc.target).sequence_hash,
        fasta=lambda wc: f"{OUT}/{wc.target}/{wc.target}.fasta",
        features=lambda wc: f"{OUT}/{wc.target}/features.npz",
        chains=lambda wc: f"{OUT}/{wc.target}/chains.json",
    shell:
        "folding workflow stage --stage multimer_features --log {log} --record {output} "
        "--sequence-hash {params.sequence_hash} --tool numpy --tool kalign "
        "{params.settings} --details {params.chains} -- "
        "folding multimer features --fasta {params.fasta} {params.chain_dirs} "
        "{params.templates} --max-length {params.max_length} --output {params.features} "
        "--chains-json {params.chains}"
