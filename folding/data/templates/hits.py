"""Template hits: what a template search found, read from the search tool's output.

Two searches produce template hits, as in AlphaFold (supplement 1.2.3):

* ``hhsearch`` of the query's profile against PDB70 writes an ``.hhr`` file
  (AlphaFold 2.3 names it ``pdb_hits.hhr``, 2.0-2.2 ``pdb70_hits.hhr``). Each hit is a
  pairwise alignment of a stretch of the query with a stretch of the template, with its
  HHsearch probability mass (``Sum_probs``), by which AlphaFold ranks hits.
* ``hmmsearch`` of the query's HMM against ``pdb_seqres.txt`` writes a Stockholm file
  (``pdb_hits.sto``) in which every row is a template stretch aligned to the HMM's match
  states (the query's residues): upper case and ``-`` on match states, lower case on
  insert states. These hits carry no probability and keep hmmsearch's order.

Both become a frozen :class:`TemplateHit` holding the two aligned strings and, for each
aligned column, the 0-based residue index in the query and in the template chain (-1 for
a gap). :func:`query_to_hit_mapping` turns a hit into the query -> template residue map
the featuriser uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from folding.data.parsers.fasta import parse_fasta
from folding.data.parsers.stockholm import stockholm_to_a3m
from folding.errors import InputError

#: A template name starts with the PDB code and the chain: "1abc_A", "7xyz_AAA".
_PDB_CHAIN = re.compile(r"[a-zA-Z\d]{4}_[a-zA-Z0-9.]+")
#: hmmsearch row name and description from pdb_seqres:
#: "4pqx_A/2-217 [subseq from] mol:protein length:217  Free text".
_HMMSEARCH_ROW = re.compile(
    r"^>?([a-z0-9]+)_(\w+)/([0-9]+)-([0-9]+).*protein length:([0-9]+) *(.*)$"
)
#: Per-sequence annotation lines of an .hhr alignment that are not the sequence itself.
_HHR_ANNOTATIONS = ("ss_dssp", "ss_pred", "ss_conf", "Consensus")


@dataclass(frozen=True)
class TemplateHit:
    """One template hit.

    Attributes:
        index: the hit's rank in the search output (1-based).
        name: ``<pdb id>_<chain>`` followed, for hhsearch, by the template's description.
        aligned_cols: the number of aligned (match) columns.
        sum_probs: hhsearch's ``Sum_probs``; None for hmmsearch hits.
        query: the aligned query string (``-`` for gaps); for hmmsearch, the whole query.
        hit_sequence: the aligned template string, upper case (``-`` for gaps).
        indices_query: per column of ``query``, the query residue index or -1.
        indices_hit: per column of ``hit_sequence`` (hmmsearch: per match column), the
            template chain's residue index (0-based, from the chain's start) or -1.
    """

    index: int
    name: str
    aligned_cols: int
    sum_probs: float | None
    query: str
    hit_sequence: str
    indices_query: tuple[int, ...]
    indices_hit: tuple[int, ...]

    @property
    def pdb_id_and_chain(self) -> tuple[str, str]:
        """The hit's PDB id (lower case) and chain id; ValueError if the name has none."""
        match = _PDB_CHAIN.match(self.name)
        if match is None:
            raise ValueError(f"template hit name {self.name!r} does not start with PDBID_chain")
        pdb_id, chain_id = match.group(0).split("_")
        return pdb_id.lower(), chain_id


# ----------------------------------------------------------------------------- hhsearch


def parse_hhr(text: str, source: str = "hhr") -> list[TemplateHit]:
    """The hits of an HH-suite ``.hhr`` file (hhsearch or hhblits), in file order.

    ``source`` names the file in the error raised for a malformed hit section.
    """
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("No ")]
    hits = []
    for begin, end in zip(starts, [*starts[1:], len(lines)][: len(starts)], strict=True):
        try:
            hits.append(_parse_hhr_section(lines[begin:end]))
        except (ValueError, IndexError) as error:
            raise InputError(
                f"{source}: cannot read hit section '{lines[begin].strip()}' ({error}); "
                "regenerate the file with hhsearch"
            ) from error
    return hits


def _parse_hhr_section(lines: Sequence[str]) -> TemplateHit:
    index = int(lines[0].split()[-1])
    name = lines[1][1:] if lines[1].startswith(">") else lines[1]
    summary = dict(
        token.split("=", 1) for token in lines[2].replace("%", "").split() if "=" in token
    )
    aligned_cols = int(float(summary["Aligned_cols"]))
    sum_probs = float(summary["Sum_probs"])

    query: list[str] = []
    hit: list[str] = []
    indices_query: list[int] = []
    indices_hit: list[int] = []
    block_width = None
    for line in lines[3:]:
        if not line.startswith(("Q ", "T ")) or line.split()[1] in _HHR_ANNOTATIONS:
            continue
        start, segment, end = _hhr_alignment_line(line)
        if line.startswith("Q "):
            if end - start + segment.count("-") != len(segment):
                raise ValueError(f"query residues {start + 1}-{end} do not fit '{segment}'")
            block_width = len(segment)
            query.append(segment)
            indices_query.extend(_residue_indices(segment, start))
        else:
            if len(segment) != block_width:
                raise ValueError("a template line does not match its query line")
            hit.append(segment)
            indices_hit.extend(_residue_indices(segment, start))
    return TemplateHit(
        index=index,
        name=name,
        aligned_cols=aligned_cols,
        sum_probs=sum_probs,
        query="".join(query),
        hit_sequence="".join(hit),
        indices_query=tuple(indices_query),
        indices_hit=tuple(indices_hit),
    )


