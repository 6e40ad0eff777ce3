"""Checks made before any job starts: databases, parameters, programs, MSA folders.

A workflow that fails after an hour of searches because a parameter file is missing
wastes the hour. The Snakefile calls :func:`preflight` while it builds the job graph
(dry runs included); every problem found becomes part of one error that names what is
missing and the command that fixes it, e.g.::

    database_dir /data/af is incomplete for preset full_dbs (2 missing: bfd/..., ...);
    run: folding databases download --preset full_dbs --dir /data/af --only bfd

Missing parameter files are an error for ``full_dbs`` and ``reduced_dbs`` (with the
download command, or ``allow_untrained_params=true`` to run untrained on purpose); the
demo runs with untrained parameters and says so (:attr:`Preflight.notes`).

Complexes add what AlphaFold-Multimer needs: the UniProt database (for heteromers' pairing)
and PDB seqres (their template search, for every preset), and the multimer parameter
files (``params_model_1_multimer_v3.npz`` ...); they need ``msa_mode`` local.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from folding.workflow.plan import Plan
from folding.workflow.settings import base_model_name

#: Programs each tool needs on PATH, and the Debian package that provides them.
_PROGRAMS = {
    "hhblits": ("hhblits", "hhsuite"),
    "hhsearch": ("hhsearch", "hhsuite"),
    "hmmsearch": ("hmmsearch", "hmmer"),
    "mmseqs2": ("mmseqs", "mmseqs2"),
}


@dataclass(frozen=True)
class Preflight:
    """The outcome: errors (the run must not start), notes, and each model's parameters."""

    errors: tuple[str, ...]
    notes: tuple[str, ...]
    params: Mapping[str, Path | None] = field(hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    @property
    def ok(self) -> bool:
        return not self.errors

    def message(self) -> str:
        return "; ".join(self.errors)

    def untrained(self, model: str) -> bool:
        """Whether ``model`` (or a multimer prediction ``..._pred_K``) runs untrained."""
        return self.params.get(base_model_name(model)) is None

    def params_of(self, model: str) -> Path | None:
        """The parameter file of ``model`` or of a multimer prediction ``..._pred_K``."""
        return self.params.get(base_model_name(model))


def params_file(params_dir: Path, model: str) -> Path:
    """AlphaFold's parameter file name for ``model`` in ``params_dir``."""
    return params_dir / f"params_{model}.npz"


def preflight(plan: Plan) -> Preflight:
    """Check everything the plan needs that exists before the first job."""
    from folding.databases.check import check_tree
    from folding.databases.manifest import load_preset

    settings = plan.settings
    errors: list[str] = []
    notes: list[str] = []
    needed: list[str] = []
    for step in plan.searches:
        needed.extend(step.manifest_databases)
    if plan.template is not None and plan.monomers:
        needed.extend(plan.template.manifest_databases)
    if plan.pairing is not None:
        needed.extend(plan.pairing.manifest_databases)
    if plan.multimer_template is not None:
        needed.extend(plan.multimer_template.manifest_databases)
    needed = list(dict.fromkeys(needed))
    if needed and not settings.database_dir_set:
        errors.append(_unset_database_dir(settings.preset))
    elif needed:
        manifest = load_preset(settings.preset)
        report = check_tree(manifest, settings.database_dir, only=",".join(needed),
                            hash_files=False)
        if not report.ok:
            errors.append(report.one_line())
    errors.extend(_complex_problems(plan))
    errors.extend(_mmseqs_problems(plan))
    errors.extend(_precomputed_problems(plan))
    errors.extend(_program_problems(plan))
    params, param_errors, param_notes = _params(plan)
    errors.extend(param_errors)
    notes.extend(param_notes)
    return Preflight(tuple(errors), tuple(notes), params)


def _unset_database_dir(preset: str) -> str:
    if preset == "demo":
        return ("config 'database_dir' is not set; build the demo databases with: folding "
                "databases build-demo --dir DIR, then pass --config database_dir=DIR")
    return (f"config 'database_dir' is not set; pass --config database_dir=DIR (download: "
            f"folding databases download --preset {preset} --dir DIR)")


def _complex_problems(plan: Plan) -> list[str]:
    complexes = plan.complexes
    if not complexes or plan.settings.msa_mode == "local":
        return []
    names = ", ".join(job.name for job in complexes[:5]) + \
        (f" and {len(complexes) - 5} more" if len(complexes) > 5 else "")
    return [f"complexes ({names}) need msa_mode=local (per-chain searches and UniProt "
            f"pairing); msa_mode {plan.settings.msa_mode} runs single chains only: use "
            "msa_mode=local, or give the chains as separate records"]


def _mmseqs_problems(plan: Plan) -> list[str]:
    problems = []
    for step in plan.searches:
        if step.tool != "mmseqs2":
            continue
        for db in step.databases:
            if not Path(f"{db}.dbtype").is_file():
                problems.append(
                    f"MMseqs2 database {db} not found ({db}.dbtype missing); build ColabFold's "
                    "databases with its setup_databases.sh, or set mmseqs_uniref_db / "
                    "mmseqs_env_db (mmseqs_env_db=none skips the environmental search)"
                )
    return problems


def _precomputed_problems(plan: Plan) -> list[str]:
    settings = plan.settings
    if settings.msa_mode != "precomputed":
        return []
    if settings.precomputed_msa_dir is None:
        return ["msa_mode precomputed needs --config precomputed_msa_dir=DIR (a folder of "
                "<target>/ folders with uniref90_hits.sto, ... or uniref.a3m)"]
    empty = [job.name for job in plan.targets if not job.precomputed]
    if not empty:
        return []
    shown = ", ".join(empty[:10]) + (f" and {len(empty) - 10} more" if len(empty) > 10 else "")
    return [f"precomputed_msa_dir {settings.precomputed_msa_dir} has no MSA files for "
            f"{len(empty)} target(s): {shown}; put AlphaFold- or ColabFold-named MSA files in "
            f"{settings.precomputed_msa_dir}/<target>/ or use msa_mode=local"]


def _program_problems(plan: Plan) -> list[str]:
    tools = {step.tool for step in plan.searches}
    if plan.template is not None and plan.monomers:
        tools.add(plan.template.tool)
    if plan.multimer_template is not None:
        tools.add(plan.multimer_template.tool)
    problems = []
    for tool in sorted(tools):
        if tool not in _PROGRAMS:
            continue
        program, package = _PROGRAMS[tool]
        if shutil.which(program) is None:
            problems.append(f"{program} not found on PATH; install it (apt-get install "
                            f"{package}) or run scripts/setup.sh")
    return problems


def _params(plan: Plan) -> tuple[dict[str, Path | None], list[str], list[str]]:
    settings = plan.settings
    params: dict[str, Path | None] = {}
    missing: list[str] = []
    models = list(settings.models) if plan.monomers else []
    if plan.complexes:
        models.extend(settings.multimer_models)
    for model in models:
        path = params_file(settings.params_dir, model)
        if path.is_file():
            params[model] = path
        else:
            params[model] = None
            missing.append(path.name)
    if not missing:
        return params, [], []
    if settings.untrained_allowed:
        return params, [], [
            f"no parameter file for {', '.join(missing)} in {settings.params_dir}: running "
            "with UNTRAINED (random) parameters; predictions are meaningless and every output "
            f"says so. For real predictions: folding databases download --preset "
            f"{settings.preset} --dir {_download_dir(settings.params_dir)} --only params"
        ]
    return params, [
        f"params_dir {settings.params_dir} lacks {', '.join(missing)}; run: folding databases "
        f"download --preset {settings.preset} --dir {_download_dir(settings.params_dir)} "
        "--only params (or set allow_untrained_params=true to run with untrained parameters)"
    ], []


def _download_dir(params_dir: Path) -> Path:
    """The --dir that makes ``download --only params`` fill ``params_dir``."""
    return params_dir.parent if params_dir.name == "params" else params_dir
