"""Alignment and sequence file parsers, in AlphaFold's conventions.

* :mod:`~folding.data.parsers.msa`: the :class:`Msa` type (rows, deletion matrix,
  descriptions) and species identifiers;
* :mod:`~folding.data.parsers.fasta`: FASTA/A3M records;
* :mod:`~folding.data.parsers.stockholm`: Stockholm parsing, truncation, conversion;
* :mod:`~folding.data.parsers.a3m`: A3M parsing, ColabFold multi-query files;
* :mod:`~folding.data.parsers.read`: :func:`read_msa` by file name.
"""

from folding.data.parsers.a3m import parse_a3m, split_a3m_queries
from folding.data.parsers.fasta import FastaRecord, format_fasta, parse_fasta
from folding.data.parsers.msa import Msa, species_identifier
from folding.data.parsers.read import MAX_HITS, read_msa
from folding.data.parsers.stockholm import (
    deduplicate_stockholm,
    parse_stockholm,
    remove_empty_columns,
    stockholm_descriptions,
    stockholm_rows,
    stockholm_to_a3m,
    truncate_stockholm,
    truncate_stockholm_text,
)

__all__ = [
    "MAX_HITS",
    "FastaRecord",
    "Msa",
    "deduplicate_stockholm",
    "format_fasta",
    "parse_a3m",
    "parse_fasta",
    "parse_stockholm",
    "read_msa",
    "remove_empty_columns",
    "species_identifier",
    "split_a3m_queries",
    "stockholm_descriptions",
    "stockholm_rows",
    "stockholm_to_a3m",
    "truncate_stockholm",
    "truncate_stockholm_text",
]
