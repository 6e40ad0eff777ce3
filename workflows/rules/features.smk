# Features: AlphaFold's raw input features (sequence, merged and deduplicated MSA,
# templates up to max_template_date) from the target's msas/ folder -> features.npz.
# ColabFold's A3Ms (msa_mode mmseqs2/server) are read when the folder holds them; the
# server's template mmCIFs are read from its search's cache folder (templates_101/).


rule features:
    input:
        inputs=f"{OUT}/{{target}}/provenance/inputs.json",
        msas=f"{OUT}/{{target}}/msas/sources.json",
    output:
        f"{OUT}/{{target}}/provenance/features.json",
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
        templates=lambda wc: (
            f"--template-mmcif-dir {PLAN.template_mmcif_dir(PLAN.target(wc.target))} "
            f"--max-template-date {SETTINGS.max_template_date}"
            if PLAN.template is not None
            else "--no-templates"
        ),
        settings=(
            f"--setting max_template_date={SETTINGS.max_template_date}"
            if PLAN.template is not None
            else "--setting templates=false"
        ),
        sequence_hash=lambda wc: PLAN.target(wc.target).sequence_hash,
        fasta=lambda wc: f"{OUT}/{wc.target}/{wc.target}.fasta",
        features=lambda wc: f"{OUT}/{wc.target}/features.npz",
        msa_dir=lambda wc, input: os.path.dirname(input.msas),
    shell:
        "folding workflow stage --stage features --log {log} --record {output} "
        "--sequence-hash {params.sequence_hash} --tool numpy --tool kalign "
        "{params.settings} -- "
        "folding features --fasta {params.fasta} --msa-dir {params.msa_dir} "
        "{params.templates} --output {params.features}"
