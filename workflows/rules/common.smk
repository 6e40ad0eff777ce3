# Settings, targets, the search plan and the checks made before any job starts.
import json
import os
import sys
from pathlib import Path

import yaml
from snakemake.utils import validate

from folding.data.multimer.inputs import read_complexes
from folding.errors import FoldingError
from folding.workflow import resources as job_resources
from folding.workflow import settings as folding_settings
from folding.workflow.plan import make_plan
from folding.workflow.preflight import preflight

SCHEMA = Path(workflow.basedir) / "workflows" / "schemas" / "config.schema.yaml"


# Jobs run the `folding` command of the environment Snakemake runs in, as an activated
# virtual environment or conda environment would put it first on PATH.
envvars:
    "PATH",


os.environ["PATH"] = os.pathsep.join(
    [str(Path(sys.executable).parent), os.environ["PATH"]]
)


def stop(message, status=3):
    """One clear line and a non-zero exit, before any job starts."""
    print(f"folding: error: {message}", file=sys.stderr)
    sys.exit(status)


with open(SCHEMA) as handle:
    _schema = yaml.safe_load(handle)
folding_settings.normalise(config, _schema)
_problems = folding_settings.config_errors(config, _schema)
if _problems:
    stop("; ".join(_problems) + f" (the keys are documented in {SCHEMA})", 2)
validate(config, str(SCHEMA))
SETTINGS = folding_settings.resolve(config)
if not config.get("input"):
    stop(
        "config 'input' is not set; pass --config input=FASTA_OR_FOLDER (e.g. snakemake "
        "--cores 2 --config input=my.fasta output_dir=out preset=demo database_dir=demo_db)",
        2,
    )
try:
    # Monomers and complexes (chains separated by ':', consecutive records of one name,
    # copies=N): every chain, the total length and the number of chains are checked here,
    # before any job starts.
    TARGETS = read_complexes(SETTINGS.input, max_length=SETTINGS.max_length).targets
except FoldingError as error:
    stop(str(error), error.exit_code)

PLAN = make_plan(SETTINGS, TARGETS)
PREFLIGHT = preflight(PLAN)
if not PREFLIGHT.ok:
    stop(PREFLIGHT.message())
for _note in PREFLIGHT.notes:
    print(f"folding: note: {_note}", file=sys.stderr)

OUT = str(SETTINGS.output_dir)
CACHE = str(SETTINGS.cache_dir)
DATABASE_DIR = str(SETTINGS.database_dir)
TARGET_NAMES = [job.name for job in PLAN.targets]
SEQUENCES = PLAN.sequences()  # every sequence searched: monomers and complexes' chains


# Where jobs go on a SLURM cluster (config slurm_cpu_partition, slurm_gpu_partition,
# slurm_account, gpu_type; empty: the cluster's defaults) and what they ask for: memory
# (mem_mb) and time limit (runtime, minutes) grow with the sequence length and with the
# attempt, so a job killed for memory or time is retried with more (folding.workflow.resources).
PLACEMENT = job_resources.Placement.from_config(config)
CPU_JOB = PLACEMENT.cpu_job()
GPU_JOB = PLACEMENT.gpu_job()


def job_size(size_of):
    """Resource functions mem_mb and runtime for a JobSize of the wildcards, x attempt."""

    def mem_mb(wildcards, attempt):
        return size_of(wildcards).times(attempt).mem_mb

    def runtime(wildcards, attempt):
        return size_of(wildcards).times(attempt).runtime

    return {"mem_mb": mem_mb, "runtime": runtime}


def _target_length(wildcards):
    return job_resources.residues(PLAN.target(wildcards.target).sequence)


def _search_size(wildcards):
    step, job = PLAN.search_key_owner(wildcards.key)
    return job_resources.search_size(step, job.sequence)


def _template_size(wildcards):
    sequence = PLAN.template_key_owner(wildcards.tkey).sequence
    return job_resources.template_search_size(job_resources.residues(sequence))


