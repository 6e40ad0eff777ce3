"""ColabFold's template hits: ``pdb70.m8`` and the HH-suite database its templates come in.

ColabFold finds templates in two steps (``colabfold.colabfold.run_mmseqs2`` and
``colabfold.batch.mk_template``):

1. An MMseqs2 search of the query profile against PDB sequences (pdb70, or pdb100 in
   later ``colabfold_search``) writes the hits in BLAST's tabular "m8" format, one line
   per hit: query id, target (``1abc_A``), identity, alignment length, mismatches, gap
   openings, query start/end, target start/end (1-based), E-value, bit score and, from
   ``colabfold_search``, a CIGAR string. A ColabFold MSA server returns it as
   ``pdb70.m8`` beside the A3Ms.
2. The first 20 hit lines of the query (``TMPL[:20]``) name the templates: the server's
   ``/template/<ids>`` endpoint sends their mmCIF files and an HH-suite database of their
   profiles (``pdb70_a3m.ffdata/.ffindex``; ColabFold then copies the a3m index to
   ``pdb70_cs219.ffindex`` and creates an empty ``pdb70_cs219.ffdata``), and ColabFold
   unpacks them into ``templates_101/``. With a local PDB instead (``colabfold_batch
   --pdb-hit-file --local-pdb-path``) it copies those entries' mmCIFs and builds the
   database itself (``mk_hhsearch_db``: one sequence per chain).
3. hhsearch of the query's whole MSA (the concatenated A3Ms) against that small database
   gives the ``.hhr`` hits that AlphaFold's HHsearch template featuriser turns into
   template features, the mmCIFs read from the same folder.

This module holds steps 1-2: :func:`parse_m8`, :func:`template_ids` and
:func:`build_template_database` (for a local mmCIF folder: one record per protein chain
of each named entry, with its SEQRES sequence, where ColabFold's ``mk_hhsearch_db``
writes the observed residues: SEQRES is what the server's profiles and our featuriser
index into). Step 3 is :func:`folding.data.templates.search.search_m8_templates`.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from folding.atomic import write_bytes
from folding.errors import InputError, MissingResourceError

logger = logging.getLogger(__name__)

#: Hit lines of a query that name its templates (ColabFold's ``TMPL[:20]``).
MAX_M8_TEMPLATES = 20
#: The file name a ColabFold MSA server gives the template hits.
M8_FILE = "pdb70.m8"
#: The prefix of the HH-suite database in a ColabFold template folder.
HH_DATABASE = "pdb70"


@dataclass(frozen=True)
class M8Hit:
    """One line of an m8 file (BLAST tabular; positions 1-based, inclusive)."""

    query: str
    target: str
    identity: float
    alignment_length: int
    mismatches: int
    gap_openings: int
    query_start: int
    query_end: int
    target_start: int
    target_end: int
    evalue: float
    bits: float
    cigar: str = ""

    @property
    def pdb_id(self) -> str:
        """The target's PDB id, lower case (``1abc_A`` -> ``1abc``)."""
        return self.target.split("_", 1)[0].lower()


def parse_m8(text: str, source: str = "m8 file") -> list[M8Hit]:
    """The hits of an m8 text, in file order (blank lines skipped)."""
    hits = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 12:
            raise InputError(
                f"{source} line {number}: {len(fields)} columns, an m8 hit line has 12 or 13 "
                "(query, target, identity, length, mismatches, gap openings, qstart, qend, "
                "tstart, tend, E-value, bits[, CIGAR]); give ColabFold's pdb70.m8"
            )
        try:
            hits.append(M8Hit(
                query=fields[0], target=fields[1], identity=float(fields[2]),
                alignment_length=int(fields[3]), mismatches=int(fields[4]),
                gap_openings=int(fields[5]), query_start=int(fields[6]),
                query_end=int(fields[7]), target_start=int(fields[8]),
                target_end=int(fields[9]), evalue=float(fields[10]), bits=float(fields[11]),
                cigar=fields[12] if len(fields) > 12 else "",
            ))
        except ValueError as error:
            raise InputError(f"{source} line {number}: {error}; give ColabFold's pdb70.m8") \
                from error
    return hits


