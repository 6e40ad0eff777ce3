# folding: FASTA -> MSAs and templates -> features -> AlphaFold2 -> relax -> ranked models and report.
# Rules live in workflows/rules/, one file per stage; settings in workflows/config.yaml.
from snakemake.utils import min_version

min_version("9.0")
