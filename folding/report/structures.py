"""Ranked structures: ``ranked_<i>.pdb`` and ``ranked_<i>.cif``, best first.

As in AlphaFold, ``ranked_<i>`` is the relaxed structure of the model ranked ``i``
(0 = best) where relaxation succeeded, else its unrelaxed structure; the B-factor
column carries the per-residue pLDDT (supplement 1.9.6). The PDB text is kept as the
workflow wrote it; only where its B-factors are not the model's pLDDT (a relaxed file
written without them) are they restored, and an untrained model always carries the
``REMARK 250 UNTRAINED PARAMETERS`` notice. The mmCIF is the same structure with pLDDT
as ModelCIF quality metrics (:func:`folding.common.mmcif.to_mmcif`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from folding import __version__
from folding.common.atoms import NUM_ATOM37
from folding.common.mmcif import to_mmcif
from folding.common.pdb import from_pdb, to_pdb
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
    rewrite = False
    stored = protein.residue_b_factors()
    if not np.allclose(stored, model.plddt, atol=_B_FACTOR_TOLERANCE + 1e-3):
        plddt = np.broadcast_to(model.plddt[:, None], (model.num_residues, NUM_ATOM37))
        protein = protein.replace(b_factors=plddt)
        rewrite = True
    if model.untrained and not _has_untrained_remark(protein):
        protein = protein.with_remarks(UNTRAINED_REMARK)
        rewrite = True
    pdb_text = to_pdb(protein) if rewrite else text
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
