# Template search: hmmsearch (PDB seqres) or HHsearch (PDB70) of the target's UniRef90
# MSA, one job per distinct MSA, kept in the content-keyed cache (CACHE/templates/<key>/).
# reduced_dbs keeps no copy of the PDB: the hits' mmCIF files are fetched on demand.


if PLAN.template is not None:

    rule template_search:
        input:
            msa=template_msa,
        output:
            hits=f"{CACHE}/templates/{{tkey}}/{PLAN.template.output}",
            record=f"{CACHE}/templates/{{tkey}}/templates.json",
        log:
            f"{CACHE}/templates/{{tkey}}/templates.log",
        conda:
            "../envs/folding.yaml"
        threads: 2
        resources:
            mem_mb=4000,
        params:
            tool=PLAN.template.tool,
            database=PLAN.template.database,
            identity=database_args(PLAN.template.identity_files),
        shell:
            "folding workflow stage --stage templates --record {output.record} --log {log} "
            "{params.identity} --tool pyhmmer --tool {params.tool} "
            "--setting tool={params.tool} --details {output.hits}.json -- "
            "folding templates search --msa {input.msa} --tool {params.tool} "
            "--database {params.database} --output {output.hits} --cpus {threads}"


if PLAN.template is not None and PLAN.template.fetch_on_demand:

    rule template_mmcifs:
        input:
            hits=f"{CACHE}/templates/{{tkey}}/{PLAN.template.output}",
        output:
            f"{CACHE}/templates/{{tkey}}/mmcif_fetch.json",
        log:
            f"{CACHE}/templates/{{tkey}}/mmcif_fetch.log",
        conda:
            "../envs/folding.yaml"
        resources:
            downloads=1,
        params:
            preset=SETTINGS.preset,
            database_dir=SETTINGS.database_dir,
            limit=SETTINGS.template_fetch_limit,
        shell:
            "folding databases fetch-mmcif --preset {params.preset} --hits {input.hits} "
            "--dir {params.database_dir} --limit {params.limit} --record {output} 2> {log}"
