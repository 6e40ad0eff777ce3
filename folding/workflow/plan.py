"""The run's plan: targets, the searches each one needs, and their content keys.

Which searches a preset and MSA mode run is :mod:`folding.workflow.steps`; the plan
gives every target (and every distinct chain of a complex) the cache key of each.

**The MSA cache.** Each search's result lives in ``<cache_dir>/msa/<key>/`` where the key
is a hash of what determines it: the sequence, the tool, its settings and the identity of
every database file it reads (:func:`folding.provenance.database_identity`). Identical
sequences in different targets (or runs sharing a cache) share a key, so they are
searched once; a changed sequence, database or search setting gives a new key, so
exactly the affected searches run again. Template searches are keyed the same way, on
the key of the MSA they start from and the template database.

**Complexes** (AlphaFold-Multimer's data pipeline, run per chain): each distinct chain
sequence (a :class:`ChainJob`, named after the input chain id of its first copy) gets the
monomer searches, keyed exactly as a monomer of that sequence, so a homodimer's
chains, and a monomer with the same sequence, share one search; heteromers' chains also
get a jackhmmer search of UniProt (at most 50,000 hits, ``uniprot_hits.sto``) whose
species pair MSA rows across chains; templates come from hmmsearch against PDB seqres for
every preset (``pdb_hits.sto``; full_dbs' monomers use HHsearch on PDB70 instead).
Complexes need ``msa_mode`` local.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from folding.common.protein import PDB_CHAIN_IDS
from folding.provenance import database_identity, sequence_sha256
from folding.workflow.settings import WorkflowSettings
from folding.workflow.steps import (
    PRECOMPUTED_MSA_FILES,
    TEMPLATE_DIR,
    SearchStep,
    TemplateStep,
    multimer_template_step,
    pairing_step,
    search_steps,
    template_step,
)

KEY_LENGTH = 20


@dataclass(frozen=True)
class ChainJob:
    """One distinct chain sequence of a complex and the cache keys of its searches.

    ``chain_id`` is the input chain id (``A``, ``B``, ...) of its first copy: its searches
    land in the target's ``msas/<chain_id>/`` (AlphaFold-Multimer's layout) and stand for
    every copy.
    """

    chain_id: str
    sequence: str
    search_keys: Mapping[str, str] = field(hash=False)
    template_key: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "search_keys", MappingProxyType(dict(self.search_keys)))

    @property
    def sequence_hash(self) -> str:
        return sequence_sha256(self.sequence)


@dataclass(frozen=True)
class TargetJob:
    """One target: its checked sequence and the cache keys of its searches.

    A complex (``chains`` holds more than one sequence, in input order, every copy listed)
    has its sequence as the chains joined by ``:``, no searches of its own, and one
    :class:`ChainJob` per distinct chain sequence (``chain_jobs``).
    """

    name: str
    sequence: str
    description: str
    source: str
    search_keys: Mapping[str, str] = field(hash=False)
    template_key: str | None
    precomputed: tuple[Path, ...] = ()
    chains: tuple[str, ...] = ()
    chain_jobs: tuple[ChainJob, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "search_keys", MappingProxyType(dict(self.search_keys)))

    @property
    def sequence_hash(self) -> str:
        return sequence_sha256(self.sequence)

    @property
    def is_complex(self) -> bool:
        return len(self.chains) > 1

    @property
    def is_heteromer(self) -> bool:
        return len(set(self.chains)) > 1

    def chain_msa_dirs(self) -> tuple[str, ...]:
        """Each chain's folder under ``msas/`` in input order (copies share their first's)."""
        first = {job.sequence: job.chain_id for job in self.chain_jobs}
        return tuple(first[sequence] for sequence in self.chains)


@dataclass(frozen=True)
class Plan:
    """Everything the rules look up: steps, targets and which key belongs to what."""

    settings: WorkflowSettings
    searches: tuple[SearchStep, ...]
    template: TemplateStep | None
    targets: tuple[TargetJob, ...]
    pairing: SearchStep | None = None  # UniProt, when a heteromer is among the targets
    multimer_template: TemplateStep | None = None  # when a complex is among the targets

    def target(self, name: str) -> TargetJob:
        for job in self.targets:
            if job.name == name:
                return job
        raise KeyError(name)

    def step(self, name: str) -> SearchStep:
        for step in (*self.searches, *((self.pairing,) if self.pairing else ())):
            if step.name == name:
                return step
        raise KeyError(name)

    @property
    def complexes(self) -> tuple[TargetJob, ...]:
        return tuple(job for job in self.targets if job.is_complex)

    @property
    def monomers(self) -> tuple[TargetJob, ...]:
        return tuple(job for job in self.targets if not job.is_complex)

    def _search_owners(self) -> list[TargetJob | ChainJob]:
        return [*self.targets, *(chain for job in self.targets for chain in job.chain_jobs)]

    def search_key_owner(self, key: str) -> tuple[SearchStep, TargetJob | ChainJob]:
        """The step and the first target, else complex chain, whose search has ``key``."""
        for job in self._search_owners():
            for name, job_key in job.search_keys.items():
                if job_key == key:
                    return self.step(name), job
        raise KeyError(key)

    def template_key_owner(self, key: str) -> TargetJob | ChainJob:
        for job in self._search_owners():
            if job.template_key == key:
                return job
        raise KeyError(key)

    def template_step_of(self, key: str) -> TemplateStep:
        """The template search whose cache key is ``key`` (a monomer's or a chain's)."""
        owner = self.template_key_owner(key)
        step = self.template if isinstance(owner, TargetJob) else self.multimer_template
        if step is None:
            raise KeyError(key)
        return step

    def sequences(self) -> dict[str, str]:
        """Every sequence searched (monomers and complex chains), by its SHA-256."""
        return {job.sequence_hash: job.sequence for job in self._search_owners()
                if job.search_keys}

    def predictions(self, job: TargetJob) -> tuple[str, ...]:
        """A target's prediction jobs: the monomer models, or a complex's
        ``model_N_multimer_v3_pred_K``."""
        if job.is_complex:
            return self.settings.multimer_predictions
        return self.settings.models

    def chain_msa_files(self, job: TargetJob) -> tuple[str, ...]:
        """The files of a complex's ``msas/<chain>/`` folders (template hits included)."""
        files = [name for step in self.searches for name in step.outputs]
        if job.is_heteromer and self.pairing is not None:
            files.extend(self.pairing.outputs)
        if self.multimer_template is not None:
            files.append(self.multimer_template.output)
        return tuple(files)

    def chain_sharing(self, job: TargetJob, chain: ChainJob) -> tuple[str, ...]:
        """Other targets that search ``chain``'s sequence too (as a monomer or a chain)."""
        return tuple(t.name for t in self.targets if t is not job and (
            chain.sequence in t.chains if t.is_complex else t.sequence == chain.sequence))

    def template_mmcif_dir(self, job: TargetJob) -> Path:
        """Where ``job``'s template mmCIF files are: the template database's folder, or
        (msa_mode server) the ``templates_101/`` its server search fetched into the cache."""
        if self.template is None:
            raise KeyError(job.name)
        if self.template.m8 is None:
            return self.template.mmcif_dir
        key = job.search_keys[self.template.msa_step]
        return self.settings.cache_dir / "msa" / key / TEMPLATE_DIR

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