def _hhr_alignment_line(line: str) -> tuple[int, str, int]:
    """``Q name   12 ACDE-FG   18 (73)`` -> (11, "ACDE-FG", 18): 0-based start, string, end."""
    fields = line.split()
    if len(fields) != 6 or not re.fullmatch(r"[A-Z-]+", fields[3]):
        raise ValueError(f"unexpected alignment line '{line.strip()}'")
    return int(fields[2]) - 1, fields[3], int(fields[4])


def _residue_indices(segment: str, start: int) -> list[int]:
    """Residue index per column of an aligned string without insert states (-1 on gaps)."""
    indices = []
    for symbol in segment:
        if symbol == "-":
            indices.append(-1)
        else:
            indices.append(start)
            start += 1
    return indices


# ---------------------------------------------------------------------------- hmmsearch


def parse_hmmsearch_sto(text: str, query_sequence: str) -> list[TemplateHit]:
    """The hits of an ``hmmsearch -A`` Stockholm file against ``pdb_seqres.txt``.

    Rows keep hmmsearch's order. Rows that are not protein chains (``mol:na``) are left
    out but still count in :attr:`TemplateHit.index`, as in AlphaFold.
    """
    a3m = stockholm_to_a3m(text, remove_first_row_gaps=False)
    return parse_hmmsearch_a3m(a3m, query_sequence, skip_first=False)


def parse_hmmsearch_a3m(
    text: str, query_sequence: str, skip_first: bool = True
) -> list[TemplateHit]:
    """The hits of hmmsearch output already converted to A3M (the query row first).

    ``skip_first`` drops the first record (the query, when the file has it).
    """
    rows = [(record.description, record.sequence) for record in parse_fasta(text)]
    return _hits_from_a3m_rows(rows[1:] if skip_first else rows, query_sequence)


def _hits_from_a3m_rows(
    rows: Iterable[tuple[str, str]], query_sequence: str
) -> list[TemplateHit]:
    indices_query = tuple(_a3m_indices(query_sequence, 0))
    hits = []
    for index, (description, row) in enumerate(rows, start=1):
        if "mol:protein" not in description:
            continue
        match = _HMMSEARCH_ROW.match(description.strip())
        if match is None:
            raise InputError(
                f"hmmsearch hit '{description.strip()}' is not named as in pdb_seqres.txt "
                "(1abc_A/START-END ... mol:protein length:N); search pdb_seqres.txt again"
            )
        pdb_id, chain, start = match[1], match[2], int(match[3])
        hits.append(TemplateHit(
            index=index,
            name=f"{pdb_id}_{chain}",
            aligned_cols=sum(symbol.isupper() for symbol in row),
            sum_probs=None,
            query=query_sequence,
            hit_sequence=row.upper(),
            indices_query=indices_query,
            indices_hit=tuple(_a3m_indices(row, start - 1)),
        ))
    return hits


def _a3m_indices(row: str, start: int) -> list[int]:
    """Residue index per match column of an A3M row (insert states, lower case, skipped)."""
    indices = []
    for symbol in row:
        if symbol == "-":
            indices.append(-1)
        elif symbol.islower():
            start += 1
        else:
            indices.append(start)
            start += 1
    return indices


# ------------------------------------------------------------------------------ mapping


def query_to_hit_mapping(hit: TemplateHit, query_sequence: str) -> dict[int, int]:
    """Query residue index -> index into the hit's gap-free template string.

    The hit's indices are shifted so that its first aligned template residue is 0 (the
    template string starts there), and the query indices are placed where the hit's
    query stretch occurs in ``query_sequence``.
    """
    hit_aligned = [i for i in hit.indices_hit if i > -1]
    query_aligned = [i for i in hit.indices_query if i > -1]
    if not hit.query or not hit_aligned or not query_aligned:
        return {}
    query_stretch = hit.query.replace("-", "")
    template_length = len(hit.hit_sequence.replace("-", ""))
    offset = query_sequence.find(query_stretch)
    hit_first, query_first = min(hit_aligned), min(query_aligned)
    mapping = {}
    for q, t in zip(hit.indices_query, hit.indices_hit, strict=False):
        if q == -1 or t == -1:
            continue
        q, t = q - query_first + offset, t - hit_first
        if t < template_length and q < len(query_sequence):
            mapping[q] = t
    return mapping
