"""Kalign: realigns a template hit's sequence to the sequence in the template's mmCIF file.

When the sequence a template search reports (from PDB70 or ``pdb_seqres.txt``) is not an
exact stretch of the chain in the mmCIF file, AlphaFold aligns the two with Kalign and
maps the query through that alignment (supplement 1.2.3). The command is AlphaFold's:
``kalign -i IN.fasta -o OUT.fasta -format fasta``, which Kalign 2 and Kalign 3 (3.3.5 is
Debian's) both accept; Kalign keeps the input order of the sequences in its output.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from folding.data.parsers.fasta import parse_fasta
from folding.data.tools.base import find_binary, run_tool
from folding.errors import ToolError

#: Kalign refuses shorter sequences.
MIN_LENGTH = 6


@dataclass(frozen=True)
class Kalign:
    """The Kalign program at ``binary`` (a resolved path: use :meth:`locate`)."""

    binary: str

    @classmethod
    def locate(cls, path: str | os.PathLike[str] | None = None) -> Kalign:
        """Kalign at ``path``, else on PATH (MissingResourceError when absent)."""
        return cls(find_binary("kalign", path))

    def align(self, sequences: Sequence[str]) -> tuple[str, ...]:
        """The aligned (gapped, ``-``) sequences, in input order.

        Raises ValueError for a sequence shorter than :data:`MIN_LENGTH` and
        :class:`ToolError` when Kalign fails or returns something else than it was given.
        """
        for sequence in sequences:
            if len(sequence) < MIN_LENGTH:
                raise ValueError(
                    f"Kalign needs sequences of at least {MIN_LENGTH} residues, got "
                    f"{sequence!r} ({len(sequence)})"
                )
        with tempfile.TemporaryDirectory(prefix="folding-kalign-") as folder:
            source, target = Path(folder, "input.fasta"), Path(folder, "output.fasta")
            source.write_text(
                "".join(f">sequence {i}\n{s}\n" for i, s in enumerate(sequences, start=1))
            )
            run_tool(
                [self.binary, "-i", source, "-o", target, "-format", "fasta"],
                fix="check that kalign (2 or 3) is installed and working",
            )
            aligned = tuple(record.sequence for record in parse_fasta(target.read_text()))
        if len(aligned) != len(sequences) or len({len(s) for s in aligned}) > 1:
            raise ToolError(
                f"kalign returned {len(aligned)} rows for {len(sequences)} sequences; "
                "check the kalign installation"
            )
        for original, row in zip(sequences, aligned, strict=True):
            if row.replace("-", "") != original:
                raise ToolError("kalign changed or reordered the sequences it was given; "
                                "use kalign 2 or 3")
        return aligned
