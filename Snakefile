# folding: FASTA -> MSAs and templates -> features -> AlphaFold2 -> relax -> ranked models and
# report; complexes (AlphaFold-Multimer) and monomers side by side.
# Rules live in workflows/rules/, one file per stage; settings in workflows/config.yaml,
# checked against workflows/schemas/config.schema.yaml before any job starts.
#   snakemake --cores 2 --config input=X output_dir=Y preset=demo database_dir=Z
from snakemake.utils import min_version

min_version("9.0")


configfile: workflow.source_path("workflows/config.yaml")


include: "workflows/rules/common.smk"
include: "workflows/rules/inputs.smk"
include: "workflows/rules/msa.smk"
include: "workflows/rules/templates.smk"
include: "workflows/rules/features.smk"
include: "workflows/rules/multimer.smk"
include: "workflows/rules/predict.smk"
include: "workflows/rules/relax.smk"
include: "workflows/rules/report.smk"


rule all:
    default_target: True
    input:
        f"{OUT}/index.html",
        expand(f"{OUT}/{{target}}/report.html", target=TARGET_NAMES),