def read_m8(path: str | os.PathLike[str]) -> list[M8Hit]:
    """The hits of an m8 file; a clear error when it is missing."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"template hit file {file} not found; give ColabFold's pdb70.m8")
    return parse_m8(file.read_text(errors="replace"), str(file))


def template_ids(
    hits: Sequence[M8Hit], query: str | None = None, max_templates: int = MAX_M8_TEMPLATES
) -> tuple[str, ...]:
    """The targets of the first ``max_templates`` hit lines of ``query`` (default: the
    first query of the file), repeats dropped: the templates ColabFold fetches."""
    if not hits:
        return ()
    query = hits[0].query if query is None else query
    chosen = [hit.target for hit in hits if hit.query == query][:max_templates]
    return tuple(dict.fromkeys(chosen))


def has_hh_database(prefix: str | os.PathLike[str]) -> bool:
    """Whether ``<prefix>_a3m.ffdata`` and ``<prefix>_a3m.ffindex`` exist."""
    return all(Path(f"{prefix}_a3m.{ext}").is_file() for ext in ("ffdata", "ffindex"))


def complete_colabfold_database(prefix: str | os.PathLike[str], into: Path) -> Path:
    """A searchable copy of a ColabFold template database, as ColabFold completes it.

    The server sends ``pdb70_a3m.ff*``; ColabFold adds ``pdb70_cs219.ffindex`` (a copy
    of the a3m index) and an empty ``pdb70_cs219.ffdata``. Where those exist the prefix
    is returned unchanged; otherwise the database is completed in ``into`` (the input
    folder is never modified) and that prefix is returned.
    """
    prefix = Path(prefix)
    if not has_hh_database(prefix):
        raise MissingResourceError(
            f"HH-suite template database {prefix} not found ({prefix}_a3m.ffdata/.ffindex "
            "missing); give the templates_101 folder the ColabFold server sent"
        )
    if Path(f"{prefix}_cs219.ffindex").is_file() and Path(f"{prefix}_cs219.ffdata").is_file():
        return prefix
    into.mkdir(parents=True, exist_ok=True)
    local = into / prefix.name
    for ext in ("ffdata", "ffindex"):
        source = Path(f"{prefix}_a3m.{ext}")
        target = Path(f"{local}_a3m.{ext}")
        target.unlink(missing_ok=True)
        try:
            target.symlink_to(source.resolve())
        except OSError:
            shutil.copyfile(source, target)
    shutil.copyfile(f"{prefix}_a3m.ffindex", f"{local}_cs219.ffindex")
    Path(f"{local}_cs219.ffdata").write_bytes(b"")
    return local


def build_template_database(
    mmcif_dir: str | os.PathLike[str], ids: Sequence[str], prefix: str | os.PathLike[str]
) -> tuple[str, ...]:
    """Write an HH-suite database ``<prefix>_a3m/_cs219.ff{data,index}`` of the entries
    named by ``ids`` (``1abc_A``): one record ``>1abc_B`` + SEQRES per protein chain of
    each entry found in ``mmcif_dir`` (``<id>.cif``). Returns the record names; entries
    whose mmCIF is missing or unreadable are logged and left out."""
    from folding.data.templates.mmcif import MmcifError, read_mmcif

    folder = Path(mmcif_dir)
    records: dict[str, str] = {}
    for pdb_id in dict.fromkeys(name.split("_", 1)[0].lower() for name in ids):
        path = folder / f"{pdb_id}.cif"
        if not path.is_file():
            logger.warning("template %s: %s not found; left out", pdb_id, path)
            continue
        try:
            entry = read_mmcif(path, pdb_id)
        except MmcifError as error:
            logger.warning("template %s: %s; left out", pdb_id, error)
            continue
        for chain_id, chain in entry.chains.items():
            if chain.sequence:
                records[f"{pdb_id}_{chain_id}"] = chain.sequence
    prefix = Path(prefix)
    data = bytearray()
    index_lines = []
    for name in sorted(records):
        entry = f">{name}\n{records[name]}\n".encode() + b"\0"
        index_lines.append(f"{name}\t{len(data)}\t{len(entry)}\n")
        data += entry
    for suffix, content in (("_a3m.ffdata", bytes(data)),
                            ("_a3m.ffindex", "".join(index_lines).encode()),
                            ("_cs219.ffindex", "".join(index_lines).encode()),
                            ("_cs219.ffdata", b"")):
        write_bytes(f"{prefix}{suffix}", content)
    return tuple(sorted(records))
