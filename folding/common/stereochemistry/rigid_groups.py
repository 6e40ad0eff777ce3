"""Rigid groups of the standard residues: literature atom positions, chi angles, frames.

AlphaFold2 places every heavy atom in one of eight rigid groups per residue (supplement
section 1.8, Table 2): the backbone group, the pre-omega, phi and psi groups, and one
group per side-chain torsion chi1..chi4. Each group's atoms sit at fixed *literature
positions* in the group's own frame; the torsion angles predicted by the structure module
rotate the groups about their x axes (Algorithms 24 and 25).

Sources: the idealised coordinates are AlphaFold2's (derived from Engh & Huber ideal
geometry, as distributed with AlphaFold in ``residue_constants.py``); chi angle
definitions follow the IUPAC-IUB conventions (Biochemistry 9, 3471, 1970); the
180-degree-symmetric atom pairs are Table 3 of the AlphaFold2 supplement.
"""

from __future__ import annotations

import numpy as np

from folding.common.alphabet import RESIDUE_NAMES, RESIDUE_NAMES_WITH_UNK
from folding.common.atoms import ATOM37_INDEX, NUM_ATOM14, NUM_ATOM37, atom14_names

# Rigid group indices (supplement Table 2).
BACKBONE, PRE_OMEGA, PHI, PSI, CHI1, CHI2, CHI3, CHI4 = range(8)
NUM_RIGID_GROUPS = 8
NUM_TORSIONS = 7  # pre-omega, phi, psi, chi1-4: every group but the backbone's
NUM_CHIS = 4

#: Side-chain atoms after CB along which the chi angles run: chi k is the dihedral of the
#: four consecutive atoms k..k+3 of (N, CA, CB, *path). Residues without a chi are absent.
CHI_PATH: dict[str, tuple[str, ...]] = {
    "ARG": ("CG", "CD", "NE", "CZ"),
    "ASN": ("CG", "OD1"),
    "ASP": ("CG", "OD1"),
    "CYS": ("SG",),
    "GLN": ("CG", "CD", "OE1"),
    "GLU": ("CG", "CD", "OE1"),
    "HIS": ("CG", "ND1"),
    "ILE": ("CG1", "CD1"),
    "LEU": ("CG", "CD1"),
    "LYS": ("CG", "CD", "CE", "NZ"),
    "MET": ("CG", "SD", "CE"),
    "PHE": ("CG", "CD1"),
    "PRO": ("CG", "CD"),
    "SER": ("OG",),
    "THR": ("OG1",),
    "TRP": ("CG", "CD1"),
    "TYR": ("CG", "CD1"),
    "VAL": ("CG1",),
}


def chi_angle_atoms(residue: str) -> tuple[tuple[str, str, str, str], ...]:
    """The four atoms defining each chi angle of ``residue`` (three-letter name)."""
    chain = ("N", "CA", "CB", *CHI_PATH.get(residue, ()))
    return tuple(tuple(chain[k:k + 4]) for k in range(len(chain) - 3))  # type: ignore[misc]


#: Chi angles that are pi-periodic (the side chain is symmetric under a 180-degree flip),
#: as 1-based chi numbers.
PI_PERIODIC_CHI: dict[str, int] = {"ASP": 2, "GLU": 3, "PHE": 2, "TYR": 2}

#: Atom pairs whose names swap under that flip (supplement Table 3).
AMBIGUOUS_ATOM_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "ASP": (("OD1", "OD2"),),
    "GLU": (("OE1", "OE2"),),
    "PHE": (("CD1", "CD2"), ("CE1", "CE2")),
    "TYR": (("CD1", "CD2"), ("CE1", "CE2")),
}

