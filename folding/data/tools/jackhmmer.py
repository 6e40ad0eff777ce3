"""jackhmmer in process (pyhmmer), multithreaded over byte ranges of the database.

AlphaFold runs HMMER's ``jackhmmer`` binary on UniRef90, MGnify and small BFD with
``-N 1 -E 1e-4 --incE 1e-4 --F1 5e-4 --F2 5e-5 --F3 5e-7`` (supplement 1.2.2) and keeps
the Stockholm alignment it writes with ``-A``. This module does the same search with
pyhmmer, the same HMMER code called in process, so no binary is needed and the alignment
is the same (the query first, then every included domain, all consensus columns).

pyhmmer parallelises across queries; a target has one query, so here the database file is
cut into byte ranges searched by a pool of threads (:mod:`folding.data.tools.sequence_db`)
and their hits are merged with E-values for the whole database, as HMMER's own worker
threads do. Iterations after the first build the next model from the previous alignment,
as jackhmmer does (pyhmmer's :class:`~pyhmmer.plan7.IterativeSearch`); each iteration
streams the database again, as the binary does, so memory stays small on any database.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from folding.data.tools.sequence_db import FastaDatabase, search_ranges
from folding.errors import InputError, ToolError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JackhmmerSettings:
    """jackhmmer's search settings; the defaults are AlphaFold's (``Jackhmmer`` wrapper)."""

    iterations: int = 1  # -N
    e_value: float = 1e-4  # -E and --incE (AlphaFold passes the same value to both)
    domain_e_value: float = 10.0  # --domE (HMMER's default)
    inclusion_domain_e_value: float = 1e-3  # --incdomE (jackhmmer's default)
    filter_f1: float = 5e-4  # --F1, MSV filter
    filter_f2: float = 5e-5  # --F2, Viterbi filter
    filter_f3: float = 5e-7  # --F3, Forward filter
    z_value: float | None = None  # -Z: database size for E-values (None: count sequences)
    seed: int = 42  # --seed

    def jackhmmer_argv(self, threads: int) -> list[str]:
        """The equivalent options of HMMER's ``jackhmmer`` binary (for logs and benchmarks)."""
        argv = [
            "--F1", str(self.filter_f1), "--F2", str(self.filter_f2), "--F3", str(self.filter_f3),
            "--incE", str(self.e_value), "-E", str(self.e_value),
            "--domE", str(self.domain_e_value), "--incdomE", str(self.inclusion_domain_e_value),
            "--seed", str(self.seed), "--cpu", str(threads), "-N", str(self.iterations),
        ]
        if self.z_value is not None:
            argv += ["-Z", str(self.z_value)]
        return argv


@dataclass(frozen=True)
class JackhmmerIteration:
    """What one iteration found."""

    number: int
    reported: int  # hits with E-value <= E
    included: int  # hits in the alignment (inclusion thresholds)
    converged: bool
    seconds: float


@dataclass(frozen=True)
class JackhmmerReport:
    """A finished search: the alignment written, and what each iteration did."""

    output: Path
    database: Path
    database_sequences: int
    threads: int
    settings: JackhmmerSettings
    iterations: tuple[JackhmmerIteration, ...] = field(default=())
    seconds: float = 0.0
    version: str = ""

    @property
    def num_sequences(self) -> int:
        """Rows of the final alignment: the query plus its included hits."""
        return 1 + self.iterations[-1].included if self.iterations else 1


def pyhmmer_version() -> str:
    import pyhmmer

    return f"pyhmmer {pyhmmer.__version__}"


def read_query(path: str | os.PathLike[str]):  # -> pyhmmer.easel.DigitalSequence
    """The single protein sequence of a FASTA file, digitised for HMMER."""
    from pyhmmer import easel

    path = Path(path)
    if not path.is_file():
        raise InputError(f"query {path} not found; give the target's FASTA file")
    alphabet = easel.Alphabet.amino()
    try:
        with easel.SequenceFile(path, format="fasta", digital=True, alphabet=alphabet) as handle:
            sequences = list(handle)
    except (ValueError, OSError, EOFError) as error:
        raise InputError(f"query {path} is not a readable protein FASTA file ({error})") from error
    if len(sequences) != 1:
        raise InputError(
            f"query {path} holds {len(sequences)} sequences; give one target per FASTA file "
            "(folding inputs check writes them)"
        )
    if len(sequences[0]) == 0:
        raise InputError(f"query {path} has an empty sequence")
    return sequences[0]


