# Features: AlphaFold's raw input features (sequence, merged and deduplicated MSA,
# templates up to max_template_date) from the target's msas/ folder -> features.npz.


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
        templates=(
            f"--template-mmcif-dir {PLAN.template.mmcif_dir} "
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
