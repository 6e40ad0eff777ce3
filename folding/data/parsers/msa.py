"""The multiple sequence alignment as the rest of the pipeline sees it.

An :class:`Msa` is what every alignment file (Stockholm from jackhmmer, A3M from hhblits,
MMseqs2 or a ColabFold server) becomes once parsed, in AlphaFold's convention
(supplement 1.2.2-1.2.3): each row keeps only the query's columns (the query is row 0 and
has no gaps), so every row has the query's length; residues a hit has between two query
columns are dropped from the row and counted instead in ``deletion_matrix``, the count
sitting on the query column that follows them (insertions after the last query column are
not counted). The raw features' ``msa`` and ``deletion_matrix_int`` come from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from folding.errors import InputError


@dataclass(frozen=True, eq=False)
class Msa:
    """Aligned rows (query first), their deletion counts and their descriptions.

    Attributes:
        sequences: one string per row, each ``num_res`` long: upper-case residues and
            ``-`` for a gap (rows are kept as the file has them: duplicates included).
        deletion_matrix: int32 array ``[num_rows, num_res]``; entry ``(i, j)`` is the number
            of residues row ``i`` has inserted just before query column ``j``. Read-only.
        descriptions: one per row; for Stockholm the sequence name (e.g.
            ``UniRef90_Q9H5Z4/4-78``), for A3M the whole header line after ``>``.
    """

    sequences: tuple[str, ...]
    deletion_matrix: np.ndarray
    descriptions: tuple[str, ...]

    def __post_init__(self) -> None:
        sequences = tuple(self.sequences)
        descriptions = tuple(self.descriptions)
        deletions = np.asarray(self.deletion_matrix, dtype=np.int32)
        if deletions.size == 0 and len(sequences) == 0:
            deletions = deletions.reshape(0, 0)
        if not len(sequences) == len(descriptions) == deletions.shape[0]:
            raise ValueError(
                f"an Msa needs one description and one deletion row per sequence: got "
                f"{len(sequences)} sequences, {len(descriptions)} descriptions and "
                f"{deletions.shape[0]} deletion rows"
            )
        width = len(sequences[0]) if sequences else 0
        for sequence, description in zip(sequences, descriptions, strict=True):
            if len(sequence) != width:
                raise InputError(
                    f"alignment row '{description}' has {len(sequence)} aligned columns but "
                    f"the query has {width}; the alignment file is malformed, regenerate it"
                )
        if deletions.ndim != 2 or deletions.shape[1] != width:
            raise ValueError(f"deletion matrix {deletions.shape} does not fit {width} columns")
        deletions.setflags(write=False)
        object.__setattr__(self, "sequences", sequences)
        object.__setattr__(self, "descriptions", descriptions)
        object.__setattr__(self, "deletion_matrix", deletions)

    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def num_res(self) -> int:
        """The number of query columns (the query's length)."""
        return len(self.sequences[0]) if self.sequences else 0

    @property
    def query(self) -> str:
        """Row 0, the query."""
        return self.sequences[0]

    def truncate(self, max_rows: int) -> Msa:
        """The first ``max_rows`` rows (query included)."""
        return Msa(
            self.sequences[:max_rows], self.deletion_matrix[:max_rows], self.descriptions[:max_rows]
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Msa):
            return NotImplemented
        return (
            self.sequences == other.sequences
            and self.descriptions == other.descriptions
            and np.array_equal(self.deletion_matrix, other.deletion_matrix)
        )

    __hash__ = None  # type: ignore[assignment]


# UniProt entry names as UniRef/UniProt/BFD descriptions carry them:
# "tr|A0A146SKV9|A0A146SKV9_FUNHE" or "sp|P0C2L1|A3X1_LOXLA", optionally with an isoform
# suffix on the accession and, in small BFD, a trailing "_<number>".
_UNIPROT_ENTRY = re.compile(
    r"^(?:tr|sp)\|[A-Za-z0-9]{6,10}(?:_\d)?\|[A-Za-z0-9]+_(?P<species>[A-Za-z0-9]{1,5})(?:_\d+)?$"
)


def species_identifier(description: str) -> str:
    """The UniProt species mnemonic of an MSA row (``"FUNHE"``), or ``""`` when there is none.

    The first word of the description, cut at ``/`` (jackhmmer's sub-sequence range), must
    be a UniProt ``db|accession|ENTRY_SPECIES`` name; this is how AlphaFold fills
    ``msa_species_identifiers`` (used to pair rows between chains in multimers).
    """
    words = description.split()
    if not words:
        return ""
    match = _UNIPROT_ENTRY.match(words[0].partition("/")[0])
    return match.group("species") if match else ""
