"""Ranked structures: ``ranked_<i>.pdb`` and ``ranked_<i>.cif``, best first.

As in AlphaFold, ``ranked_<i>`` is the relaxed structure of the model ranked ``i``
(0 = best) where relaxation succeeded, else its unrelaxed structure; the B-factor
column carries the per-residue pLDDT (supplement 1.9.6). The PDB text is kept as the
workflow wrote it (hydrogens of relaxed models included); only where its B-factors are
not the model's pLDDT (a file written without them) are those columns set to it, and an
untrained model always carries a ``REMARK 250 UNTRAINED PARAMETERS`` notice. The mmCIF
is the same structure (heavy atoms) with pLDDT as ModelCIF quality metrics
(:func:`folding.common.mmcif.to_mmcif`).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from folding import __version__
from folding.common.atoms import NUM_ATOM37
from folding.common.mmcif import to_mmcif
from folding.common.pdb import from_pdb
from folding.common.protein import Protein
from folding.errors import InputError
from folding.report.results import ModelResult

UNTRAINED_REMARK = (
    "250 UNTRAINED PARAMETERS: this model was predicted with random, untrained parameters "
    "and does not predict the structure of the protein"
)
#: How far stored B-factors may be from the pLDDT (PDB files keep two decimals).
_B_FACTOR_TOLERANCE = 0.01


@dataclass(frozen=True)
class RankedStructure:
    """One ranked model's files, ready to be written."""

    rank: int
    model: str
    source: Path
    relaxed: bool
    pdb_text: str
    cif_text: str


def _has_untrained_remark(protein: Protein) -> bool:
    return any("UNTRAINED" in remark.upper() for remark in protein.remarks)


def _remark_lines(remark: str) -> list[str]:
    number, text = remark.split(" ", 1)
    return [f"REMARK {number:>3} {chunk}" for chunk in textwrap.wrap(text, 69)]


def _with_b_factors(text: str, protein: Protein, plddt: np.ndarray) -> str:
    """PDB text with every atom's B-factor set to its residue's pLDDT (hydrogens too)."""
    values = {(chain, int(number)): float(value) for chain, number, value
              in zip(protein.residue_chain_ids(), protein.residue_index, plddt, strict=True)}
    lines = []
    for line in text.splitlines(keepends=True):
        if line.startswith(("ATOM  ", "HETATM")) and len(line.rstrip("\n")) >= 66:
            value = values.get((line[21], int(line[22:26])))
            if value is not None:
                line = f"{line[:60]}{value:6.2f}{line[66:]}"
        lines.append(line)
    return "".join(lines)


def ranked_structure(
    model: ModelResult, rank: int, target_name: str
) -> RankedStructure:
    """The ranked files of one model; an InputError if it has no structure or they disagree."""
    source = model.structure_path
    if source is None:
        raise InputError(
            f"{model.name}: neither relaxed_{model.name}.pdb nor unrelaxed_{model.name}.pdb "
            "exists; re-run `folding model run` for this model"
        )
    text = source.read_text()
    protein = from_pdb(source)
    if protein.num_residues != model.num_residues:
        raise InputError(
            f"{source}: has {protein.num_residues} residues but result_{model.name}.npz has "
            f"{model.num_residues}; remove the stale file and re-run"
        )
    pdb_text = text
    if not np.allclose(protein.residue_b_factors(), model.plddt,
                       atol=_B_FACTOR_TOLERANCE + 1e-3):
        pdb_text = _with_b_factors(pdb_text, protein, model.plddt)
        plddt = np.broadcast_to(model.plddt[:, None], (model.num_residues, NUM_ATOM37))
        protein = protein.replace(b_factors=plddt)
    if model.untrained and not _has_untrained_remark(protein):
        protein = protein.with_remarks(UNTRAINED_REMARK)
        pdb_text = "".join(f"{line:<80}\n" for line in _remark_lines(UNTRAINED_REMARK)) + pdb_text
    cif_text = to_mmcif(
        protein,
        name=f"{target_name}_ranked_{rank}",
        model_name=model.name,
        software_version=f"folding {__version__}",
    )
    return RankedStructure(
        rank=rank, model=model.name, source=source, relaxed=model.relax.relaxed,
        pdb_text=pdb_text, cif_text=cif_text,
    )