# Idealised heavy-atom coordinates (Angstrom) in the frame of each atom's rigid group.
# CA sits at the origin of the backbone frame and is left out. Group frames: the x axis
# runs along the rotation axis, and the atom that defines the group's dihedral lies in
# the xy plane with positive y. Proline's CD is placed with its CG-CD angle opened by two
# degrees relative to the ideal ring, as in AlphaFold.
_LITERATURE_POSITIONS: dict[str, dict[int, dict[str, tuple[float, float, float]]]] = {
    "ALA": {
        BACKBONE: {
            "N": (-0.525, 1.363, 0.000), "C": (1.526, -0.000, -0.000),
            "CB": (-0.529, -0.774, -1.205),
        },
        PSI: {"O": (0.627, 1.062, 0.000)},
    },
    "ARG": {
        BACKBONE: {
            "N": (-0.524, 1.362, -0.000), "C": (1.525, -0.000, -0.000),
            "CB": (-0.524, -0.778, -1.209),
        },
        PSI: {"O": (0.626, 1.062, 0.000)},
        CHI1: {"CG": (0.616, 1.390, -0.000)},
        CHI2: {"CD": (0.564, 1.414, 0.000)},
        CHI3: {"NE": (0.539, 1.357, -0.000)},
        CHI4: {
            "NH1": (0.206, 2.301, 0.000), "NH2": (2.078, 0.978, -0.000),
            "CZ": (0.758, 1.093, -0.000),
        },
    },
    "ASN": {
        BACKBONE: {
            "N": (-0.536, 1.357, 0.000), "C": (1.526, -0.000, -0.000),
            "CB": (-0.531, -0.787, -1.200),
        },
        PSI: {"O": (0.625, 1.062, 0.000)},
        CHI1: {"CG": (0.584, 1.399, 0.000)},
        CHI2: {"ND2": (0.593, -1.188, 0.001), "OD1": (0.633, 1.059, 0.000)},
    },
    "ASP": {
        BACKBONE: {
            "N": (-0.525, 1.362, -0.000), "C": (1.527, 0.000, -0.000),
            "CB": (-0.526, -0.778, -1.208),
        },
        PSI: {"O": (0.626, 1.062, -0.000)},
        CHI1: {"CG": (0.593, 1.398, -0.000)},
        CHI2: {"OD1": (0.610, 1.091, 0.000), "OD2": (0.592, -1.101, -0.003)},
    },
    "CYS": {
        BACKBONE: {
            "N": (-0.522, 1.362, -0.000), "C": (1.524, 0.000, 0.000),
            "CB": (-0.519, -0.773, -1.212),
        },
        PSI: {"O": (0.625, 1.062, -0.000)},
        CHI1: {"SG": (0.728, 1.653, 0.000)},
    },
    "GLN": {
        BACKBONE: {
            "N": (-0.526, 1.361, -0.000), "C": (1.526, 0.000, 0.000),
            "CB": (-0.525, -0.779, -1.207),
        },
        PSI: {"O": (0.626, 1.062, -0.000)},
        CHI1: {"CG": (0.615, 1.393, 0.000)},
        CHI2: {"CD": (0.587, 1.399, -0.000)},
        CHI3: {"NE2": (0.593, -1.189, -0.001), "OE1": (0.634, 1.060, 0.000)},
    },
    "GLU": {
        BACKBONE: {
            "N": (-0.528, 1.361, 0.000), "C": (1.526, -0.000, -0.000),
            "CB": (-0.526, -0.781, -1.207),
        },
        PSI: {"O": (0.626, 1.062, 0.000)},
        CHI1: {"CG": (0.615, 1.392, 0.000)},
        CHI2: {"CD": (0.600, 1.397, 0.000)},
        CHI3: {"OE1": (0.607, 1.095, -0.000), "OE2": (0.589, -1.104, -0.001)},
    },
    "GLY": {
        BACKBONE: {"N": (-0.572, 1.337, 0.000), "C": (1.517, -0.000, -0.000)},
        PSI: {"O": (0.626, 1.062, -0.000)},
    },
    "HIS": {
        BACKBONE: {
            "N": (-0.527, 1.360, 0.000), "C": (1.525, 0.000, 0.000),
            "CB": (-0.525, -0.778, -1.208),
        },
        PSI: {"O": (0.625, 1.063, 0.000)},
        CHI1: {"CG": (0.600, 1.370, -0.000)},
        CHI2: {
            "CD2": (0.889, -1.021, 0.003), "ND1": (0.744, 1.160, -0.000),
            "CE1": (2.030, 0.851, 0.002), "NE2": (2.145, -0.466, 0.004),
        },
    },
    "ILE": {
        BACKBONE: {
            "N": (-0.493, 1.373, -0.000), "C": (1.527, -0.000, -0.000),
            "CB": (-0.536, -0.793, -1.213),
        },
        PSI: {"O": (0.627, 1.062, -0.000)},
        CHI1: {"CG1": (0.534, 1.437, -0.000), "CG2": (0.540, -0.785, -1.199)},
        CHI2: {"CD1": (0.619, 1.391, 0.000)},
    },
    "LEU": {
        BACKBONE: {
            "N": (-0.520, 1.363, 0.000), "C": (1.525, -0.000, -0.000),
            "CB": (-0.522, -0.773, -1.214),
        },
        PSI: {"O": (0.625, 1.063, -0.000)},
        CHI1: {"CG": (0.678, 1.371, 0.000)},
        CHI2: {"CD1": (0.530, 1.430, -0.000), "CD2": (0.535, -0.774, 1.200)},
    },
    "LYS": {
        BACKBONE: {
            "N": (-0.526, 1.362, -0.000), "C": (1.526, 0.000, 0.000),
            "CB": (-0.524, -0.778, -1.208),
        },
        PSI: {"O": (0.626, 1.062, -0.000)},
        CHI1: {"CG": (0.619, 1.390, 0.000)},
        CHI2: {"CD": (0.559, 1.417, 0.000)},
        CHI3: {"CE": (0.560, 1.416, 0.000)},
        CHI4: {"NZ": (0.554, 1.387, 0.000)},
    },
    "MET": {
        BACKBONE: {
            "N": (-0.521, 1.364, -0.000), "C": (1.525, 0.000, 0.000),
            "CB": (-0.523, -0.776, -1.210),
        },
        PSI: {"O": (0.625, 1.062, -0.000)},
        CHI1: {"CG": (0.613, 1.391, -0.000)},
        CHI2: {"SD": (0.703, 1.695, 0.000)},
        CHI3: {"CE": (0.320, 1.786, -0.000)},
    },
    "PHE": {
        BACKBONE: {
            "N": (-0.518, 1.363, 0.000), "C": (1.524, 0.000, -0.000),
            "CB": (-0.525, -0.776, -1.212),
        },
        PSI: {"O": (0.626, 1.062, -0.000)},
        CHI1: {"CG": (0.607, 1.377, 0.000)},
        CHI2: {
            "CD1": (0.709, 1.195, -0.000), "CD2": (0.706, -1.196, 0.000),
            "CE1": (2.102, 1.198, -0.000), "CE2": (2.098, -1.201, -0.000),
            "CZ": (2.794, -0.003, -0.001),
        },
    },
    "PRO": {
        BACKBONE: {
            "N": (-0.566, 1.351, -0.000), "C": (1.527, -0.000, 0.000),
            "CB": (-0.546, -0.611, -1.293),
        },
        PSI: {"O": (0.621, 1.066, 0.000)},
        CHI1: {"CG": (0.382, 1.445, 0.000)},
        CHI2: {"CD": (0.477, 1.424, 0.000)},
    },
    "SER": {
        BACKBONE: {
            "N": (-0.529, 1.360, -0.000), "C": (1.525, -0.000, -0.000),
            "CB": (-0.518, -0.777, -1.211),
        },
        PSI: {"O": (0.626, 1.062, -0.000)},
        CHI1: {"OG": (0.503, 1.325, 0.000)},
    },
    "THR": {
        BACKBONE: {
            "N": (-0.517, 1.364, 0.000), "C": (1.526, 0.000, -0.000),
            "CB": (-0.516, -0.793, -1.215),
        },
        PSI: {"O": (0.626, 1.062, 0.000)},
        CHI1: {"CG2": (0.550, -0.718, -1.228), "OG1": (0.472, 1.353, 0.000)},
    },
    "TRP": {
        BACKBONE: {
            "N": (-0.521, 1.363, 0.000), "C": (1.525, -0.000, 0.000),
            "CB": (-0.523, -0.776, -1.212),
        },
        PSI: {"O": (0.627, 1.062, 0.000)},
        CHI1: {"CG": (0.609, 1.370, -0.000)},
        CHI2: {
            "CD1": (0.824, 1.091, 0.000), "CD2": (0.854, -1.148, -0.005),
            "CE2": (2.186, -0.678, -0.007), "CE3": (0.622, -2.530, -0.007),
            "NE1": (2.140, 0.690, -0.004), "CH2": (3.028, -2.890, -0.013),
            "CZ2": (3.283, -1.543, -0.011), "CZ3": (1.715, -3.389, -0.011),
        },
    },
    "TYR": {
        BACKBONE: {
            "N": (-0.522, 1.362, 0.000), "C": (1.524, -0.000, -0.000),
            "CB": (-0.522, -0.776, -1.213),
        },
        PSI: {"O": (0.627, 1.062, -0.000)},
        CHI1: {"CG": (0.607, 1.382, -0.000)},
        CHI2: {
            "CD1": (0.716, 1.195, -0.000), "CD2": (0.713, -1.194, -0.001),
            "CE1": (2.107, 1.200, -0.002), "CE2": (2.104, -1.201, -0.003),
            "OH": (4.168, -0.002, -0.005), "CZ": (2.791, -0.001, -0.003),
        },
    },
    "VAL": {
        BACKBONE: {
            "N": (-0.494, 1.373, -0.000), "C": (1.527, -0.000, -0.000),
            "CB": (-0.533, -0.795, -1.213),
        },
        PSI: {"O": (0.627, 1.062, -0.000)},
        CHI1: {"CG1": (0.540, 1.429, -0.000), "CG2": (0.533, -0.776, 1.203)},
    },
}


