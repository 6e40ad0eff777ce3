"""Template search: the query's MSA against the PDB (supplement 1.2.3).

AlphaFold prepares the search query from ``uniref90_hits.sto`` (its first 10,000 rows):
rows identical on the query's columns are dropped, then columns that are gaps in every
row. hmmsearch takes that Stockholm alignment (HMM built with ``--hand``: one match state
per query residue) against ``pdb_seqres.txt`` and writes ``pdb_hits.sto``; hhsearch takes
it converted to A3M against PDB70 and writes ``pdb_hits.hhr``. The hit files are
AlphaFold's, so either side can featurise the other's searches.

ColabFold-style MSAs (``uniref.a3m`` and ``bfd.mgnify30.metaeuk30.smag30.a3m``, from
MMseqs2 or an MSA server) are A3Ms: given as one or more ``--msa`` files they are joined
as ColabFold joins them (:func:`~folding.data.parsers.a3m.concatenate_a3m`). hhsearch
takes that A3M as it is, as ColabFold's ``mk_template`` does; hmmsearch takes it
converted to Stockholm with a ``#=GC RF`` line on the query's columns
(:func:`~folding.data.parsers.a3m.a3m_to_stockholm`, first 10,000 rows), then prepared as
above. :func:`search_m8_templates` is ColabFold's own template search: the templates a
``pdb70.m8`` file names, searched with hhsearch in their small HH-suite database.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from folding.data.parsers.a3m import a3m_to_stockholm, concatenate_a3m
from folding.data.parsers.stockholm import (
    deduplicate_stockholm,
    remove_empty_columns,
    stockholm_rows,
    stockholm_to_a3m,
    truncate_stockholm,
)
from folding.data.templates.hits import parse_hhr, parse_hmmsearch_sto
from folding.data.templates.m8 import (
    HH_DATABASE,
    build_template_database,
    complete_colabfold_database,
    has_hh_database,
    read_m8,
    template_ids,
)
from folding.data.tools.base import find_binary, tool_version
from folding.data.tools.hhsearch import HHsearch
from folding.data.tools.hmmsearch import Hmmsearch, HmmsearchPrograms
from folding.errors import InputError, MissingResourceError

TemplateTool = Literal["hmmsearch", "hhsearch"]
Engine = Literal["pyhmmer", "programs"]

#: Rows of the UniRef90 alignment the template search starts from (AlphaFold's).
QUERY_MAX_ROWS = 10_000
#: The hit file each search writes, under AlphaFold 2.3's names.
HIT_FILE_NAMES: dict[str, str] = {"hmmsearch": "pdb_hits.sto", "hhsearch": "pdb_hits.hhr"}


@dataclass(frozen=True)
class TemplateSearchResult:
    """A finished template search: the hit file's text and what made it."""

    text: str
    tool: TemplateTool
    engine: str
    version: str
    databases: tuple[str, ...]
    num_hits: int
    seconds: float
    templates: tuple[str, ...] = ()  # for an m8 search: the templates it searched


def template_query(msa_path: str | os.PathLike[str]) -> str:
    """The Stockholm query of a template search, prepared from ``uniref90_hits.sto``."""
    path = Path(msa_path)
    if not path.is_file():
        raise InputError(f"MSA {path} not found; run the UniRef90 search first")
    if path.suffix != ".sto":
        raise InputError(f"{path}: the template search starts from the Stockholm UniRef90 "
                         "alignment (uniref90_hits.sto); give that file")
    text = truncate_stockholm(path, QUERY_MAX_ROWS)
    if not stockholm_rows(text, str(path)):
        raise InputError(f"{path}: no aligned sequences; the UniRef90 search output is empty")
    if "#=GC RF" not in text:
        raise InputError(f"{path} has no '#=GC RF' line (jackhmmer's match columns); "
                         "give jackhmmer's Stockholm output")
    return remove_empty_columns(deduplicate_stockholm(text))


def a3m_query(msa_paths: Sequence[str | os.PathLike[str]]) -> str:
    """The joined A3M of ColabFold-style MSA files (ColabFold's template-search query)."""
    texts = []
    for msa_path in msa_paths:
        path = Path(msa_path)
        if not path.is_file():
            raise InputError(f"MSA {path} not found; run the MSA search first")
        texts.append(path.read_text(errors="replace"))
    text = concatenate_a3m(texts)
    if not text:
        names = ", ".join(str(p) for p in msa_paths)
        raise InputError(f"{names}: no aligned sequences; the MSA search output is empty")
    return text


def _queries(msa_paths: Sequence[str | os.PathLike[str]], tool: str) -> tuple[str, str]:
    """(Stockholm query for hmmsearch or "", A3M query for hhsearch or "") of the MSAs."""
    suffixes = {Path(p).suffix for p in msa_paths}
    if suffixes == {".sto"} and len(msa_paths) == 1:
        query = template_query(msa_paths[0])
        return query, stockholm_to_a3m(query) if tool == "hhsearch" else ""
    if suffixes == {".a3m"}:
        a3m = a3m_query(msa_paths)
        if tool == "hhsearch":
            return "", a3m
        sto = a3m_to_stockholm(a3m, QUERY_MAX_ROWS, source=str(msa_paths[0]))
        return remove_empty_columns(deduplicate_stockholm(sto)), ""
    raise InputError(
        f"template search MSAs {', '.join(str(p) for p in msa_paths)}: give one Stockholm "
        "uniref90_hits.sto, or A3M files (uniref.a3m [bfd.mgnify30.metaeuk30.smag30.a3m])"
    )


