"""FASTA and A3M records, read the way AlphaFold reads them.

A record starts at a line beginning with ``>``; its description is the rest of that line;
its sequence is every following non-blank line, stripped and concatenated. Text before the
first header is ignored. This reader does not judge letters: user inputs are checked by
:mod:`folding.inputs`, alignment rows by the alignment parsers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FastaRecord:
    """One record: the header line without ``>``, and the sequence."""

    description: str
    sequence: str

    @property
    def name(self) -> str:
        """The first word of the description (``""`` when the header is blank)."""
        words = self.description.split()
        return words[0] if words else ""


def parse_fasta(text: str) -> list[FastaRecord]:
    """The records of a FASTA (or A3M) text, in file order."""
    records: list[FastaRecord] = []
    description: str | None = None
    chunks: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(">"):
            if description is not None:
                records.append(FastaRecord(description, "".join(chunks)))
            description, chunks = line[1:], []
        elif line and description is not None:
            chunks.append(line)
    if description is not None:
        records.append(FastaRecord(description, "".join(chunks)))
    return records


def format_fasta(records: list[FastaRecord] | tuple[FastaRecord, ...], width: int = 0) -> str:
    """FASTA text for ``records``; ``width`` > 0 wraps sequences at that many letters."""
    lines: list[str] = []
    for record in records:
        lines.append(f">{record.description}")
        if width > 0:
            seq = record.sequence
            lines.extend(seq[i : i + width] for i in range(0, max(len(seq), 1), width))
        else:
            lines.append(record.sequence)
    return "\n".join(lines) + "\n" if lines else ""