LIGHT_SIZE = job_size(lambda wc: job_resources.light_size())
SEARCH_SIZE = job_size(_search_size)
TEMPLATE_SIZE = job_size(_template_size)
FEATURES_SIZE = job_size(lambda wc: job_resources.features_size(_target_length(wc)))


def _predict_size(wildcards):
    if PLAN.target(wildcards.target).is_complex:
        recycles = SETTINGS.multimer_num_recycle
        recycles = (
            folding_settings.MULTIMER_MAX_RECYCLE if recycles is None else recycles
        )
    else:
        recycles = SETTINGS.num_recycle
    return job_resources.predict_size(_target_length(wildcards), recycles)


PREDICT_SIZE = job_size(_predict_size)
RELAX_SIZE = job_size(lambda wc: job_resources.relax_size(_target_length(wc)))
REPORT_SIZE = job_size(lambda wc: job_resources.light_size(_target_length(wc)))


wildcard_constraints:
    target=r"[A-Za-z0-9_.-]+",
    model=r"model_[1-5](_ptm|_multimer_v3_pred_[0-9]+)?",
    key=r"[0-9a-f]{20}",
    seqhash=r"[0-9a-f]{64}",


# Each job declares one output, the last file it writes (usually its stage manifest,
# provenance/<stage>.json): a job killed at any moment leaves no declared output, so a
# re-run simply runs it again, and a finished job is never run twice.


def query_fasta(wildcards):
    """The content-keyed query FASTA of the search whose cache key is wildcards.key."""
    _, job = PLAN.search_key_owner(wildcards.key)
    return f"{CACHE}/queries/{job.sequence_hash}.fasta"


def search_settings(wildcards):
    """--setting arguments of a search stage manifest (what its cache key hashes)."""
    step, _ = PLAN.search_key_owner(wildcards.key)
    items = {"tool": step.tool, **step.settings}
    return " ".join(f"--setting {k}={json.dumps(v)}" for k, v in items.items())


# folding search arguments of msa_mode mmseqs2 / server.
if SETTINGS.msa_mode == "server":
    COLABFOLD_SEARCH_ARGS = f"--tool server --server-url {SETTINGS.msa_server_url}" + (
        " --templates" if SETTINGS.use_templates else ""
    )
else:
    COLABFOLD_SEARCH_ARGS = f"--tool mmseqs2 --database {SETTINGS.mmseqs_uniref_db}" + (
        f" --env-database {SETTINGS.mmseqs_env_db}" if SETTINGS.mmseqs_env_db else ""
    )


def model_params(wildcards):
    """The parameter file of a model or multimer prediction (none when it runs untrained)."""
    path = PREFLIGHT.params_of(wildcards.model)
    return [] if path is None else [str(path)]


def weights_args(wildcards):
    """folding model run's parameter arguments: the file, or untrained with the seed (a
    multimer prediction _pred_K runs with seed + K)."""
    if PREFLIGHT.untrained(wildcards.model):
        return f"--untrained-params --seed {SETTINGS.seed}"
    return f"--params {PREFLIGHT.params_of(wildcards.model)} --seed {SETTINGS.seed}"


def recycle_args(wildcards):
    """--num-recycle of a prediction: the monomers' setting; for multimer predictions only
    when the config or the preset sets it (else the model's own: up to 20, early stop).
    """
    if folding_settings.is_multimer_prediction(wildcards.model):
        recycles = SETTINGS.multimer_num_recycle
        return "" if recycles is None else f"--num-recycle {recycles}"
    return f"--num-recycle {SETTINGS.num_recycle}"


def recycle_setting(wildcards):
    """num_recycle in a prediction's manifest: the number, or null for the model's own."""
    if folding_settings.is_multimer_prediction(wildcards.model):
        recycles = SETTINGS.multimer_num_recycle
        return "null" if recycles is None else recycles
    return SETTINGS.num_recycle


