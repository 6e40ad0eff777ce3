"""HHsearch: the query's profile against PDB70, AlphaFold's monomer template search.

AlphaFold (supplement 1.2.3) converts the UniRef90 alignment to A3M and runs
``hhsearch -i query.a3m -o output.hhr -maxseq 1000000 -d PDB70_PREFIX``; the ``.hhr`` text
is what it stores as ``pdb_hits.hhr``. A database is given by its prefix: the ffindex
files ``PREFIX_a3m.ffdata``/``.ffindex`` (and ``_hhm``, ``_cs219``) sit beside it.
"""

from __future__ import annotations

import glob
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from folding.data.tools.base import find_binary, run_tool
from folding.errors import MissingResourceError

#: AlphaFold's limit on the rows of the query alignment.
MAX_SEQUENCES = 1_000_000


@dataclass(frozen=True)
class HHsearch:
    """hhsearch at ``binary`` against the databases given by their prefixes."""

    binary: str
    databases: tuple[str, ...]
    max_sequences: int = MAX_SEQUENCES
    cpus: int = 2

    @classmethod
    def locate(
        cls,
        databases: Sequence[str | os.PathLike[str]],
        binary: str | os.PathLike[str] | None = None,
        cpus: int = 2,
    ) -> HHsearch:
        """hhsearch (``binary`` or on PATH) against ``databases``; checks both exist."""
        prefixes = tuple(str(database) for database in databases)
        if not prefixes:
            raise MissingResourceError("hhsearch needs a database; pass --database PDB70_PREFIX")
        for prefix in prefixes:
            if not glob.glob(glob.escape(prefix) + "_*"):
                raise MissingResourceError(
                    f"HH-suite database {prefix} not found (no {prefix}_a3m.ffdata or "
                    "similar); give the database prefix, e.g. .../pdb70/pdb70"
                )
        return cls(find_binary("hhsearch", binary), prefixes, cpus=cpus)

    def search(self, a3m: str) -> str:
        """The ``.hhr`` text of a search with the query alignment ``a3m``."""
        with tempfile.TemporaryDirectory(prefix="folding-hhsearch-") as folder:
            query, output = Path(folder, "query.a3m"), Path(folder, "output.hhr")
            query.write_text(a3m)
            argv: list[str | Path] = [
                self.binary, "-i", query, "-o", output, "-maxseq", str(self.max_sequences),
                "-cpu", str(self.cpus),
            ]
            for database in self.databases:
                argv += ["-d", database]
            run_tool(argv, fix="check the query alignment and the PDB70 database")
            return output.read_text()
