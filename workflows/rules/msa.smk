# MSA search: one job per (distinct sequence, database), its result kept in the
# content-keyed cache (CACHE/msa/<key>/, see folding.workflow.plan), then copied into
# each target's msas/ folder with AlphaFold's (or ColabFold's) file names.


if SETTINGS.msa_mode == "local":

    rule msa_jackhmmer:
        input:
            query=query_fasta,
        output:
            record=f"{CACHE}/msa/{{key}}/msa_{{db}}.json",
        log:
            f"{CACHE}/msa/{{key}}/msa_{{db}}.log",
        benchmark:
            f"{CACHE}/msa/{{key}}/msa_{{db}}.benchmark.tsv"
        wildcard_constraints:
            db="uniref90|mgnify|small_bfd|uniprot",
        conda:
            "../envs/folding.yaml"
        threads: 8
        resources:
            **CPU_JOB,
            **SEARCH_SIZE,
        params:
            database=lambda wc: PLAN.step(wc.db).databases[0],
            max_hits=lambda wc: PLAN.step(wc.db).settings["max_hits"] or 0,
            settings=search_settings,
            sequence_hash=lambda wc: PLAN.search_key_owner(wc.key)[1].sequence_hash,
            folder=lambda wc, output: os.path.dirname(output.record),
        shell:
            "folding workflow stage --stage msa_{wildcards.db} --record {output.record} "
            "--sequence-hash {params.sequence_hash} --log {log} "
            "--database {params.database} --tool pyhmmer {params.settings} "
            "--details {params.folder}/{wildcards.db}_hits.sto.json -- "
            "folding search --tool jackhmmer --query {input.query} "
            "--database {params.database} --db-name {wildcards.db} --threads {threads} "
            "--max-hits {params.max_hits} --output-dir {params.folder}"

    rule msa_hhblits:
        input:
            query=query_fasta,
        output:
            record=f"{CACHE}/msa/{{key}}/msa_bfd_uniref.json",
        log:
            f"{CACHE}/msa/{{key}}/msa_bfd_uniref.log",
        benchmark:
            f"{CACHE}/msa/{{key}}/msa_bfd_uniref.benchmark.tsv"
        conda:
            "../envs/folding.yaml"
        threads: 4
        resources:
            **CPU_JOB,
            **SEARCH_SIZE,
        params:
            databases=lambda wc: database_args(PLAN.step("bfd_uniref").databases),
            identity=lambda wc: database_args(PLAN.step("bfd_uniref").identity_files),
            settings=search_settings,
            sequence_hash=lambda wc: PLAN.search_key_owner(wc.key)[1].sequence_hash,
            folder=lambda wc, output: os.path.dirname(output.record),
        shell:
            "folding workflow stage --stage msa_bfd_uniref --record {output.record} "
            "--sequence-hash {params.sequence_hash} --log {log} {params.identity} "
            "--tool hhblits {params.settings} "
            "--details {params.folder}/bfd_uniref_hits.a3m.json -- "
            "folding search --tool hhblits --query {input.query} {params.databases} "
            "--db-name bfd_uniref --threads {threads} --output-dir {params.folder}"


if SETTINGS.msa_mode in ("mmseqs2", "server"):

    rule msa_colabfold:
        input:
            query=query_fasta,
        output:
            record=f"{CACHE}/msa/{{key}}/msa_colabfold.json",
        log:
            f"{CACHE}/msa/{{key}}/msa_colabfold.log",
        benchmark:
            f"{CACHE}/msa/{{key}}/msa_colabfold.benchmark.tsv"
        conda:
            "../envs/folding.yaml"
        threads: 8 if SETTINGS.msa_mode == "mmseqs2" else 1
        resources:
            **CPU_JOB,
            **SEARCH_SIZE,
        params:
            arguments=COLABFOLD_SEARCH_ARGS,
            identity=database_args(PLAN.searches[0].identity_files),
            settings=search_settings,
            sequence_hash=lambda wc: PLAN.search_key_owner(wc.key)[1].sequence_hash,
            folder=lambda wc, output: os.path.dirname(output.record),
        shell:
            "folding workflow stage --stage msa_colabfold --record {output.record} "
            "--sequence-hash {params.sequence_hash} --log {log} {params.identity} "
            "--tool mmseqs {params.settings} "
            "--details {params.folder}/uniref.a3m.json -- "
            "folding search {params.arguments} --query {input.query} --threads {threads} "
            "--output-dir {params.folder}"


if SETTINGS.msa_mode == "precomputed":

    rule msa_precomputed:
        input:
            lambda wc: [str(p) for p in PLAN.search_key_owner(wc.key)[1].precomputed],
        output:
            record=f"{CACHE}/msa/{{key}}/msa_precomputed.json",
        log:
            f"{CACHE}/msa/{{key}}/msa_precomputed.log",
        benchmark:
            f"{CACHE}/msa/{{key}}/msa_precomputed.benchmark.tsv"
        conda:
            "../envs/folding.yaml"
        resources:
            **CPU_JOB,
            **LIGHT_SIZE,
        params:
            identity=lambda wc, input: database_args(input),
            folder=lambda wc, output: os.path.dirname(output.record),
        shell:
            "folding workflow stage --stage msa_precomputed --record {output.record} "
            "{params.identity} --log {log} -- "
            "folding workflow copy --source {input} --into {params.folder}"


rule msas:
    input:
        msa_inputs,
    output:
        f"{OUT}/{{target}}/msas/sources.json",
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
        files=lambda wc: " ".join(PLAN.msa_files(PLAN.target(wc.target))),
        sharing=lambda wc: " ".join(PLAN.sharing(PLAN.target(wc.target))),
    shell:
        "folding workflow collect --output {output} --msa-files {params.files} "
        "--inputs {input} --sharing {params.sharing} 2> {log}"
