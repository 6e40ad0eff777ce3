"""One MSA search for one target, written under AlphaFold's (or ColabFold's) file name.

The database name decides the file name, the format and the default maximum number of
hits, as in AlphaFold's ``DataPipeline`` (supplement 1.2.2), so AlphaFold's precomputed
MSA folders work with us and ours with AlphaFold:

============  =========  ======================================  ==========  ============
db name       tool       file                                    max hits    format
============  =========  ======================================  ==========  ============
uniref90      jackhmmer  ``uniref90_hits.sto``                   10,000      Stockholm
mgnify        jackhmmer  ``mgnify_hits.sto``                     501         Stockholm
small_bfd     jackhmmer  ``small_bfd_hits.sto``                  all         Stockholm
uniprot       jackhmmer  ``uniprot_hits.sto`` (multimer pairing)  50,000      Stockholm
bfd_uniref    hhblits    ``bfd_uniref_hits.a3m`` (BFD+UniRef30)  all         A3M
uniref        mmseqs2,   ``uniref.a3m`` (ColabFold's name)       all         A3M
              server
env           mmseqs2,   ``bfd.mgnify30.metaeuk30.smag30.a3m``   all         A3M
              server
============  =========  ======================================  ==========  ============

A server search with templates (``--templates``) also keeps the server's template hits
``pdb70.m8`` and the templates it sent, ``templates_101/`` (mmCIF files and their HH-suite
database), as ColabFold lays them out; ``folding templates search --m8`` searches them.

Stockholm outputs are truncated to the maximum the way AlphaFold truncates them before it
writes them (:func:`folding.data.parsers.truncate_stockholm`). Every output is written
atomically, checked by parsing it (its first row must be the query) and described in a
``<file>.json`` beside it (tool, version, databases, settings, rows, seconds). Nothing is
cached: each call searches again; the workflow decides what to re-run.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from folding.atomic import atomic_path, write_text
from folding.data.parsers import parse_a3m, parse_fasta, parse_stockholm, truncate_stockholm
from folding.errors import InputError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutputSpec:
    """How the results of one database are stored."""

    db_name: str
    file_name: str
    max_hits: int | None
    tools: tuple[str, ...]


OUTPUTS: dict[str, OutputSpec] = {
    spec.db_name: spec
    for spec in (
        OutputSpec("uniref90", "uniref90_hits.sto", 10_000, ("jackhmmer",)),
        OutputSpec("mgnify", "mgnify_hits.sto", 501, ("jackhmmer",)),
        OutputSpec("small_bfd", "small_bfd_hits.sto", None, ("jackhmmer",)),
        OutputSpec("uniprot", "uniprot_hits.sto", 50_000, ("jackhmmer",)),
        OutputSpec("bfd_uniref", "bfd_uniref_hits.a3m", None, ("hhblits",)),
        OutputSpec("uniref", "uniref.a3m", None, ("mmseqs2", "server")),
        OutputSpec("env", "bfd.mgnify30.metaeuk30.smag30.a3m", None, ("mmseqs2", "server")),
    )
}
TOOLS = ("jackhmmer", "hhblits", "mmseqs2", "server")


@dataclass(frozen=True)
class SearchOutcome:
    """One file a search wrote, and what is recorded about it in ``<file>.json``."""

    path: Path
    tool: str
    db_name: str
    rows: int
    seconds: float
    details: dict[str, Any] = field(default_factory=dict)


def read_query_sequence(query: Path) -> tuple[str, str]:
    """(name, sequence) of a one-record FASTA query, checked."""
    if not query.is_file():
        raise InputError(f"query {query} not found; run 'folding inputs check' to write it")
    records = parse_fasta(query.read_text(errors="replace"))
    if len(records) != 1 or not records[0].sequence:
        raise InputError(
            f"query {query} must hold exactly one non-empty sequence (it holds "
            f"{len(records)} records); give the per-target FASTA 'folding inputs check' writes"
        )
    return records[0].name, records[0].sequence.upper()


def _spec(db_name: str, tool: str) -> OutputSpec:
    spec = OUTPUTS.get(db_name)
    if spec is None:
        raise InputError(f"unknown --db-name '{db_name}'; choose one of {', '.join(OUTPUTS)}")
    if tool not in spec.tools:
        raise InputError(
            f"--db-name {db_name} is searched with {' or '.join(spec.tools)}, not {tool}; "
            "pick the matching --tool"
        )
    return spec


def _check_query_row(path: Path, sequence: str, first_row: str) -> None:
    if first_row.replace("-", "") != sequence:
        raise InputError(
            f"{path}: its first row is not the query sequence; the alignment belongs to "
            "another target, delete it and search again"
        )


def _finish(path: Path, outcome: SearchOutcome) -> SearchOutcome:
    record = {
        "file": path.name,
        "tool": outcome.tool,
        "db_name": outcome.db_name,
        "rows": outcome.rows,
        "seconds": round(outcome.seconds, 3),
        **outcome.details,
    }
    write_text(path.with_name(path.name + ".json"), json.dumps(record, indent=2, default=str)
               + "\n")
    logger.info("%s: %d rows in %.1f s (%s)", path, outcome.rows, outcome.seconds, outcome.tool)
    return outcome


def search_jackhmmer(
    query: Path, database: Path, db_name: str, output_dir: Path, threads: int = 1,
    max_hits: int | None = -1, iterations: int = 1,
) -> SearchOutcome:
    """jackhmmer (pyhmmer) of ``query`` on a FASTA ``database`` -> ``<db_name>`` Stockholm file.

    ``max_hits=-1`` takes the database's default (AlphaFold's); ``None`` keeps every hit.
    """
    from folding.data.tools.jackhmmer import JackhmmerSettings, run_jackhmmer

    spec = _spec(db_name, "jackhmmer")
    limit = spec.max_hits if max_hits == -1 else max_hits
    _, sequence = read_query_sequence(query)
    final = output_dir / spec.file_name
    output_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    settings = JackhmmerSettings(iterations=iterations)
    with tempfile.TemporaryDirectory(dir=output_dir, prefix=".jackhmmer.") as tmp:
        raw = Path(tmp) / "raw.sto"
        report = run_jackhmmer(query, database, raw, settings, threads=threads)
        text = truncate_stockholm(raw, limit)
    msa = parse_stockholm(text, source=str(final))
    _check_query_row(final, sequence, msa.query)
    write_text(final, text)
    details = {
        "version": report.version,
        "database": str(database),
        "database_sequences": report.database_sequences,
        "threads": threads,
        "max_hits": limit,
        "settings": asdict(settings),
        "iterations": [asdict(i) for i in report.iterations],
        "equivalent_command": "jackhmmer -o /dev/null -A OUT --noali "
        + " ".join(settings.jackhmmer_argv(threads)) + f" {query} {database}",
    }
    return _finish(final, SearchOutcome(final, "jackhmmer", db_name, len(msa),
                                        time.perf_counter() - start, details))


def search_hhblits(
    query: Path, databases: Sequence[Path], db_name: str, output_dir: Path, threads: int = 1,
    iterations: int = 3,
) -> SearchOutcome:
    """hhblits of ``query`` on HH-suite databases (BFD + UniRef30) -> ``bfd_uniref_hits.a3m``."""
    from folding.data.tools.hhblits import HHblitsSettings, run_hhblits

    spec = _spec(db_name, "hhblits")
    _, sequence = read_query_sequence(query)
    final = output_dir / spec.file_name
    start = time.perf_counter()
    settings = HHblitsSettings(iterations=iterations)
    with atomic_path(final) as tmp:
        report = run_hhblits(query, databases, tmp, settings, threads=threads)
        msa = parse_a3m(tmp.read_text(), source=str(final))
        _check_query_row(final, sequence, msa.query)
    details = {
        "version": report.version,
        "databases": [str(d) for d in databases],
        "threads": threads,
        "settings": asdict(settings),
        "command": report.command,
    }
    return _finish(final, SearchOutcome(final, "hhblits", db_name, len(msa),
                                        time.perf_counter() - start, details))


def search_mmseqs2(
    query: Path, uniref_db: Path, env_db: Path | None, output_dir: Path, threads: int = 1,
) -> list[SearchOutcome]:
    """colabfold_search's MMseqs2 steps -> ``uniref.a3m`` (and the environmental A3M)."""
    from folding.data.tools.mmseqs import MmseqsSettings, run_colabfold_search

    _, sequence = read_query_sequence(query)
    output_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    settings = MmseqsSettings()
    with tempfile.TemporaryDirectory(dir=output_dir, prefix=".mmseqs.") as tmp:
        report = run_colabfold_search(query, uniref_db, env_db, Path(tmp), settings, threads)
        produced = {"uniref": report.uniref_a3m}
        if report.env_a3m is not None:
            produced["env"] = report.env_a3m
        details = {
            "version": report.version,
            "databases": {"uniref": str(uniref_db), "env": str(env_db) if env_db else None},
            "threads": threads,
            "settings": asdict(settings),
            "commands": list(report.commands),
        }
        return _store_a3ms(produced, "mmseqs2", sequence, output_dir, start, details)