def literature_positions(residue: str) -> dict[str, tuple[int, np.ndarray]]:
    """Atom name -> (rigid group, position in that group's frame) for one residue."""
    out: dict[str, tuple[int, np.ndarray]] = {"CA": (BACKBONE, np.zeros(3))}
    for group, atoms in _LITERATURE_POSITIONS[residue].items():
        for name, xyz in atoms.items():
            out[name] = (group, np.asarray(xyz, dtype=np.float64))
    return out


def _frame(x_direction: np.ndarray, xy_point: np.ndarray, origin: np.ndarray) -> np.ndarray:
    """4x4 homogeneous frame: x along ``x_direction``, ``xy_point`` in the xy plane (y > 0).

    Gram-Schmidt as in Algorithm 21, with ``xy_point`` given as a direction from the origin.
    """
    e0 = x_direction / np.linalg.norm(x_direction)
    e1 = xy_point - np.dot(xy_point, e0) * e0
    e1 = e1 / np.linalg.norm(e1)
    e2 = np.cross(e0, e1)
    frame = np.eye(4)
    frame[:3, 0], frame[:3, 1], frame[:3, 2], frame[:3, 3] = e0, e1, e2, origin
    return frame


def _default_frames(residue: str) -> np.ndarray:
    """[8, 4, 4] frame of each rigid group in its parent's frame, before any torsion.

    The parent of pre-omega, phi, psi and chi1 is the backbone; chi k+1 hangs off chi k.
    Chi groups the residue does not have are all zero.
    """
    pos = {name: xyz for name, (_, xyz) in literature_positions(residue).items()}
    frames = np.zeros((NUM_RIGID_GROUPS, 4, 4))  # groups a residue lacks stay all zero
    frames[BACKBONE] = frames[PRE_OMEGA] = np.eye(4)  # pre-omega carries no heavy atom
    frames[PHI] = _frame(pos["N"] - pos["CA"], np.array([1.0, 0.0, 0.0]), pos["N"])
    frames[PSI] = _frame(pos["C"] - pos["CA"], pos["CA"] - pos["N"], pos["C"])
    for k, (a0, a1, a2, _) in enumerate(chi_angle_atoms(residue)):
        if k == 0:
            frames[CHI1] = _frame(pos[a2] - pos[a1], pos[a0] - pos[a1], pos[a2])
        else:
            # The axis of chi k+1 starts at the origin of chi k's frame and ends at a2.
            frames[CHI1 + k] = _frame(pos[a2], np.array([-1.0, 0.0, 0.0]), pos[a2])
    return frames