def _make_search_class():
    """The :class:`pyhmmer.plan7.IterativeSearch` whose searches run over database ranges."""
    from pyhmmer import easel, plan7

    class RangedIterativeSearch(plan7.IterativeSearch):
        def __init__(self, pipeline, builder, query, database, threads, options):
            empty = easel.DigitalSequenceBlock(database.alphabet)
            super().__init__(pipeline, builder, query, empty)
            self.database = database
            self.threads = threads
            self.options = options
            self.local = threading.local()
            self.pool = ThreadPoolExecutor(threads) if threads > 1 else None
            self.searched_sequences = 0

        def _search_file(self, sequence_file):
            pipeline = getattr(self.local, "pipeline", None)
            if pipeline is None:
                pipeline = self.local.pipeline = plan7.Pipeline(self.database.alphabet,
                                                                **self.options)
            try:
                return pipeline.search_hmm(self.hmm, sequence_file)
            finally:
                pipeline.clear()

        def _search_hmm(self, hmm):
            self.hmm = hmm
            hits = search_ranges(self.database, self._search_file, self.threads, self.pool)
            self.searched_sequences = hits.searched_sequences
            return hits

        def close(self):
            if self.pool is not None:
                self.pool.shutdown()

    return RangedIterativeSearch


def run_jackhmmer(
    query_fasta: str | os.PathLike[str],
    database: str | os.PathLike[str],
    output_sto: str | os.PathLike[str],
    settings: JackhmmerSettings = JackhmmerSettings(),
    threads: int = 1,
    checkpoint_prefix: str | os.PathLike[str] | None = None,
) -> JackhmmerReport:
    """Search ``database`` (FASTA) with the query and write the final Stockholm alignment.

    ``output_sto`` is written as HMMER's ``jackhmmer -A`` writes it (the caller makes the
    write atomic and truncates it to AlphaFold's maximum). With ``checkpoint_prefix`` each
    iteration's alignment is also written to ``<prefix>-<n>.sto`` (like ``--chkali``).
    Nothing is cached: every call searches.
    """
    from pyhmmer import plan7

    if threads < 1:
        raise InputError(f"--threads must be at least 1, not {threads}")
    if settings.iterations < 1:
        raise InputError(f"jackhmmer needs at least one iteration, not {settings.iterations}")
    start = time.perf_counter()
    query = read_query(query_fasta)
    db = FastaDatabase(database)
    options = dict(
        E=settings.e_value, incE=settings.e_value, domE=settings.domain_e_value,
        incdomE=settings.inclusion_domain_e_value, F1=settings.filter_f1,
        F2=settings.filter_f2, F3=settings.filter_f3, seed=settings.seed,
    )
    if settings.z_value is not None:
        options["Z"] = settings.z_value
    pipeline = plan7.Pipeline(db.alphabet, **options)
    builder = plan7.Builder(db.alphabet, seed=settings.seed, architecture="hand")
    search = _make_search_class()(pipeline, builder, query, db, threads, options)
    iterations: list[JackhmmerIteration] = []
    result = None
    try:
        while len(iterations) < settings.iterations:
            t0 = time.perf_counter()
            try:
                result = next(search)
            except StopIteration:
                break
            except (ValueError, RuntimeError, MemoryError) as error:
                raise ToolError(f"jackhmmer (pyhmmer) failed on {database}: {error}") from error
            iterations.append(JackhmmerIteration(
                number=result.iteration, reported=len(result.hits.reported),
                included=len(result.hits.included), converged=result.converged,
                seconds=time.perf_counter() - t0,
            ))
            logger.info("jackhmmer iteration %d on %s: %d hits reported, %d included%s",
                        result.iteration, Path(database).name, iterations[-1].reported,
                        iterations[-1].included, " (converged)" if result.converged else "")
            if checkpoint_prefix is not None:
                _write_msa(result.msa, Path(f"{checkpoint_prefix}-{result.iteration}.sto"))
            if result.converged:
                break
    finally:
        search.close()
    assert result is not None
    _write_msa(result.msa, Path(output_sto))
    return JackhmmerReport(
        output=Path(output_sto), database=Path(database),
        database_sequences=int(search.searched_sequences), threads=threads, settings=settings,
        iterations=tuple(iterations),
        seconds=time.perf_counter() - start, version=pyhmmer_version(),
    )


def _write_msa(msa, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        msa.write(handle, "stockholm")
