"""AlphaFold's structural-violation criteria, in NumPy, for judging relaxed structures.

AlphaFold2 supplement section 1.9.11 scores three kinds of stereochemical violation,
and its relaxation stage (section 1.8.6) lifts the position restraints from every
residue that shows any of them:

* between-residue peptide geometry (eq. 44-45): the C-N bond length and the CA-C-N and
  C-N-CA angle cosines must lie within ``violation_tolerance_factor`` (12) standard
  deviations of Engh & Huber's values; a violation marks both residues of the bond;
* between-residue clashes (eq. 46): two heavy atoms of different residues closer than
  the sum of their van der Waals radii minus ``clash_overlap_tolerance`` (1.5 A), the
  peptide C-N bond and cysteine SG-SG pairs (disulfides) excepted;
* within-residue violations: any two atoms of one residue outside the atom14 distance
  bounds (bonds and angles within 12 standard deviations, other pairs not clashing).

Residues are paired in array order; peptide bonds are checked only between
consecutive residues of one chain whose numbers differ by one (AlphaFold's monomer
code compares residue numbers alone; for one chain that is the same). Unknown
residues (UNK) have no atom14 atoms and take part in no check, as in AlphaFold.

AlphaFold before its 2025 fix scored the CA-C-N angle with the C-N bond's standard
deviation (0.014) instead of the angle's own (0.0311); ``legacy_ca_c_n_stddev=True``
reproduces that for comparisons with older AlphaFold builds (``alphafold-colabfold``).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from folding.common.alphabet import RESTYPE_INDEX
from folding.common.atoms import ATOM14_MASK, ATOM14_TO_ATOM37, RESIDUE_ATOMS
from folding.common.protein import Protein
from folding.common.stereochemistry import (
    ATOM37_VAN_DER_WAALS_RADIUS,
    COS_ANGLE_C_N_CA,
    COS_ANGLE_CA_C_N,
    PEPTIDE_BOND_C_N,
    PEPTIDE_BOND_C_N_PROLINE,
    atom14_distance_bounds,
)

_N, _CA, _C = 0, 1, 2  # atom14 (and atom37) slots of the backbone
_SG = RESIDUE_ATOMS["CYS"].index("SG")
_PRO = RESTYPE_INDEX["P"]
_PAIR_BATCH = 4096  # residue pairs compared atom by atom at once


@dataclasses.dataclass(frozen=True)
class ViolationConfig:
    """Tolerances of the violation check (AlphaFold's model config values)."""

    violation_tolerance_factor: float = 12.0
    clash_overlap_tolerance: float = 1.5
    legacy_ca_c_n_stddev: bool = False


@dataclasses.dataclass(frozen=True)
class StructuralViolations:
    """Which residues violate which criterion ([L] booleans) and the per-atom clashes.

    ``clash_atoms`` and ``within_residue_atoms`` are [L, 14] atom14 masks.
    """

    between_residue_bond: np.ndarray
    between_residue_clash: np.ndarray
    within_residue: np.ndarray
    clash_atoms: np.ndarray
    within_residue_atoms: np.ndarray

    @property
    def per_residue(self) -> np.ndarray:
        """[L] residues with any violation (AlphaFold's total per-residue mask)."""
        return self.between_residue_bond | self.between_residue_clash | self.within_residue

    @property
    def num_residues(self) -> int:
        """How many residues violate any criterion."""
        return int(self.per_residue.sum())

    @property
    def residues(self) -> np.ndarray:
        """0-based indices of the violating residues."""
        return np.flatnonzero(self.per_residue)

    def summary(self) -> dict[str, int]:
        """Residue counts per criterion (for JSON records)."""
        return {
            "residues_violating": self.num_residues,
            "between_residue_bond": int(self.between_residue_bond.sum()),
            "between_residue_clash": int(self.between_residue_clash.sum()),
            "within_residue": int(self.within_residue.sum()),
        }


def atom14_positions(protein: Protein) -> tuple[np.ndarray, np.ndarray]:
    """[L, 14, 3] positions and [L, 14] mask of the protein's present heavy atoms."""
    index = ATOM14_TO_ATOM37[protein.aatype]
    exists = ATOM14_MASK[protein.aatype].astype(bool)
    mask = exists & (np.take_along_axis(protein.atom_mask, index, axis=1) > 0.5)
    positions = np.take_along_axis(protein.atom_positions, index[..., None], axis=1)
    positions = np.where(mask[..., None], positions, 0.0).astype(np.float64)
    return positions, mask


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt(1e-6 + np.sum(v * v, axis=-1))


def _peptide_bonded(protein: Protein) -> np.ndarray:
    """[L-1] whether residue i and i+1 are joined: one chain, numbers differing by one."""
    same_chain = protein.chain_index[1:] == protein.chain_index[:-1]
    return same_chain & (np.diff(protein.residue_index) == 1)


def between_residue_bond_violations(
    protein: Protein, positions: np.ndarray, mask: np.ndarray, config: ViolationConfig
) -> np.ndarray:
    """[L] residues in a peptide bond whose length or angles violate (eq. 44-45)."""
    length = protein.num_residues
    if length < 2:
        return np.zeros(length, bool)
    ca, c = positions[:-1, _CA], positions[:-1, _C]
    next_n, next_ca = positions[1:, _N], positions[1:, _CA]
    bonded = _peptide_bonded(protein)
    factor = config.violation_tolerance_factor

    c_n_length = _norm(next_n - c)
    next_is_pro = protein.aatype[1:] == _PRO
    ideal = np.where(next_is_pro, PEPTIDE_BOND_C_N_PROLINE.mean, PEPTIDE_BOND_C_N.mean)
    stddev = np.where(next_is_pro, PEPTIDE_BOND_C_N_PROLINE.stddev, PEPTIDE_BOND_C_N.stddev)
    c_n_bad = (np.sqrt(1e-6 + (c_n_length - ideal) ** 2) > factor * stddev)
    c_n_bad &= mask[:-1, _C] & mask[1:, _N] & bonded

    c_to_ca = (ca - c) / _norm(ca - c)[:, None]
    c_to_n = (next_n - c) / c_n_length[:, None]
    n_to_ca = (next_ca - next_n) / _norm(next_ca - next_n)[:, None]

    ca_c_n_cos = np.sum(c_to_ca * c_to_n, axis=-1)
    ca_c_n_stddev = (PEPTIDE_BOND_C_N.stddev if config.legacy_ca_c_n_stddev
                     else COS_ANGLE_CA_C_N.stddev)
    ca_c_n_bad = np.sqrt(1e-6 + (ca_c_n_cos - COS_ANGLE_CA_C_N.mean) ** 2) > factor * ca_c_n_stddev
    ca_c_n_bad &= mask[:-1, _CA] & mask[:-1, _C] & mask[1:, _N] & bonded

    c_n_ca_cos = np.sum(-c_to_n * n_to_ca, axis=-1)
    c_n_ca_bad = (np.sqrt(1e-6 + (c_n_ca_cos - COS_ANGLE_C_N_CA.mean) ** 2)
                  > factor * COS_ANGLE_C_N_CA.stddev)
    c_n_ca_bad &= mask[:-1, _C] & mask[1:, _N] & mask[1:, _CA] & bonded

    bad_bond = c_n_bad | ca_c_n_bad | c_n_ca_bad
    flagged = np.zeros(length, bool)
    flagged[:-1] |= bad_bond
    flagged[1:] |= bad_bond
    return flagged


def _candidate_pairs(positions: np.ndarray, mask: np.ndarray, reach: float
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Residue pairs (i < j) whose bounding spheres come within ``reach`` of each other."""
    count = mask.sum(axis=1)
    centre = (positions * mask[..., None]).sum(axis=1) / np.maximum(count, 1)[:, None]
    spread = np.where(mask, np.linalg.norm(positions - centre[:, None], axis=-1), 0.0)
    radius = spread.max(axis=1, initial=0.0)
    present = np.flatnonzero(count > 0)
    firsts, seconds = [], []
    for start in range(0, len(present), 1024):
        rows = present[start:start + 1024]
        gap = np.linalg.norm(centre[rows, None] - centre[None, present], axis=-1)
        near = gap < radius[rows, None] + radius[None, present] + reach
        near &= rows[:, None] < present[None, :]
        a, b = np.nonzero(near)
        firsts.append(rows[a])
        seconds.append(present[b])
    if not firsts:
        return np.zeros(0, int), np.zeros(0, int)
    return np.concatenate(firsts), np.concatenate(seconds)


def between_residue_clashes(
    protein: Protein, positions: np.ndarray, mask: np.ndarray, config: ViolationConfig
) -> np.ndarray:
    """[L, 14] atoms closer to an atom of another residue than allowed (eq. 46).

    Only residue pairs whose bounding spheres are close enough to clash are compared
    atom by atom, so the cost grows with the number of neighbours, not with L^2.
    """
    length = protein.num_residues
    radius = np.where(mask, ATOM37_VAN_DER_WAALS_RADIUS[ATOM14_TO_ATOM37[protein.aatype]], 0.0)
    is_sg = np.zeros((length, 14), bool)
    is_sg[:, _SG] = protein.aatype == RESTYPE_INDEX["C"]
    bonded_next = np.zeros(length, bool)
    bonded_next[:-1] = _peptide_bonded(protein)
    reach = 2 * float(ATOM37_VAN_DER_WAALS_RADIUS.max()) - config.clash_overlap_tolerance
    first, second = _candidate_pairs(positions, mask, max(reach, 0.0))
    clash = np.zeros((length, 14), bool)
    for start in range(0, len(first), _PAIR_BATCH):
        i, j = first[start:start + _PAIR_BATCH], second[start:start + _PAIR_BATCH]
        diff = positions[i, :, None, :] - positions[j, None, :, :]
        dist = np.sqrt(1e-10 + np.sum(diff * diff, axis=-1))  # [P, 14, 14]
        pair = mask[i, :, None] & mask[j, None, :]
        # The peptide bond C(i)-N(i+1) is a bond, not a clash.
        pair[:, _C, _N] &= ~((j == i + 1) & bonded_next[i])
        # Cysteine SG-SG pairs may be disulfide bonds.
        pair &= ~(is_sg[i, :, None] & is_sg[j, None, :])
        limit = radius[i, :, None] + radius[j, None, :]
        hits = pair & (dist < limit - config.clash_overlap_tolerance)
        np.logical_or.at(clash, i, hits.any(axis=2))
        np.logical_or.at(clash, j, hits.any(axis=1))
    return clash


def within_residue_violations(
    protein: Protein, positions: np.ndarray, mask: np.ndarray, config: ViolationConfig
) -> np.ndarray:
    """[L, 14] atoms outside the atom14 distance bounds of their own residue."""
    bounds = atom14_distance_bounds(config.clash_overlap_tolerance,
                                    config.violation_tolerance_factor)
    lower, upper = bounds.lower[protein.aatype], bounds.upper[protein.aatype]
    diff = positions[:, :, None, :] - positions[:, None, :, :]
    dist = np.sqrt(1e-10 + np.sum(diff * diff, axis=-1))
    pair = mask[:, :, None] & mask[:, None, :] & ~np.eye(14, dtype=bool)[None]
    bad = pair & ((dist < lower) | (dist > upper))
    return bad.any(axis=1) | bad.any(axis=2)


def find_violations(protein: Protein, config: ViolationConfig | None = None
                    ) -> StructuralViolations:
    """All three violation checks on a structure (supplement 1.9.11 with AlphaFold's tolerances)."""
    config = config or ViolationConfig()
    positions, mask = atom14_positions(protein)
    clash_atoms = between_residue_clashes(protein, positions, mask, config)
    within_atoms = within_residue_violations(protein, positions, mask, config)
    return StructuralViolations(
        between_residue_bond=between_residue_bond_violations(protein, positions, mask, config),
        between_residue_clash=clash_atoms.any(axis=1),
        within_residue=within_atoms.any(axis=1),
        clash_atoms=clash_atoms,
        within_residue_atoms=within_atoms,
    )
