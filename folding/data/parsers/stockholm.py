"""Stockholm alignments (jackhmmer's ``-A`` output): parsing, truncation, conversion to A3M.

Everything here reads and writes what AlphaFold's data pipeline reads and writes, so that
AlphaFold's precomputed ``uniref90_hits.sto`` / ``mgnify_hits.sto`` / ``small_bfd_hits.sto``
work with us and ours with AlphaFold:

* :func:`parse_stockholm` -> :class:`~folding.data.parsers.msa.Msa`: the first row is the
  query; columns where the query has a gap are removed and each row's residues in them
  are counted in the deletion matrix on the next query column (supplement 1.2.3).
* :func:`truncate_stockholm` keeps the first N sequences of a file without reading the
  rest into memory, with the same line filter AlphaFold applies before it writes
  ``uniref90_hits.sto`` (max 10,000) and ``mgnify_hits.sto`` (max 501).
* :func:`stockholm_to_a3m`, :func:`deduplicate_stockholm` and
  :func:`remove_empty_columns` prepare the UniRef90 alignment for template search.

One deliberate difference: AlphaFold treats only ``-`` as a gap; we also treat ``.``
(Stockholm's gap in insert columns in text-mode files) as a gap. HMMER's jackhmmer writes
only ``-``, so results are identical on every file it produces.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from folding.data.parsers.msa import Msa
from folding.errors import InputError

_GAPS = b"-."
_ROW_CHUNK = 2048  # rows processed at once (bounds memory on 10,000-row alignments)


def _is_alignment_line(line: str) -> bool:
    """A sequence line: not blank, not markup (``#...``), not the terminator (``//``)."""
    return bool(line.strip()) and not line.startswith(("#", "//"))


def stockholm_rows(text: str, source: str = "Stockholm text") -> dict[str, str]:
    """Each sequence name -> its whole aligned row (blocks concatenated), in file order."""
    rows: dict[str, list[str]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", "//")):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise InputError(
                f"{source} line {number}: expected '<name> <aligned sequence>', got "
                f"{len(parts)} fields; the file is not a valid Stockholm alignment"
            )
        rows.setdefault(parts[0], []).append(parts[1])
    return {name: "".join(chunks) for name, chunks in rows.items()}


def _as_matrix(rows: list[str], names: list[str], source: str) -> np.ndarray:
    width = len(rows[0])
    for name, row in zip(names, rows, strict=True):
        if len(row) != width:
            raise InputError(
                f"{source}: row '{name}' is {len(row)} columns long but the query row is "
                f"{width}; the alignment is truncated or malformed, regenerate it"
            )
    try:
        data = "".join(rows).encode("ascii")
    except UnicodeEncodeError as error:
        raise InputError(
            f"{source}: non-ASCII character in the alignment; regenerate it"
        ) from error
    return np.frombuffer(data, dtype=np.uint8).reshape(len(rows), width)


def _gap_mask(matrix: np.ndarray) -> np.ndarray:
    return np.isin(matrix, np.frombuffer(_GAPS, dtype=np.uint8))


def parse_stockholm(text: str, source: str = "Stockholm text") -> Msa:
    """The :class:`Msa` of a Stockholm alignment whose first sequence is the query.

    ``source`` names the file in error messages.
    """
    rows_by_name = stockholm_rows(text, source)
    if not rows_by_name:
        raise InputError(f"{source}: no aligned sequences found; the search output is empty")
    names = list(rows_by_name)
    rows = list(rows_by_name.values())
    for name, row in zip(names, rows, strict=True):
        if len(row) != len(rows[0]):
            raise InputError(
                f"{source}: row '{name}' is {len(row)} columns long but the query row is "
                f"{len(rows[0])}; the alignment is truncated or malformed, regenerate it"
            )
    query_gap = _gap_mask(_as_matrix(rows[:1], names[:1], source))[0]
    kept = np.flatnonzero(~query_gap)
    sequences: list[str] = []
    deletion_blocks: list[np.ndarray] = []
    for start in range(0, len(rows), _ROW_CHUNK):
        stop = start + _ROW_CHUNK
        block = _as_matrix(rows[start:stop], names[start:stop], source)
        gap = _gap_mask(block)
        aligned = block[:, kept].copy()
        aligned[gap[:, kept]] = ord("-")
        flat = aligned.tobytes().decode("ascii")
        width = len(kept)
        sequences.extend(flat[i * width : (i + 1) * width] for i in range(len(block)))
        inserted = (~gap) & query_gap[None, :]
        running = np.cumsum(inserted, axis=1, dtype=np.int32)
        deletion_blocks.append(np.diff(running[:, kept], axis=1, prepend=0).astype(np.int32))
    return Msa(tuple(sequences), np.concatenate(deletion_blocks), tuple(names))


def _keep_line(line: str, names: set[str]) -> bool:
    """AlphaFold's truncation filter: structure, RF and the kept sequences' GS/rows only."""
    stripped = line.strip()
    if not stripped or stripped == "//":
        return True
    if line.startswith(("# STOCKHOLM", "#=GC RF")):
        return True
    if line.startswith("#=GS"):
        fields = line.split(maxsplit=2)
        return len(fields) > 1 and fields[1] in names
    if line.startswith("#"):
        return False
    return line.partition(" ")[0] in names


def _first_names(lines: Iterable[str], max_sequences: int) -> set[str]:
    names: set[str] = set()
    for line in lines:
        if _is_alignment_line(line):
            names.add(line.partition(" ")[0])
            if len(names) >= max_sequences:
                break
    return names


def truncate_stockholm(path: str | os.PathLike[str], max_sequences: int | None) -> str:
    """The Stockholm text of ``path`` limited to its first ``max_sequences`` sequences.

    The query counts as one. Like AlphaFold, this drops markup other than ``#=GC RF`` and
    the kept sequences' ``#=GS`` lines; with ``max_sequences=None`` the file is returned
    unchanged. The file is streamed twice, never held whole in memory.
    """
    source = Path(path)
    if max_sequences is None:
        return source.read_text()
    if max_sequences < 1:
        raise ValueError("max_sequences must be at least 1")
    with open(source) as handle:
        names = _first_names(handle, max_sequences)
        handle.seek(0)
        return "".join(line for line in handle if _keep_line(line, names))


def truncate_stockholm_text(text: str, max_sequences: int) -> str:
    """:func:`truncate_stockholm` for text already in memory."""
    lines = text.splitlines(keepends=True)
    names = _first_names(lines, max_sequences)
    return "".join(line for line in lines if _keep_line(line, names))


def stockholm_descriptions(text: str) -> dict[str, str]:
    """Sequence name -> its ``#=GS <name> DE <text>`` description."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#=GS"):
            fields = line.split(maxsplit=3)
            if len(fields) >= 3 and fields[2] == "DE":
                found.setdefault(fields[1], fields[3] if len(fields) == 4 else "")
    return found


def stockholm_to_a3m(
    text: str, max_sequences: int | None = None, remove_first_row_gaps: bool = True
) -> str:
    """A3M text for a Stockholm alignment (AlphaFold's conversion for template search).

    Each record is ``>name description``; in columns where the query has a gap, residues
    become lower case (insertions) and gaps are dropped. ``max_sequences`` keeps only the
    first N sequences. With ``remove_first_row_gaps=False`` only ``.`` are removed.
    """
    rows = stockholm_rows(text)
    if max_sequences:
        rows = dict(list(rows.items())[:max_sequences])
    if not rows:
        return "\n"
    descriptions = stockholm_descriptions(text)
    names = list(rows)
    converted: list[str] = []
    if remove_first_row_gaps:
        matrix = _as_matrix(list(rows.values()), names, "Stockholm text")
        gap = _gap_mask(matrix)
        insert_cols = gap[0]
        out = matrix.copy()
        out[gap] = ord("-")
        upper = (out >= ord("A")) & (out <= ord("Z"))
        out[upper & insert_cols[None, :]] += 32  # to lower case
        emit = ~(gap & insert_cols[None, :])
        converted = [out[i][emit[i]].tobytes().decode("ascii") for i in range(len(names))]
    else:
        converted = [row.replace(".", "") for row in rows.values()]
    records = (f">{name} {descriptions.get(name, '')}\n{seq}" for name, seq in
               zip(names, converted, strict=True))
    return "\n".join(records) + "\n"


def deduplicate_stockholm(text: str) -> str:
    """The Stockholm text without rows identical, on the query's columns, to an earlier row.

    Lines are filtered as :func:`truncate_stockholm` filters them (AlphaFold runs this on
    the UniRef90 alignment before template search).
    """
    rows = stockholm_rows(text)
    if not rows:
        return text
    query = next(iter(rows.values()))
    kept_cols = [i for i, c in enumerate(query) if c != "-"]
    seen: set[str] = set()
    names: set[str] = set()
    for name, row in rows.items():
        key = "".join(row[i] for i in kept_cols) if len(row) == len(query) else row
        if key not in seen:
            seen.add(key)
            names.add(name)
    return "\n".join(line for line in text.splitlines() if _keep_line(line, names)) + "\n"


def remove_empty_columns(text: str) -> str:
    """The Stockholm text without columns that are gaps in every sequence.

    Works block by block (a block of sequence lines ends at its ``#=GC RF`` line, as in
    HMMER's output), and removes the same columns from the RF line; a block whose columns
    are all empty becomes blank lines. Other lines are kept as they are.
    """
    lines = text.splitlines()
    out = list(lines)
    pending: list[int] = []
    for index, line in enumerate(lines):
        if line.startswith("#=GC RF"):
            block = [*pending, index]
            heads, columns = zip(*(lines[i].rpartition(" ")[::2] for i in block), strict=True)
            width = len(columns[-1])
            data = [c.ljust(width, "-")[:width] for c in columns[:-1]]
            if data:
                matrix = np.frombuffer("".join(data).encode("ascii"), dtype=np.uint8)
                used = (matrix.reshape(len(data), width) != ord("-")).any(axis=0)
            else:
                used = np.zeros(width, dtype=bool)
            keep = np.flatnonzero(used)
            for i, head, column in zip(block, heads, columns, strict=True):
                out[i] = f"{head} {''.join(column[k] for k in keep)}" if keep.size else ""
            pending = []
        elif _is_alignment_line(line):
            pending.append(index)
    return "\n".join(out)
