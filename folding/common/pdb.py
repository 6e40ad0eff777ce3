"""PDB format: write a :class:`~folding.common.protein.Protein` and read one back.

Written files hold REMARK lines (e.g. ``REMARK 250 UNTRAINED PARAMETERS ...``), one ATOM
record per present atom with the B-factor column (the per-residue pLDDT for
predictions), a TER record closing each chain, and END. The column layout follows the
wwPDB format v3.3 (ATOM, TER and REMARK records); Biopython and gemmi read it without
warnings. Reading goes through gemmi.
"""

from __future__ import annotations

import gzip
import os
import re
import textwrap
from collections.abc import Sequence
from pathlib import Path

import gemmi
import numpy as np

from folding.common.atoms import ATOM37_NAMES
from folding.common.protein import (
    Protein,
    from_gemmi_structure,
    normalize_remark,
)
from folding.errors import InputError

_LINE_WIDTH = 80
_REMARK_NUMBER = re.compile(r"^(\d{1,3})(?:\s|$)(.*)$")


def remark_lines(remark: str) -> list[str]:
    """``REMARK NNN text`` lines for one remark, wrapped to 80 columns."""
    match = _REMARK_NUMBER.match(remark)
    number, text = (match.group(1), match.group(2)) if match else ("", remark)
    prefix = f"REMARK {number:>3} " if number else "REMARK "
    if len(prefix) + len(text) <= _LINE_WIDTH:
        return [(prefix + text).rstrip()]
    return [prefix + chunk for chunk in textwrap.wrap(text, _LINE_WIDTH - len(prefix))]


def _atom_name_field(name: str) -> str:
    # Columns 13-16: names of one-letter elements start in column 14.
    return name if len(name) == 4 else f" {name:<3}"


def to_pdb(protein: Protein, remarks: Sequence[str] = ()) -> str:
    """The protein as PDB text.

    ``remarks`` are written after the protein's own remarks (duplicates once), each as
    ``REMARK NNN text`` when it starts with a number, e.g. ``"250 UNTRAINED PARAMETERS"``
    or ``"REMARK 250 UNTRAINED PARAMETERS"``. Chains are written in chain-index order of
    their first residue, each closed by TER; the file ends with END.
    """
    all_remarks = list(protein.remarks)
    for remark in map(normalize_remark, remarks):
        if remark not in all_remarks:
            all_remarks.append(remark)
    chain_names = [protein.chain_id(i) for i in range(protein.num_chains)]
    for name in chain_names:
        if len(name) != 1:
            raise ValueError(f"chain id {name!r} does not fit the PDB format (one character)")
    residue_names = protein.residue_names()
    positions = protein.atom_positions
    mask = protein.atom_mask > 0.5
    b_factors = protein.b_factors
    numbers = protein.residue_index
    if len(numbers) and (numbers.min() < -999 or numbers.max() > 9999):
        raise ValueError("residue numbers must lie in -999..9999 for the PDB format")

    lines = [line for remark in all_remarks for line in remark_lines(remark)]
    serial = 1
    length = protein.num_residues
    for i in range(length):
        chain = chain_names[protein.chain_index[i]]
        for slot in np.flatnonzero(mask[i]):
            name = ATOM37_NAMES[slot]
            x, y, z = positions[i, slot]
            lines.append(
                f"ATOM  {serial % 100000:>5} {_atom_name_field(name)} {residue_names[i]:>3} "
                f"{chain}{numbers[i]:>4}    {x:>8.3f}{y:>8.3f}{z:>8.3f}"
                f"{1.0:>6.2f}{b_factors[i, slot]:>6.2f}          {name[0]:>2}  "
            )
            serial += 1
        last_of_chain = i + 1 == length or protein.chain_index[i + 1] != protein.chain_index[i]
        if last_of_chain:
            lines.append(
                f"TER   {serial % 100000:>5}      {residue_names[i]:>3} {chain}{numbers[i]:>4}"
            )
            serial += 1
    lines.append("END")
    return "\n".join(line.ljust(_LINE_WIDTH) for line in lines) + "\n"


def _read_text(source: str | os.PathLike[str]) -> tuple[str, str]:
    """(text, name for messages) of a path or of PDB text itself."""
    if isinstance(source, os.PathLike) or ("\n" not in source and len(source) < 4096):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"{path}: no such PDB file; check the path")
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        return raw.decode("utf-8", errors="replace"), str(path)
    return source, "PDB text"


def read_remarks(text: str) -> tuple[str, ...]:
    """The REMARK records of PDB text, each as ``"NNN text"``, in file order."""
    found = []
    for line in text.splitlines():
        if line.startswith("REMARK"):
            remark = normalize_remark(line)
            if remark:
                found.append(remark)
    return tuple(found)


def from_pdb(source: str | os.PathLike[str], chain_id: str | None = None) -> Protein:
    """Read a PDB file (a path, ``.pdb.gz`` too, or the text itself) into a Protein.

    Only ATOM residues are read (see :func:`folding.common.protein.from_gemmi_structure`);
    ``chain_id`` keeps one chain. REMARK records are kept in ``Protein.remarks``.
    """
    text, name = _read_text(source)
    try:
        structure = gemmi.read_pdb_string(text)
    except (RuntimeError, ValueError) as error:
        raise InputError(f"{name}: not a readable PDB file ({error}); check the file") from error
    protein = from_gemmi_structure(structure, chain_id=chain_id, source=name)
    return protein.replace(remarks=read_remarks(text))