def search_templates(
    msa_path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    tool: TemplateTool,
    databases: Sequence[str | os.PathLike[str]],
    cpus: int = 2,
    engine: Engine = "pyhmmer",
    binaries: dict[str, str | None] | None = None,
) -> TemplateSearchResult:
    """Search the PDB for templates with ``tool``; return the hit file's text.

    ``msa_path``: AlphaFold's ``uniref90_hits.sto``, or one or more A3M files (joined in
    order, ColabFold's way). ``databases``: for hmmsearch one ``pdb_seqres.txt``; for
    hhsearch one or more PDB70 prefixes. ``engine`` chooses, for hmmsearch, HMMER in
    process (pyhmmer) or the hmmbuild/hmmsearch programs (same output). ``binaries`` may
    name program paths (keys ``hhsearch``, ``hmmbuild``, ``hmmsearch``).
    """
    binaries = binaries or {}
    paths = [msa_path] if isinstance(msa_path, str | os.PathLike) else list(msa_path)
    if not paths:
        raise InputError("template search needs an MSA (--msa)")
    query, a3m = _queries(paths, tool)
    start = time.perf_counter()
    if tool == "hmmsearch":
        if len(databases) != 1:
            raise InputError("hmmsearch searches one database: give one --database "
                             "(pdb_seqres.txt)")
        if engine == "pyhmmer":
            import pyhmmer

            searcher: Hmmsearch | HmmsearchPrograms = Hmmsearch.locate(databases[0], cpus)
            version = f"pyhmmer {pyhmmer.__version__}"
        else:
            searcher = HmmsearchPrograms.locate(databases[0], binaries.get("hmmbuild"),
                                                binaries.get("hmmsearch"), cpus)
            version = tool_version(searcher.hmmsearch)
        text = searcher.search(query)
        num_hits = len(parse_hmmsearch_sto(text, "")) if text else 0
    elif tool == "hhsearch":
        hhsearch = HHsearch.locate(databases, binaries.get("hhsearch"), cpus)
        text = hhsearch.search(a3m)
        version = tool_version(hhsearch.binary)
        num_hits = len(parse_hhr(text))
    else:
        raise MissingResourceError(f"unknown template search tool {tool!r}; use hmmsearch "
                                   "or hhsearch")
    return TemplateSearchResult(
        text=text, tool=tool, engine=engine if tool == "hmmsearch" else "programs",
        version=version, databases=tuple(str(d) for d in databases), num_hits=num_hits,
        seconds=time.perf_counter() - start,
    )


def search_m8_templates(
    m8_path: str | os.PathLike[str],
    msa_paths: Sequence[str | os.PathLike[str]],
    mmcif_dir: str | os.PathLike[str],
    database: str | os.PathLike[str] | None = None,
    cpus: int = 2,
    binary: str | None = None,
) -> TemplateSearchResult:
    """ColabFold's template search: hhsearch of the MSA against the m8 file's templates.

    The templates are the first 20 hit lines of the m8 file's first query
    (:func:`~folding.data.templates.m8.template_ids`). Their HH-suite database is
    ``database`` if given, else ``<mmcif_dir>/pdb70`` when it exists (the
    ``templates_101`` folder a ColabFold server sends; completed as ColabFold completes
    it), else one built from the templates' mmCIF files in ``mmcif_dir`` (a local PDB, as
    ``colabfold_batch --pdb-hit-file --local-pdb-path``). The MSA files are joined as
    ColabFold joins them and searched as they are. An m8 file without hits gives an
    empty ``.hhr`` text (no templates).
    """
    import tempfile

    start = time.perf_counter()
    ids = template_ids(read_m8(m8_path))
    query = a3m_query(msa_paths)
    if not ids:
        return TemplateSearchResult("", "hhsearch", "programs", "", (), 0,
                                    time.perf_counter() - start, ())
    program = find_binary("hhsearch", binary)
    folder = Path(mmcif_dir)
    with tempfile.TemporaryDirectory(prefix="folding-m8-") as work:
        if database is not None:
            prefix = complete_colabfold_database(database, Path(work))
        elif has_hh_database(folder / HH_DATABASE):
            prefix = complete_colabfold_database(folder / HH_DATABASE, Path(work))
        else:
            if not folder.is_dir():
                raise MissingResourceError(
                    f"template mmCIF folder {folder} not found; give the templates_101 "
                    "folder of the ColabFold server's result or a pdb_mmcif/mmcif_files folder"
                )
            prefix = Path(work) / HH_DATABASE
            if not build_template_database(folder, ids, prefix):
                return TemplateSearchResult("", "hhsearch", "programs", tool_version(program),
                                            (), 0, time.perf_counter() - start, ids)
        hhsearch = HHsearch.locate([prefix], program, cpus)
        text = hhsearch.search(query)
        databases = (str(database or folder / HH_DATABASE),) if database is not None or \
            has_hh_database(folder / HH_DATABASE) else (str(folder),)
        return TemplateSearchResult(
            text=text, tool="hhsearch", engine="programs", version=tool_version(program),
            databases=databases, num_hits=len(parse_hhr(text)),
            seconds=time.perf_counter() - start, templates=ids,
        )
