"""The local template database: the PDB's mmCIF folder, its obsolete list and the date
limit (supplement 1.2.3: templates released after ``max_template_date`` are not used).

AlphaFold's ``pdb_mmcif`` layout: ``mmcif_files/*.cif`` and ``obsolete.dat`` beside it,
whose ``OBSLTE`` records map an obsolete entry to the one replacing it (or to none).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from folding.errors import InputError, MissingResourceError


def read_obsolete(path: str | os.PathLike[str]) -> dict[str, str | None]:
    """PDB's ``obsolete.dat``: obsolete id -> replacing id (None when simply removed)."""
    obsolete: dict[str, str | None] = {}
    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not line.startswith("OBSLTE"):
            continue
        # "OBSLTE    31-JUL-94 116L     216L" (replaced) or "OBSLTE    06-NOV-19 6G9Y" (removed)
        if len(line) > 30:
            obsolete[line[20:24].lower()] = line[29:33].lower()
        elif len(line) == 24:
            obsolete[line[20:24].lower()] = None
    return obsolete


@dataclass(frozen=True)
class TemplateDatabase:
    """A local PDB mmCIF folder (``pdb_mmcif/mmcif_files``) and its obsolete list."""

    mmcif_dir: Path
    obsolete: Mapping[str, str | None] = field(default_factory=dict)

    @classmethod
    def open(
        cls, mmcif_dir: str | os.PathLike[str], obsolete_path: str | os.PathLike[str] | None = None
    ) -> TemplateDatabase:
        """Check ``mmcif_dir`` holds ``*.cif`` files; read ``obsolete_path`` when given.

        Without ``obsolete_path``, ``obsolete.dat`` beside ``mmcif_dir`` (AlphaFold's
        ``pdb_mmcif`` layout) is read when it exists.
        """
        folder = Path(mmcif_dir)
        if not folder.is_dir() or next(folder.glob("*.cif"), None) is None:
            raise MissingResourceError(
                f"template mmCIF folder {folder} has no .cif files; give the "
                "pdb_mmcif/mmcif_files folder of the template database"
            )
        if obsolete_path is None and (folder.parent / "obsolete.dat").is_file():
            obsolete_path = folder.parent / "obsolete.dat"
        obsolete = read_obsolete(obsolete_path) if obsolete_path is not None else {}
        return cls(folder, obsolete)


def parse_max_template_date(text: str) -> datetime.date:
    """``YYYY-MM-DD`` -> date; InputError naming the option otherwise."""
    try:
        return datetime.date.fromisoformat(text)
    except ValueError as error:
        raise InputError(
            f"--max-template-date {text!r} is not a date; give it as YYYY-MM-DD"
        ) from error
