# Template search: hmmsearch (PDB seqres) or HHsearch (PDB70) of the target's UniRef90
# MSA (msa_mode mmseqs2: ColabFold's A3Ms), one job per distinct MSA, kept in the
# content-keyed cache (CACHE/templates/<key>/). msa_mode server: HHsearch of the A3Ms
# against the templates the server sent for its pdb70.m8 hits (ColabFold's way).
# A complex's chains search PDB seqres with hmmsearch in every preset (AlphaFold-Multimer).
# reduced_dbs keeps no copy of the PDB: the hits' mmCIF files are fetched on demand.


if PLAN.template is not None or PLAN.multimer_template is not None:

    rule template_search:
        input:
            msa_record=template_msa_record,
        output:
            f"{CACHE}/templates/{{tkey}}/templates.json",
        log:
            f"{CACHE}/templates/{{tkey}}/templates.log",
        benchmark:
            f"{CACHE}/templates/{{tkey}}/templates.benchmark.tsv"
        conda:
            "../envs/folding.yaml"
        threads: 2
        resources:
            **CPU_JOB,
            **TEMPLATE_SIZE,
        params:
            tool=lambda wc: PLAN.template_step_of(wc.tkey).tool,
            identity=lambda wc: database_args(
                PLAN.template_step_of(wc.tkey).identity_files
            ),
            arguments=lambda wc, input: PLAN.template_step_of(
                wc.tkey
            ).search_arguments(os.path.dirname(input.msa_record)),
            hits=lambda wc, output: os.path.join(
                os.path.dirname(output[0]), PLAN.template_step_of(wc.tkey).output
            ),
        shell:
            "folding workflow stage --stage templates --record {output} --log {log} "
            "{params.identity} --tool pyhmmer --tool {params.tool} "
            "--setting tool={params.tool} --details {params.hits}.json -- "
            "folding templates search {params.arguments} --output {params.hits} "
            "--cpus {threads}"


if PLAN.template is not None and PLAN.template.fetch_on_demand:

    rule template_mmcifs:
        input:
            f"{CACHE}/templates/{{tkey}}/templates.json",
        output:
            f"{CACHE}/templates/{{tkey}}/mmcif_fetch.json",
        log:
            f"{CACHE}/templates/{{tkey}}/mmcif_fetch.log",
        benchmark:
            f"{CACHE}/templates/{{tkey}}/mmcif_fetch.benchmark.tsv"
        conda:
            "../envs/folding.yaml"
        resources:
            **CPU_JOB,
            **LIGHT_SIZE,
            downloads=1,
        params:
            preset=SETTINGS.preset,
            database_dir=SETTINGS.database_dir,
            limit=SETTINGS.template_fetch_limit,
            hits=lambda wc, input: os.path.join(
                os.path.dirname(input[0]), PLAN.template_step_of(wc.tkey).output
            ),
        shell:
            "folding databases fetch-mmcif --preset {params.preset} --hits {params.hits} "
            "--dir {params.database_dir} --limit {params.limit} --record {output} 2> {log}"
