"""The run's plan: targets, the searches each preset runs, and their content keys.

A search is one job per (sequence, database): the preset and ``msa_mode`` decide which
databases are searched with which tool (AlphaFold's choices, supplement 1.2.2):

==============  ================================================================
full_dbs        jackhmmer UniRef90, jackhmmer MGnify, HHblits BFD + UniRef30;
                templates: HHsearch PDB70 (``pdb_hits.hhr``)
reduced_dbs     jackhmmer UniRef90, jackhmmer small BFD;
                templates: hmmsearch PDB seqres (``pdb_hits.sto``), mmCIFs on demand
demo            jackhmmer UniRef90, MGnify and small BFD (tiny databases);
                templates: hmmsearch PDB seqres
msa_mode        ``mmseqs2``: ColabFold's MMseqs2 search (``uniref.a3m`` + environmental
                A3M); ``server``: the same files from an MSA server; ``precomputed``:
                the MSA files already in ``precomputed_msa_dir/<target>/``
==============  ================================================================

**The MSA cache.** Each search's result lives in ``<cache_dir>/msa/<key>/`` where the key
is a hash of what determines it: the sequence, the tool, its settings and the identity of
every database file it reads (:func:`folding.provenance.database_identity`). Identical
sequences in different targets (or runs sharing a cache) share a key, so they are
searched once; a changed sequence, database or search setting gives a new key, so
exactly the affected searches run again. Template searches are keyed the same way, on
the key of the MSA they start from and the template database.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from folding.provenance import database_identity, sequence_sha256
from folding.workflow.settings import WorkflowSettings

KEY_LENGTH = 20
#: File names a precomputed MSA folder may hold (AlphaFold's and ColabFold's).
PRECOMPUTED_MSA_FILES = (
    "uniref90_hits.sto", "mgnify_hits.sto", "small_bfd_hits.sto", "bfd_uniref_hits.a3m",
    "bfd_uniclust_hits.a3m", "uniref.a3m", "bfd.mgnify30.metaeuk30.smag30.a3m",
)
_HH_SUFFIXES = tuple(f"_{kind}.{ext}" for kind in ("a3m", "hhm", "cs219")
                     for ext in ("ffdata", "ffindex"))
ENV_A3M = "bfd.mgnify30.metaeuk30.smag30.a3m"


@dataclass(frozen=True)
class SearchStep:
    """One kind of MSA search job (run once per distinct sequence)."""

    name: str  # stage name suffix: msa_<name>
    tool: str  # jackhmmer | hhblits | mmseqs2 | server | precomputed
    db_name: str | None  # folding search --db-name
    databases: tuple[Path, ...]
    outputs: tuple[str, ...]
    identity_files: tuple[Path, ...]
    manifest_databases: tuple[str, ...]
    threads: int
    mem_mb: int
    settings: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))

    @property
    def stage(self) -> str:
        return f"msa_{self.name}"


@dataclass(frozen=True)
class TemplateStep:
    """The template search: which tool, database and MSA, and where the mmCIFs are."""

    tool: str  # hmmsearch | hhsearch
    database: Path
    output: str
    msa_step: str
    msa_file: str
    mmcif_dir: Path
    obsolete: Path
    identity_files: tuple[Path, ...]
    manifest_databases: tuple[str, ...]
    fetch_on_demand: bool
    threads: int = 2
    mem_mb: int = 4000


@dataclass(frozen=True)
class TargetJob:
    """One target: its checked sequence and the cache keys of its searches."""

    name: str
    sequence: str
    description: str
    source: str
    search_keys: Mapping[str, str] = field(hash=False)
    template_key: str | None
    precomputed: tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "search_keys", MappingProxyType(dict(self.search_keys)))

    @property
    def sequence_hash(self) -> str:
        return sequence_sha256(self.sequence)


@dataclass(frozen=True)
class Plan:
    """Everything the rules look up: steps, targets and which key belongs to what."""

    settings: WorkflowSettings
    searches: tuple[SearchStep, ...]
    template: TemplateStep | None
    targets: tuple[TargetJob, ...]

    def target(self, name: str) -> TargetJob:
        for job in self.targets:
            if job.name == name:
                return job
        raise KeyError(name)

    def step(self, name: str) -> SearchStep:
        for step in self.searches:
            if step.name == name:
                return step
        raise KeyError(name)

    def search_key_owner(self, key: str) -> tuple[SearchStep, TargetJob]:
        """The step and the first target (in input order) whose search has ``key``."""
        for job in self.targets:
            for name, job_key in job.search_keys.items():
                if job_key == key:
                    return self.step(name), job
        raise KeyError(key)

    def template_key_owner(self, key: str) -> TargetJob:
        for job in self.targets:
            if job.template_key == key:
                return job
        raise KeyError(key)

    def msa_files(self, job: TargetJob) -> tuple[str, ...]:
        """The files of ``job``'s msas/ folder (template hits included)."""
        files: list[str] = []
        for step in self.searches:
            files.extend(self.step_outputs(step, job))
        if self.template is not None:
            files.append(self.template.output)
        return tuple(files)

    def step_outputs(self, step: SearchStep, job: TargetJob) -> tuple[str, ...]:
        if step.tool == "precomputed":
            return tuple(p.name for p in job.precomputed)
        return step.outputs

    def sharing(self, job: TargetJob) -> tuple[str, ...]:
        """Other targets with the same sequence (they share every search)."""
        return tuple(t.name for t in self.targets if t.sequence == job.sequence and t is not job)