def _tables() -> dict[str, np.ndarray]:
    n = len(RESIDUE_NAMES_WITH_UNK)
    t = {
        "default_frames": np.zeros((n, NUM_RIGID_GROUPS, 4, 4), np.float32),
        "atom14_group": np.zeros((n, NUM_ATOM14), np.int32),
        "atom14_position": np.zeros((n, NUM_ATOM14, 3), np.float32),
        "atom37_group": np.zeros((n, NUM_ATOM37), np.int32),
        "atom37_position": np.zeros((n, NUM_ATOM37, 3), np.float32),
        "chi_mask": np.zeros((n, NUM_CHIS), np.float32),
        "chi_pi_periodic": np.zeros((n, NUM_CHIS), np.float32),
        "chi_atom37": np.zeros((n, NUM_CHIS, 4), np.int32),
        "group_exists": np.zeros((n, NUM_RIGID_GROUPS), np.float32),
        "atom14_swap": np.tile(np.arange(NUM_ATOM14, dtype=np.int32), (n, 1)),
        "atom14_ambiguous": np.zeros((n, NUM_ATOM14), np.float32),
    }
    t["group_exists"][:, [BACKBONE, PSI]] = 1.0
    for restype, residue in enumerate(RESIDUE_NAMES):
        t["default_frames"][restype] = _default_frames(residue)
        slots = atom14_names(residue)
        for name, (group, xyz) in literature_positions(residue).items():
            slot, a37 = slots.index(name), ATOM37_INDEX[name]
            t["atom14_group"][restype, slot] = t["atom37_group"][restype, a37] = group
            t["atom14_position"][restype, slot] = t["atom37_position"][restype, a37] = xyz
        for k, atoms in enumerate(chi_angle_atoms(residue)):
            t["chi_mask"][restype, k] = 1.0
            t["group_exists"][restype, CHI1 + k] = 1.0
            t["chi_atom37"][restype, k] = [ATOM37_INDEX[a] for a in atoms]
        if residue in PI_PERIODIC_CHI:
            t["chi_pi_periodic"][restype, PI_PERIODIC_CHI[residue] - 1] = 1.0
        for a, b in AMBIGUOUS_ATOM_PAIRS.get(residue, ()):
            i, j = slots.index(a), slots.index(b)
            t["atom14_swap"][restype, [i, j]] = j, i
            t["atom14_ambiguous"][restype, [i, j]] = 1.0
    return t