def _template_keys(step: TemplateStep):
    """The cache key of ``step``'s search from the MSA whose key is given."""
    identity = [database_identity(p).key() for p in step.identity_files]

    def key(msa_key: str) -> str:
        payload = {"msa": msa_key, "tool": step.tool, "msa_file": step.msa_file,
                   "database": identity}
        if step.env_msa_file is not None:
            payload["env_msa_file"] = step.env_msa_file
        if step.m8 is not None:
            payload["m8"] = step.m8
        return content_key(payload)

    return key


def _chain_jobs(target, searches: tuple[SearchStep, ...], pairing: SearchStep | None,
                search_key) -> tuple[ChainJob, ...]:
    """One :class:`ChainJob` per distinct chain sequence of a complex, in input order."""
    sequences = [chain.sequence for chain in target.chains]
    heteromer = len(set(sequences)) > 1
    jobs: dict[str, ChainJob] = {}
    for index, sequence in enumerate(sequences):
        if sequence in jobs:
            continue
        keys = {step.name: search_key(sequence, step) for step in searches}
        if heteromer and pairing is not None:
            keys[pairing.name] = search_key(sequence, pairing)
        jobs[sequence] = ChainJob(PDB_CHAIN_IDS[index], sequence, keys)
    return tuple(jobs.values())


def make_plan(settings: WorkflowSettings, targets) -> Plan:
    """The plan for checked targets (``folding.inputs.Target``; complexes included)."""
    searches = search_steps(settings)
    local = settings.msa_mode == "local"
    heteromers = any(len({c.sequence for c in t.chains}) > 1 for t in targets)
    pairing = pairing_step(settings) if local and heteromers else None
    identities = {
        step.name: [database_identity(p).key() for p in step.identity_files]
        for step in (*searches, *((pairing,) if pairing else ()))
    }

    def search_key(sequence: str, step: SearchStep) -> str:
        return content_key({
            "sequence": sequence, "tool": step.tool, "step": step.name,
            "settings": dict(step.settings), "databases": identities[step.name],
        })

    jobs: list[TargetJob] = []
    precomputed_first: str | None = None
    for target in targets:
        sequence = ":".join(chain.sequence for chain in target.chains)
        if len(target.chains) > 1:
            chain_jobs = _chain_jobs(target, searches, pairing, search_key) if local else ()
            jobs.append(TargetJob(target.name, sequence, target.description, target.source, {},
                                  None, (), tuple(c.sequence for c in target.chains),
                                  chain_jobs))
            continue
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
        key = _template_keys(template)
        jobs = [
            dataclasses.replace(job, template_key=key(job.search_keys[template.msa_step]))
            if job.search_keys else job
            for job in jobs
        ]
    complexes = any(job.is_complex for job in jobs)
    multimer_template = multimer_template_step(settings, searches) if complexes and local \
        else None
    if multimer_template is not None:
        key = _template_keys(multimer_template)
        jobs = [
            dataclasses.replace(job, chain_jobs=tuple(
                dataclasses.replace(
                    chain, template_key=key(chain.search_keys[multimer_template.msa_step]))
                for chain in job.chain_jobs))
            if job.is_complex else job
            for job in jobs
        ]
    return Plan(settings, searches, template, tuple(jobs), pairing, multimer_template)


def _precomputed_files(settings: WorkflowSettings, name: str) -> tuple[Path, ...]:
    if settings.precomputed_msa_dir is None:
        return ()
    folder = settings.precomputed_msa_dir / name
    return tuple(folder / f for f in PRECOMPUTED_MSA_FILES if (folder / f).is_file())
