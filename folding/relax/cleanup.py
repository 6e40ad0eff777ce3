"""Prepare a structure for Amber: complete heavy atoms and add hydrogens with pdbfixer.

AlphaFold2 supplement section 1.8.6: before minimisation the model is completed with
PDBFixer: non-standard residues are replaced by their standard parents, heterogens
(ligands, waters) removed, missing heavy atoms rebuilt (a predicted structure misses
none but may miss the terminal OXT) and hydrogens added for pH 7. As in AlphaFold,
chains of a single residue are dropped (Amber has no template for a residue that is
both N- and C-terminus). Gaps in the numbering are not filled: the missing-residue
search is switched off, so only atoms of residues present are ever added.
"""

from __future__ import annotations

import dataclasses
import io
import random

import numpy as np
from openmm import app, unit

from folding.common import pdb as pdb_format
from folding.common.protein import Protein


@dataclasses.dataclass(frozen=True)
class Alterations:
    """What the clean-up changed, for the record."""

    nonstandard_residues: tuple[str, ...] = ()
    removed_heterogens: tuple[str, ...] = ()
    missing_heavy_atoms: int = 0
    missing_terminal_atoms: int = 0
    removed_chains: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class CleanedStructure:
    """A structure ready for the force field: OpenMM topology and positions (nm)."""

    topology: app.Topology
    positions: np.ndarray
    alterations: Alterations

    def to_pdb(self) -> str:
        """The cleaned structure as PDB text (OpenMM's writer, hydrogens included)."""
        handle = io.StringIO()
        app.PDBFile.writeFile(self.topology, self.positions * 10.0, handle, keepIds=True)
        return handle.getvalue()


def _single_residue_chains(protein: Protein) -> list[int]:
    counts = np.bincount(protein.chain_index, minlength=protein.num_chains)
    return [int(c) for c in np.flatnonzero(counts == 1)]


def drop_single_residue_chains(protein: Protein) -> tuple[Protein, tuple[str, ...]]:
    """The protein without its one-residue chains, and the ids of those chains."""
    single = _single_residue_chains(protein)
    if not single:
        return protein, ()
    keep = [c for c in range(protein.num_chains) if c not in single]
    return protein.select_chains(keep), tuple(protein.chain_id(c) for c in single)


def clean_structure(protein: Protein) -> CleanedStructure:
    """Complete ``protein`` with pdbfixer (heavy atoms, hydrogens at pH 7).

    Raises ValueError when nothing is left (every chain a single residue).
    """
    import pdbfixer

    protein, removed_chains = drop_single_residue_chains(protein)
    if protein.num_residues == 0:
        raise ValueError("no chain with more than one residue to relax")
    fixer = pdbfixer.PDBFixer(pdbfile=io.StringIO(pdb_format.to_pdb(protein.replace(remarks=()))))
    fixer.findNonstandardResidues()
    nonstandard = tuple(f"{res.name}->{new}" for res, new in fixer.nonstandardResidues)
    fixer.replaceNonstandardResidues()
    before = {res.name for res in fixer.topology.residues()}
    fixer.removeHeterogens(keepWater=False)
    after = {res.name for res in fixer.topology.residues()}
    fixer.missingResidues = {}
    fixer.findMissingAtoms()
    missing_atoms = sum(len(atoms) for atoms in fixer.missingAtoms.values())
    missing_terminals = sum(len(atoms) for atoms in fixer.missingTerminals.values())
    fixer.addMissingAtoms(seed=0)
    # OpenMM's Modeller starts hydrogens it cannot place by rule at positions drawn from
    # Python's global random generator: seed it for this call only, so that one input
    # gives one starting structure (and restore the caller's generator state).
    saved = random.getstate()
    try:
        random.seed(0)
        fixer.addMissingHydrogens(7.0)
    finally:
        random.setstate(saved)
    positions = np.array(fixer.positions.value_in_unit(unit.nanometer), dtype=np.float64)
    return CleanedStructure(
        topology=fixer.topology,
        positions=positions,
        alterations=Alterations(
            nonstandard_residues=nonstandard,
            removed_heterogens=tuple(sorted(before - after)),
            missing_heavy_atoms=missing_atoms,
            missing_terminal_atoms=missing_terminals,
            removed_chains=removed_chains,
        ),
    )