def content_key(payload: Mapping[str, Any]) -> str:
    """A short, stable hash of a JSON-able mapping."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]


def hh_files(prefix: Path) -> tuple[Path, ...]:
    """The six files of an HH-suite database (``<prefix>_{a3m,hhm,cs219}.ff{data,index}``)."""
    return tuple(prefix.parent / f"{prefix.name}{suffix}" for suffix in _HH_SUFFIXES)


def search_steps(settings: WorkflowSettings) -> tuple[SearchStep, ...]:
    """The MSA searches of a preset and MSA mode."""
    root = settings.database_dir
    if settings.msa_mode == "precomputed":
        return (SearchStep("precomputed", "precomputed", None, (), (), (), (), 1, 500),)
    if settings.msa_mode == "server":
        return (SearchStep(
            "colabfold", "server", None, (), ("uniref.a3m", ENV_A3M), (), (), 1, 1000,
            {"server_url": settings.msa_server_url, "use_env": True, "use_filter": True},
        ),)
    if settings.msa_mode == "mmseqs2":
        uniref = settings.mmseqs_uniref_db
        env = settings.mmseqs_env_db
        databases = (uniref,) if env is None else (uniref, env)
        identity = tuple(p for db in databases for p in (db, Path(f"{db}.index")))
        outputs = ("uniref.a3m",) if env is None else ("uniref.a3m", ENV_A3M)
        return (SearchStep("colabfold", "mmseqs2", None, databases, outputs, identity, (), 8,
                           24000, {"env": env is not None}),)

    def jackhmmer(name: str, path: Path, max_hits: int | None) -> SearchStep:
        return SearchStep(name, "jackhmmer", name, (root / path,), (f"{name}_hits.sto",),
                          (root / path,), (name,), 8, 8000,
                          {"iterations": 1, "max_hits": max_hits})

    uniref90 = jackhmmer("uniref90", Path("uniref90/uniref90.fasta"), 10_000)
    mgnify = jackhmmer("mgnify", Path("mgnify/mgy_clusters_2022_05.fa"), 501)
    small_bfd = jackhmmer("small_bfd", Path("small_bfd/bfd-first_non_consensus_sequences.fasta"),
                          None)
    if settings.preset == "full_dbs":
        bfd = root / "bfd" / "bfd_metaclust_clu_complete_id30_c90_final_seq.sorted_opt"
        uniref30 = root / "uniref30" / "UniRef30_2021_03"
        hhblits = SearchStep(
            "bfd_uniref", "hhblits", "bfd_uniref", (bfd, uniref30), ("bfd_uniref_hits.a3m",),
            hh_files(bfd) + hh_files(uniref30), ("bfd", "uniref30"), 4, 32000,
            {"iterations": 3},
        )
        return (uniref90, mgnify, hhblits)
    if settings.preset == "reduced_dbs":
        return (uniref90, small_bfd)
    return (uniref90, mgnify, small_bfd)


def template_step(settings: WorkflowSettings, searches: tuple[SearchStep, ...],
                  precomputed_msa: str | None = None) -> TemplateStep | None:
    """The template search of a preset, or ``None`` without templates."""
    if not settings.use_templates:
        return None
    root = settings.database_dir
    first = searches[0]
    msa_file = precomputed_msa or first.outputs[0]
    mmcif_dir = root / "pdb_mmcif" / "mmcif_files"
    obsolete = root / "pdb_mmcif" / "obsolete.dat"
    if settings.preset == "full_dbs":
        pdb70 = root / "pdb70" / "pdb70"
        return TemplateStep("hhsearch", pdb70, "pdb_hits.hhr", first.name, msa_file, mmcif_dir,
                            obsolete, hh_files(pdb70), ("pdb70", "pdb_mmcif"), False)
    seqres = root / "pdb_seqres" / "pdb_seqres.txt"
    return TemplateStep("hmmsearch", seqres, "pdb_hits.sto", first.name, msa_file, mmcif_dir,
                        obsolete, (seqres,), ("pdb_seqres", "pdb_mmcif"),
                        settings.preset == "reduced_dbs")


def make_plan(settings: WorkflowSettings, targets) -> Plan:
    """The plan for checked targets (``folding.inputs.Target``)."""
    searches = search_steps(settings)
    identities = {
        step.name: [database_identity(p).key() for p in step.identity_files] for step in searches
    }
    jobs: list[TargetJob] = []
    precomputed_first: str | None = None
    for target in targets:
        sequence = ":".join(chain.sequence for chain in target.chains)
        precomputed: tuple[Path, ...] = ()
        keys: dict[str, str] = {}
        for step in searches:
            payload: dict[str, Any] = {
                "sequence": sequence, "tool": step.tool, "step": step.name,
                "settings": dict(step.settings), "databases": identities[step.name],
            }
            if step.tool == "precomputed":
                precomputed = _precomputed_files(settings, target.name)
                payload["files"] = [
                    {"name": p.name, **database_identity(p).key()} for p in precomputed
                ]
                precomputed_first = precomputed_first or next(
                    (p.name for p in precomputed if p.name in ("uniref90_hits.sto", "uniref.a3m")),
                    None)
            keys[step.name] = content_key(payload)
        jobs.append(TargetJob(target.name, sequence, target.description, target.source, keys,
                              None, precomputed))
    template = template_step(settings, searches, precomputed_first)
    if template is not None:
        template_identity = [database_identity(p).key() for p in template.identity_files]
        jobs = [
            TargetJob(job.name, job.sequence, job.description, job.source, job.search_keys,
                      content_key({
                          "msa": job.search_keys[template.msa_step], "tool": template.tool,
                          "msa_file": template.msa_file, "database": template_identity,
                      }), job.precomputed)
            for job in jobs
        ]
    return Plan(settings, searches, template, tuple(jobs))


def _precomputed_files(settings: WorkflowSettings, name: str) -> tuple[Path, ...]:
    if settings.precomputed_msa_dir is None:
        return ()
    folder = settings.precomputed_msa_dir / name
    return tuple(folder / f for f in PRECOMPUTED_MSA_FILES if (folder / f).is_file())