_T = _tables()
#: [21, 8, 4, 4] default frame of each rigid group relative to its parent group
#: (backbone for groups 1-4, the previous chi group for chi2-4); all zero for UNK.
DEFAULT_FRAMES: np.ndarray = _T["default_frames"]
#: [21, 14] rigid group of each atom14 slot.
ATOM14_RIGID_GROUP: np.ndarray = _T["atom14_group"]
#: [21, 14, 3] literature position of each atom14 atom in its rigid group's frame.
ATOM14_LOCAL_POSITIONS: np.ndarray = _T["atom14_position"]
#: [21, 37] rigid group of each atom37 atom.
ATOM37_RIGID_GROUP: np.ndarray = _T["atom37_group"]
#: [21, 37, 3] literature position of each atom37 atom in its rigid group's frame.
ATOM37_LOCAL_POSITIONS: np.ndarray = _T["atom37_position"]
#: [21, 4] which chi angles each residue type has.
CHI_ANGLES_MASK: np.ndarray = _T["chi_mask"]
#: [21, 4] which chi angles are pi-periodic.
CHI_PI_PERIODIC: np.ndarray = _T["chi_pi_periodic"]
#: [21, 4, 4] atom37 indices of the four atoms of each chi angle (0 where undefined).
CHI_ATOM37_INDICES: np.ndarray = _T["chi_atom37"]
#: [21, 8] which rigid groups carry atoms (backbone, psi and the residue's chis).
RIGID_GROUP_EXISTS: np.ndarray = _T["group_exists"]
#: [21, 14] atom14 slot each slot takes under the 180-degree flip (identity if unambiguous).
ATOM14_AMBIGUOUS_SWAP: np.ndarray = _T["atom14_swap"]
#: [21, 14] 1 for atoms whose names are ambiguous under that flip.
ATOM14_IS_AMBIGUOUS: np.ndarray = _T["atom14_ambiguous"]
del _T
