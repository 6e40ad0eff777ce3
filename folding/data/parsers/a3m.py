"""A3M alignments (hhblits ``-oa3m``, MMseqs2 ``result2msa``, ColabFold MSA servers).

In A3M the first record is the query; upper-case letters and ``-`` are aligned to the
query's columns; lower-case letters are insertions, counted in the deletion matrix on the
next query column (AlphaFold's convention, supplement 1.2.3). ``.`` (an optional gap in
insert columns) is ignored.

ColabFold-style files may hold the alignments of several queries, each ending in a NUL
byte and starting with the query's numeric id (``>101``, ``>102``, ...):
:func:`split_a3m_queries` separates them; :func:`parse_a3m` accepts a file holding one.
"""

from __future__ import annotations

import numpy as np

from folding.data.parsers.fasta import parse_fasta
from folding.data.parsers.msa import Msa
from folding.errors import InputError


def split_a3m_queries(text: str) -> list[str]:
    """The A3M texts of each query in a ColabFold-style file (NUL-separated), in order.

    Blank pieces (a trailing NUL) are dropped; a file without NUL bytes is one piece.
    """
    pieces = [piece for piece in text.split("\x00") if piece.strip()]
    return pieces or [text]


def parse_a3m(text: str, source: str = "A3M text") -> Msa:
    """The :class:`Msa` of an A3M alignment whose first record is the query.

    ``source`` names the file in error messages. A trailing NUL byte (as ColabFold servers
    write) is accepted; a file with several queries' alignments is refused (split it with
    :func:`split_a3m_queries` first).
    """
    pieces = split_a3m_queries(text)
    if len(pieces) > 1:
        raise InputError(
            f"{source} holds the alignments of {len(pieces)} queries (NUL-separated); "
            "split it into one file per query"
        )
    records = parse_fasta(pieces[0])
    if not records:
        raise InputError(f"{source}: no sequences found; the alignment file is empty")
    descriptions = tuple(record.description for record in records)
    rows = [record.sequence.replace(".", "") for record in records]
    try:
        data = np.frombuffer(("\n".join(rows) + "\n").encode("ascii"), dtype=np.uint8)
    except UnicodeEncodeError as error:
        raise InputError(
            f"{source}: non-ASCII character in the alignment; regenerate it"
        ) from error
    lower = (data >= ord("a")) & (data <= ord("z"))
    positions = np.flatnonzero(~lower)  # aligned letters, gaps and each row's closing newline
    # insertions seen before each aligned position, since the previous one
    counts = np.diff(np.cumsum(lower, dtype=np.int64)[positions], prepend=0).astype(np.int32)
    row_ends = data[positions] == ord("\n")
    ends = np.flatnonzero(row_ends)
    widths = np.diff(ends, prepend=-1) - 1
    query_width = int(widths[0])
    bad = np.flatnonzero(widths != query_width)
    if bad.size:
        row = int(bad[0])
        raise InputError(
            f"{source}: record '{descriptions[row].split()[0] if descriptions[row] else row}' "
            f"has {int(widths[row])} aligned columns but the query has {query_width}; "
            "the alignment is malformed, regenerate it"
        )
    deletions = counts[~row_ends].reshape(len(rows), query_width)
    aligned = data[positions][~row_ends].tobytes().decode("ascii")
    sequences = tuple(aligned[i * query_width : (i + 1) * query_width] for i in range(len(rows)))
    return Msa(sequences, deletions, descriptions)