def features_record(wildcards):
    """The features manifest a prediction needs: the monomer's or the complex's."""
    if PLAN.target(wildcards.target).is_complex:
        return f"{OUT}/{wildcards.target}/provenance/multimer_features.json"
    return f"{OUT}/{wildcards.target}/provenance/features.json"


def msa_inputs(wildcards):
    """The stage manifests of a target's cached searches (each written after its results)."""
    job = PLAN.target(wildcards.target)
    files = [
        f"{CACHE}/msa/{job.search_keys[step.name]}/{step.stage}.json"
        for step in PLAN.searches
    ]
    if PLAN.template is not None:
        folder = f"{CACHE}/templates/{job.template_key}"
        files.append(f"{folder}/templates.json")
        if PLAN.template.fetch_on_demand:
            files.append(f"{folder}/mmcif_fetch.json")
    return files


def database_args(paths):
    return " ".join(f"--database {path}" for path in paths)


def template_msa_record(wildcards):
    """The manifest of the search whose MSA the template search starts from."""
    job = PLAN.template_key_owner(wildcards.tkey)
    step = PLAN.template_step_of(wildcards.tkey).msa_step
    return f"{CACHE}/msa/{job.search_keys[step]}/msa_{step}.json"


def predictions(wildcards):
    """A target's prediction manifests: one per monomer model, or per multimer model and
    seed (model_N_multimer_v3_pred_K) for a complex."""
    models = PLAN.predictions(PLAN.target(wildcards.target))
    return [
        f"{OUT}/{wildcards.target}/provenance/predict_{model}.json" for model in models
    ]


def relaxed_models(wildcards):
    """The relax manifests the report of a target waits for (relax=best: the top model)."""
    if SETTINGS.relax == "none":
        return []
    models = PLAN.predictions(PLAN.target(wildcards.target))
    if SETTINGS.relax == "best":
        checkpoints.rank.get(target=wildcards.target)
        with open(f"{OUT}/{wildcards.target}/ranking_debug.json") as handle:
            models = json.load(handle)["order"][:1]
    return [
        f"{OUT}/{wildcards.target}/provenance/relax_{model}.json" for model in models
    ]


# Complexes: each distinct chain's searches and folders (workflows/rules/multimer.smk).


def chain_inputs(chain):
    """The cache manifests of one distinct chain's searches."""
    files = [
        f"{CACHE}/msa/{chain.search_keys[step.name]}/{step.stage}.json"
        for step in PLAN.searches
    ]
    if PLAN.pairing is not None and PLAN.pairing.name in chain.search_keys:
        key = chain.search_keys[PLAN.pairing.name]
        files.append(f"{CACHE}/msa/{key}/{PLAN.pairing.stage}.json")
    if PLAN.multimer_template is not None:
        folder = f"{CACHE}/templates/{chain.template_key}"
        files.append(f"{folder}/templates.json")
        if PLAN.multimer_template.fetch_on_demand:
            files.append(f"{folder}/mmcif_fetch.json")
    return files


def complex_msa_inputs(wildcards):
    job = PLAN.target(wildcards.target)
    return [path for chain in job.chain_jobs for path in chain_inputs(chain)]


def chain_collect_args(wildcards):
    """folding workflow collect's --chain groups: the chain id, then its cache files."""
    job = PLAN.target(wildcards.target)
    return " ".join(
        f"--chain {chain.chain_id} " + " ".join(chain_inputs(chain))
        for chain in job.chain_jobs
    )


def complex_sharing(wildcards):
    job = PLAN.target(wildcards.target)
    names = [
        name for chain in job.chain_jobs for name in PLAN.chain_sharing(job, chain)
    ]
    return " ".join(dict.fromkeys(names))


def chain_msa_dir_args(wildcards):
    """folding multimer features' --chain-msa-dir per chain, in input order (copies repeat
    their first chain's folder)."""
    job = PLAN.target(wildcards.target)
    return " ".join(
        f"--chain-msa-dir {OUT}/{wildcards.target}/msas/{chain_id}"
        for chain_id in job.chain_msa_dirs()
    )
