"""Template search: the query's UniRef90 alignment against the PDB (supplement 1.2.3).

AlphaFold prepares the search query from ``uniref90_hits.sto`` (its first 10,000 rows):
rows identical on the query's columns are dropped, then columns that are gaps in every
row. hmmsearch takes that Stockholm alignment (HMM built with ``--hand``: one match state
per query residue) against ``pdb_seqres.txt`` and writes ``pdb_hits.sto``; hhsearch takes
it converted to A3M against PDB70 and writes ``pdb_hits.hhr``. The hit files are
AlphaFold's, so either side can featurise the other's searches.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from folding.data.parsers.stockholm import (
    deduplicate_stockholm,
    remove_empty_columns,
    stockholm_rows,
    stockholm_to_a3m,
    truncate_stockholm,
)
from folding.data.templates.hits import parse_hhr, parse_hmmsearch_sto
from folding.data.tools.base import tool_version
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


def search_templates(
    msa_path: str | os.PathLike[str],
    tool: TemplateTool,
    databases: Sequence[str | os.PathLike[str]],
    cpus: int = 2,
    engine: Engine = "pyhmmer",
    binaries: dict[str, str | None] | None = None,
) -> TemplateSearchResult:
    """Search the PDB for templates with ``tool``; return the hit file's text.

    ``databases``: for hmmsearch one ``pdb_seqres.txt``; for hhsearch one or more PDB70
    prefixes. ``engine`` chooses, for hmmsearch, HMMER in process (pyhmmer) or the
    hmmbuild/hmmsearch programs (same output). ``binaries`` may name program paths
    (keys ``hhsearch``, ``hmmbuild``, ``hmmsearch``).
    """
    binaries = binaries or {}
    query = template_query(msa_path)
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
        text = hhsearch.search(stockholm_to_a3m(query))
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
