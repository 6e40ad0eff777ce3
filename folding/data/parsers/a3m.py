"""A3M alignments (hhblits ``-oa3m``, MMseqs2 ``result2msa``, ColabFold MSA servers).

In A3M the first record is the query; upper-case letters and ``-`` are aligned to the
query's columns; lower-case letters are insertions, counted in the deletion matrix on the
next query column (AlphaFold's convention, supplement 1.2.3). ``.`` (an optional gap in
insert columns) is ignored.

ColabFold-style files may hold the alignments of several queries, each ending in a NUL
byte and starting with the query's numeric id (``>101``, ``>102``, ...):
:func:`split_a3m_queries` separates them; :func:`parse_a3m` accepts a file holding one.

Two conversions serve ColabFold-style inputs (``uniref.a3m`` and the environmental
``bfd.mgnify30.metaeuk30.smag30.a3m``):

* :func:`concatenate_a3m` joins the A3Ms of one query the way ColabFold does before it
  builds features or searches templates (``run_mmseqs2`` gathers the lines of each file in
  turn and drops the NUL bytes): the second file's query record stays in, as a row.
* :func:`a3m_to_stockholm` turns an A3M into a Stockholm alignment with a ``#=GC RF``
  line (``x`` on the query's columns, ``.`` on insert columns), what ``hmmbuild --hand``
  needs to build the template-search HMM from an A3M MSA.
"""

from __future__ import annotations

from collections.abc import Sequence

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


def concatenate_a3m(texts: Sequence[str]) -> str:
    """One A3M text from several A3Ms of the same query, ColabFold's way.

    NUL bytes are removed and the texts are joined in order (a newline is added where a
    text does not end with one); the first text's query stays the first record, and each
    later text's query record becomes an ordinary row. Text before a file's first
    ``>`` header (ColabFold's ``#<lengths>\t<cardinalities>`` line) is dropped.
    """
    pieces = []
    for text in texts:
        text = text.replace("\x00", "")
        start = text.find(">")
        if start < 0:
            continue
        text = text[start:]
        pieces.append(text if text.endswith("\n") else text + "\n")
    return "".join(pieces)


def a3m_to_stockholm(text: str, max_sequences: int | None = None,
                     source: str = "A3M text") -> str:
    """A Stockholm alignment of an A3M (first record: the query), with a ``#=GC RF`` line.

    Insertions (lower case) are expanded into insert columns, each as wide as the longest
    insertion any row has at that place, left-aligned and padded with ``-``; the RF line
    marks the query's columns ``x`` and the insert columns ``.``, so ``hmmbuild --hand``
    makes one match state per query residue. Rows are named by the first word of their
    description (``name_<row>`` where a name repeats); ``#=GS <name> DE`` lines keep the
    rest. ``max_sequences`` keeps the first N records.
    """
    records = parse_fasta(text.replace("\x00", ""))[:max_sequences]
    if not records:
        raise InputError(f"{source}: no sequences found; the alignment file is empty")
    split_rows = [_split_insertions(record.sequence.replace(".", "")) for record in records]
    width = len(split_rows[0][1])
    for record, (_, matches) in zip(records, split_rows, strict=True):
        if len(matches) != width:
            raise InputError(
                f"{source}: record '{record.name}' has {len(matches)} aligned columns but "
                f"the query has {width}; the alignment is malformed, regenerate it"
            )
    slots = np.zeros(width + 1, dtype=np.int64)
    for inserts, _ in split_rows:
        slots = np.maximum(slots, [len(piece) for piece in inserts])
    rf = "".join("." * int(slots[j]) + ("x" if j < width else "") for j in range(width + 1))
    names: list[str] = []
    seen: set[str] = set()
    for index, record in enumerate(records):
        name = record.name or f"row{index}"
        if name in seen:
            name = f"{name}_{index}"
        seen.add(name)
        names.append(name)
    pad = max(len(name) for name in [*names, "#=GC RF"]) + 1
    lines = ["# STOCKHOLM 1.0", ""]
    for name, record in zip(names, records, strict=True):
        rest = record.description.split(maxsplit=1)[1:]
        lines.append(f"#=GS {name} DE {' '.join(rest[0].split()) if rest else ''}".rstrip())
    lines.append("")
    for name, (inserts, matches) in zip(names, split_rows, strict=True):
        row = "".join(inserts[j].ljust(int(slots[j]), "-") + (matches[j] if j < width else "")
                      for j in range(width + 1))
        lines.append(f"{name.ljust(pad)}{row}")
    lines.append(f"{'#=GC RF'.ljust(pad)}{rf}")
    lines.append("//")
    return "\n".join(lines) + "\n"


def _split_insertions(row: str) -> tuple[list[str], str]:
    """(insertion before each query column and after the last one, the aligned columns)."""
    inserts: list[str] = []
    matches: list[str] = []
    current: list[str] = []
    for symbol in row:
        if symbol.islower():
            current.append(symbol)
        else:
            inserts.append("".join(current))
            matches.append(symbol)
            current = []
    inserts.append("".join(current))
    return inserts, "".join(matches)
