"""Job sizes and placement: the memory, time limit and partition each workflow job asks for.

The rules declare threads and a GPU; this module gives every job a memory request
(``mem_mb``) and a time limit (``runtime``, minutes) that grow with what drives them,
and says where a job goes on a SLURM cluster:

* **MSA searches** (jackhmmer) stream the database past the query: time grows with
  database residues x query length (HMMER's MSV filter visits every cell), memory with
  the query length (up to 10,000 aligned hits per database, more for small BFD).
  HHblits, MMseqs2 and the MSA server have their own base figures.
* **Prediction** holds the L x L x 64 distogram logits on the host (fetched in float32,
  saved in float16) and the L x L PAE: host memory grows with L^2, GPU time with about
  L^2.5 per recycling pass (the triangle updates are L^3, but below a few thousand
  residues the L^2 work dominates on a GPU).
* **Relax** (Amber, OpenMM on the CPU) and the light jobs grow linearly with L.

Every figure is multiplied by the attempt number: a job killed for memory or time is
resubmitted (``retries`` in the profile) with twice, then three times, as much. The
figures are generous estimates for AlphaFold's databases, not measurements of one
cluster; the retries cover what they miss.

Placement: the workflow config keys ``slurm_cpu_partition``, ``slurm_gpu_partition``,
``slurm_account`` and ``gpu_type`` become the resources snakemake-executor-plugin-slurm
reads (``slurm_partition``, ``slurm_account``, ``gpu_model``); empty keys are left out,
so the cluster's defaults apply. Local runs ignore these resources.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from folding.workflow.steps import SearchStep

#: HMMER filter cells (database residue x query residue) one thread checks per second,
#: a conservative figure for the MSV filter with SSE/AVX on a cluster CPU.
CELLS_PER_THREAD_SECOND = 1.0e9
#: Bytes per residue of a FASTA database (UniRef90's headers make it about 1.4).
FASTA_BYTES_PER_RESIDUE = 1.4
#: Start-up minutes every job gets (Snakemake in the job, Python imports, file system).
BASE_MINUTES = 10


@dataclass(frozen=True)
class JobSize:
    """What one job asks the scheduler for: memory (MB) and a time limit (minutes)."""

    mem_mb: int
    runtime: int

    def times(self, attempt: int) -> JobSize:
        """This size for the ``attempt``-th try (1 for the first)."""
        factor = max(1, int(attempt))
        return JobSize(self.mem_mb * factor, self.runtime * factor)


@dataclass(frozen=True)
class Placement:
    """Where jobs go on a SLURM cluster (every field empty: the cluster's defaults)."""

    cpu_partition: str = ""
    gpu_partition: str = ""
    account: str = ""
    gpu_type: str = ""

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Placement:
        def text(key: str) -> str:
            value = config.get(key)
            return "" if value is None else str(value).strip()

        return cls(text("slurm_cpu_partition"), text("slurm_gpu_partition"),
                   text("slurm_account"), text("gpu_type"))

    def cpu_job(self) -> dict[str, str]:
        """Resources of a CPU job (``resources: **CPU_JOB``)."""
        return _present(slurm_partition=self.cpu_partition, slurm_account=self.account)

    def gpu_job(self) -> dict[str, str]:
        """Resources of a GPU job, beside its ``gpu=1`` (``resources: **GPU_JOB, gpu=1``)."""
        return _present(slurm_partition=self.gpu_partition, slurm_account=self.account,
                        gpu_model=self.gpu_type)


def _present(**values: str) -> dict[str, str]:
    return {key: value for key, value in values.items() if value}


def residues(sequence: str) -> int:
    """Residues of a target's sequence (chains of a complex are joined by ':')."""
    return len(sequence.replace(":", ""))


def database_residues(paths: Iterable[Path]) -> int:
    """Estimated residues of FASTA databases from their sizes (0 for missing files)."""
    total = 0
    for path in paths:
        try:
            total += os.stat(path).st_size
        except OSError:
            continue
    return int(total / FASTA_BYTES_PER_RESIDUE)


def jackhmmer_size(length: int, database_residues: int, threads: int, base_mem_mb: int,
                   max_hits: int | None, iterations: int = 1) -> JobSize:
    """A jackhmmer search of one query (``length`` residues) against one database."""
    seconds = iterations * length * database_residues / (CELLS_PER_THREAD_SECOND * max(1, threads))
    # Memory grows with the hits found (every one is aligned before the cap applies),
    # not with the database, which is streamed: about 76 bytes per query residue per hit
    # was measured (benchmarks/search_memory.py: 2.34 GB for 200,000 hits at 148 aa).
    # Budget for 50,000 hits, or the cap when it is higher, and 200,000 for a search that
    # keeps every hit (small BFD); one with more is retried with more memory
    # (attempt-scaled resources).
    hits = 200_000 if max_hits is None else max(max_hits, 50_000)
    hit_mb = 80 * hits * length / 1e6
    return JobSize(base_mem_mb + math.ceil(hit_mb), BASE_MINUTES + math.ceil(2 * seconds / 60))


def search_size(step: SearchStep, sequence: str) -> JobSize:
    """The size of one MSA search job: ``step`` (its tool, databases, threads and base
    memory, from :mod:`folding.workflow.steps`) for the query ``sequence``."""
    length = residues(sequence)
    base = step.mem_mb
    if step.tool == "jackhmmer":
        return jackhmmer_size(length, database_residues(step.databases), step.threads, base,
                              step.settings.get("max_hits"), step.settings.get("iterations", 1))
    if step.tool == "hhblits":  # prefilter on column-state files, then HMM-HMM alignment
        return JobSize(base + 8 * length, BASE_MINUTES + 50 + math.ceil(0.2 * length))
    if step.tool == "mmseqs2":
        return JobSize(base + 4 * length, BASE_MINUTES + 50 + math.ceil(0.05 * length))
    if step.tool == "server":  # mostly waiting in the server's queue
        return JobSize(max(base, 1000), BASE_MINUTES + 50)
    return JobSize(max(base, 1000), BASE_MINUTES)


def template_search_size(length: int, base_mem_mb: int = 4000) -> JobSize:
    """hmmsearch (PDB seqres) or HHsearch (PDB70) of one target's MSA."""
    return JobSize(base_mem_mb + 4 * length, BASE_MINUTES + 20 + math.ceil(0.05 * length))


def features_size(length: int) -> JobSize:
    """Merging and deduplicating the MSAs, template featurisation (mmCIF parsing, kalign)."""
    return JobSize(2000 + 4 * length, BASE_MINUTES + 20 + math.ceil(length / 50))


def predict_size(length: int, num_recycle: int, gpu: bool = True) -> JobSize:
    """One model's prediction: host memory and time limit.

    Host memory: parameters and JAX (about 6 GB) plus four times the float32 size of the
    L x L x 64 distogram logits (fetched in float32, copied to float16 while saving, the
    L x L PAE; the rest is headroom, as in every figure here).
    Time: half a minute per pass at L = 500 on a data-centre GPU, growing as L^2.5,
    times 20 on a CPU, doubled for headroom; plus compilation.
    """
    pair_mb = 4 * 64 * 4 * length * length / 1e6
    passes = num_recycle + 1
    minutes_per_pass = 0.5 * (length / 500) ** 2.5 * (1 if gpu else 20)
    return JobSize(6000 + math.ceil(pair_mb),
                   BASE_MINUTES + 10 + math.ceil(2 * passes * minutes_per_pass))


def relax_size(length: int) -> JobSize:
    """Amber relaxation (OpenMM): a few thousand atoms per hundred residues."""
    return JobSize(2000 + 4 * length, BASE_MINUTES + 10 + math.ceil(length / 25))


def light_size(length: int = 0) -> JobSize:
    """Bookkeeping jobs (query FASTA, collecting MSAs, ranking, the report, the index)."""
    return JobSize(2000 + 2 * length + math.ceil(4 * 4 * length * length / 1e6),
                   BASE_MINUTES + 10 + math.ceil(length / 100))
