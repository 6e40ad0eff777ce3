"""Atom layouts of the standard residues.

Two layouts are used throughout AlphaFold (supplement section 1.2.1):

* atom37: one slot per heavy-atom name that occurs in any standard residue (37
  names), so every residue has the same columns and most are empty;
* atom14: a dense layout with up to 14 heavy atoms per residue, whose slots depend
  on the residue type.
"""

from __future__ import annotations

import numpy as np

from folding.common.alphabet import RESIDUE_NAMES, RESIDUE_NAMES_WITH_UNK

#: The 37 heavy-atom names in AlphaFold's atom37 order.
ATOM37_NAMES: tuple[str, ...] = (
    "N", "CA", "C", "CB", "O", "CG", "CG1", "CG2", "OG", "OG1", "SG", "CD",
    "CD1", "CD2", "ND1", "ND2", "OD1", "OD2", "SD", "CE", "CE1", "CE2", "CE3",
    "NE", "NE1", "NE2", "OE1", "OE2", "CH2", "NH1", "NH2", "OH", "CZ", "CZ2",
    "CZ3", "NZ", "OXT",
)
ATOM37_INDEX: dict[str, int] = {name: i for i, name in enumerate(ATOM37_NAMES)}
NUM_ATOM37 = len(ATOM37_NAMES)  # 37
NUM_ATOM14 = 14

_BACKBONE = ("N", "CA", "C", "O")
#: Side-chain heavy atoms after the backbone, in atom14 order.
_SIDE_CHAIN: dict[str, tuple[str, ...]] = {
    "ALA": ("CB",),
    "ARG": ("CB", "CG", "CD", "NE", "CZ", "NH1", "NH2"),
    "ASN": ("CB", "CG", "OD1", "ND2"),
    "ASP": ("CB", "CG", "OD1", "OD2"),
    "CYS": ("CB", "SG"),
    "GLN": ("CB", "CG", "CD", "OE1", "NE2"),
    "GLU": ("CB", "CG", "CD", "OE1", "OE2"),
    "GLY": (),
    "HIS": ("CB", "CG", "ND1", "CD2", "CE1", "NE2"),
    "ILE": ("CB", "CG1", "CG2", "CD1"),
    "LEU": ("CB", "CG", "CD1", "CD2"),
    "LYS": ("CB", "CG", "CD", "CE", "NZ"),
    "MET": ("CB", "CG", "SD", "CE"),
    "PHE": ("CB", "CG", "CD1", "CD2", "CE1", "CE2", "CZ"),
    "PRO": ("CB", "CG", "CD"),
    "SER": ("CB", "OG"),
    "THR": ("CB", "OG1", "CG2"),
    "TRP": ("CB", "CG", "CD1", "CD2", "NE1", "CE2", "CE3", "CZ2", "CZ3", "CH2"),
    "TYR": ("CB", "CG", "CD1", "CD2", "CE1", "CE2", "CZ", "OH"),
    "VAL": ("CB", "CG1", "CG2"),
}

#: Heavy atoms of each standard residue, in atom14 order (UNK has none).
RESIDUE_ATOMS: dict[str, tuple[str, ...]] = {
    **{name: _BACKBONE + _SIDE_CHAIN[name] for name in RESIDUE_NAMES},
    "UNK": (),
}


def atom14_names(residue: str) -> tuple[str, ...]:
    """The 14 atom14 slot names of a residue, empty strings for unused slots."""
    atoms = RESIDUE_ATOMS[residue]
    return atoms + ("",) * (NUM_ATOM14 - len(atoms))


def _standard_atom37_mask() -> np.ndarray:
    mask = np.zeros((len(RESIDUE_NAMES_WITH_UNK), NUM_ATOM37), dtype=np.int32)
    for restype, name in enumerate(RESIDUE_NAMES_WITH_UNK):
        for atom in RESIDUE_ATOMS[name]:
            mask[restype, ATOM37_INDEX[atom]] = 1
    return mask


def _atom14_to_atom37() -> np.ndarray:
    table = np.zeros((len(RESIDUE_NAMES_WITH_UNK), NUM_ATOM14), dtype=np.int32)
    for restype, name in enumerate(RESIDUE_NAMES_WITH_UNK):
        for slot, atom in enumerate(RESIDUE_ATOMS[name]):
            table[restype, slot] = ATOM37_INDEX[atom]
    return table


def _atom37_to_atom14() -> np.ndarray:
    table = np.zeros((len(RESIDUE_NAMES_WITH_UNK), NUM_ATOM37), dtype=np.int32)
    for restype, name in enumerate(RESIDUE_NAMES_WITH_UNK):
        for slot, atom in enumerate(RESIDUE_ATOMS[name]):
            table[restype, ATOM37_INDEX[atom]] = slot
    return table


#: [21, 37] which atom37 slots exist for each aatype (UNK: none).
STANDARD_ATOM37_MASK: np.ndarray = _standard_atom37_mask()
#: [21, 14] atom37 index of each atom14 slot (0 for unused slots).
ATOM14_TO_ATOM37: np.ndarray = _atom14_to_atom37()
#: [21, 37] atom14 slot of each atom37 atom (0 where the atom does not exist).
ATOM37_TO_ATOM14: np.ndarray = _atom37_to_atom14()
#: [21, 14] which atom14 slots are used for each aatype.
ATOM14_MASK: np.ndarray = np.array(
    [[1] * len(RESIDUE_ATOMS[n]) + [0] * (NUM_ATOM14 - len(RESIDUE_ATOMS[n]))
     for n in RESIDUE_NAMES_WITH_UNK],
    dtype=np.int32,
)