def search_server(
    query: Path, url: str, output_dir: Path, use_env: bool = True, use_filter: bool = True,
    poll_seconds: float = 5.0, timeout_seconds: float = 3600.0, use_templates: bool = False,
) -> list[SearchOutcome]:
    """Ask a ColabFold-compatible MSA server -> ``uniref.a3m`` (and the environmental A3M;
    with ``use_templates`` also ``pdb70.m8`` and ``templates_101/``)."""
    from folding.data.tools.msa_server import M8, TEMPLATE_DIR, ServerSettings, fetch_msas

    _, sequence = read_query_sequence(query)
    output_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    settings = ServerSettings(url=url, use_env=use_env, use_filter=use_filter,
                              use_templates=use_templates, poll_seconds=poll_seconds,
                              timeout_seconds=timeout_seconds)
    with tempfile.TemporaryDirectory(dir=output_dir, prefix=".server.") as tmp:
        report = fetch_msas(sequence, settings, Path(tmp))
        produced = {k: v for k, v in report.files.items() if k != "m8"}
        details = {"server": url, "mode": report.mode, "ticket": report.ticket,
                   "settings": asdict(settings)}
        if use_templates:
            _check_a3ms(produced, "server", sequence, output_dir)
            details["templates"] = list(report.templates)
            # the template folder first, the hit file next, the MSAs (and records) last:
            # a search stopped half-way leaves no uniref.a3m.json that looks finished
            stale = output_dir / TEMPLATE_DIR
            if stale.exists():
                shutil.rmtree(stale)
            if report.template_dir is not None:
                report.template_dir.rename(stale)
            with atomic_path(output_dir / M8) as part:
                shutil.copyfile(report.files["m8"], part)
        return _store_a3ms(produced, "server", sequence, output_dir, start, details)


