"""Residue stereochemistry: rigid groups, torsion definitions and ideal geometry.

Two concerns, one module each:

* :mod:`.rigid_groups` - where each heavy atom sits in its rigid group, which atoms define
  each chi angle, the default frames of the groups (AlphaFold2 supplement 1.8, Table 2,
  Algorithm 24) and the 180-degree-symmetric atoms (Table 3);
* :mod:`.restraints` - ideal bond lengths and angles (Engh & Huber), van der Waals radii
  (Bondi), peptide-bond constants and the within-residue distance bounds that the
  structural-violation checks use (supplement 1.9.11).
"""

from folding.common.stereochemistry.restraints import (
    ATOM37_VAN_DER_WAALS_RADIUS,
    BOND_ANGLES,
    BOND_LENGTHS,
    CA_CA_DISTANCE,
    COS_ANGLE_C_N_CA,
    COS_ANGLE_CA_C_N,
    PEPTIDE_BOND_C_N,
    PEPTIDE_BOND_C_N_PROLINE,
    VAN_DER_WAALS_RADIUS,
    VIRTUAL_BONDS,
    Atom14DistanceBounds,
    BondAngle,
    BondLength,
    Restraint,
    atom14_distance_bounds,
)
from folding.common.stereochemistry.rigid_groups import (
    AMBIGUOUS_ATOM_PAIRS,
    ATOM14_AMBIGUOUS_SWAP,
    ATOM14_IS_AMBIGUOUS,
    ATOM14_LOCAL_POSITIONS,
    ATOM14_RIGID_GROUP,
    ATOM37_LOCAL_POSITIONS,
    ATOM37_RIGID_GROUP,
    BACKBONE,
    CHI1,
    CHI2,
    CHI3,
    CHI4,
    CHI_ANGLES_MASK,
    CHI_ATOM37_INDICES,
    CHI_PATH,
    CHI_PI_PERIODIC,
    DEFAULT_FRAMES,
    NUM_CHIS,
    NUM_RIGID_GROUPS,
    NUM_TORSIONS,
    PHI,
    PI_PERIODIC_CHI,
    PRE_OMEGA,
    PSI,
    RIGID_GROUP_EXISTS,
    chi_angle_atoms,
    literature_positions,
)

__all__ = [
    "AMBIGUOUS_ATOM_PAIRS", "ATOM14_AMBIGUOUS_SWAP", "ATOM14_IS_AMBIGUOUS",
    "ATOM14_LOCAL_POSITIONS", "ATOM14_RIGID_GROUP", "ATOM37_LOCAL_POSITIONS",
    "ATOM37_RIGID_GROUP", "ATOM37_VAN_DER_WAALS_RADIUS", "BACKBONE", "BOND_ANGLES",
    "BOND_LENGTHS", "CA_CA_DISTANCE", "CHI1", "CHI2", "CHI3", "CHI4", "CHI_ANGLES_MASK",
    "CHI_ATOM37_INDICES", "CHI_PATH", "CHI_PI_PERIODIC", "COS_ANGLE_CA_C_N",
    "COS_ANGLE_C_N_CA", "DEFAULT_FRAMES", "NUM_CHIS", "NUM_RIGID_GROUPS", "NUM_TORSIONS",
    "PEPTIDE_BOND_C_N", "PEPTIDE_BOND_C_N_PROLINE", "PHI", "PI_PERIODIC_CHI", "PRE_OMEGA",
    "PSI", "RIGID_GROUP_EXISTS", "VAN_DER_WAALS_RADIUS", "VIRTUAL_BONDS",
    "Atom14DistanceBounds", "BondAngle", "BondLength", "Restraint", "atom14_distance_bounds",
    "chi_angle_atoms", "literature_positions",
]