def _check_a3ms(
    produced: dict[str, Path], tool: str, sequence: str, output_dir: Path
) -> list[tuple[str, Path, Path, int]]:
    checked = []
    for db_name, path in produced.items():
        final = output_dir / OUTPUTS[db_name].file_name
        msa = parse_a3m(path.read_text(errors="replace"), source=f"{tool} output {final.name}")
        _check_query_row(final, sequence, msa.query)
        checked.append((db_name, path, final, len(msa)))
    return checked


def _store_a3ms(
    produced: dict[str, Path], tool: str, sequence: str, output_dir: Path, start: float,
    details: dict[str, Any],
) -> list[SearchOutcome]:
    checked = _check_a3ms(produced, tool, sequence, output_dir)
    outcomes = []
    for db_name, path, final, rows in checked:
        with atomic_path(final) as tmp:
            shutil.copyfile(path, tmp)
        outcomes.append(_finish(final, SearchOutcome(final, tool, db_name, rows,
                                                     time.perf_counter() - start, details)))
    return outcomes


def output_path(output_dir: str | os.PathLike[str], db_name: str) -> Path:
    """Where the results for ``db_name`` go in ``output_dir``."""
    if db_name not in OUTPUTS:
        raise InputError(f"unknown --db-name '{db_name}'; choose one of {', '.join(OUTPUTS)}")
    return Path(output_dir) / OUTPUTS[db_name].file_name
