"""Stereochemistry tables: internal consistency, and equality with the reference's tables."""

import numpy as np
import pytest

from folding.common import alphabet, atoms
from folding.common import stereochemistry as sc


def test_chi_angles_follow_side_chain_path():
    assert sc.chi_angle_atoms("ALA") == ()
    assert sc.chi_angle_atoms("LYS")[3] == ("CG", "CD", "CE", "NZ")
    assert sc.CHI_ANGLES_MASK.sum(axis=1).tolist() == [
        len(sc.chi_angle_atoms(r)) for r in alphabet.RESIDUE_NAMES_WITH_UNK
    ]
    assert sc.CHI_ANGLES_MASK[20].sum() == 0 and sc.CHI_ANGLES_MASK[1].sum() == 4


def test_default_frames_are_rigid_transforms():
    for restype in range(20):
        for group in range(sc.NUM_RIGID_GROUPS):
            if not sc.RIGID_GROUP_EXISTS[restype, group] and group >= sc.CHI1:
                assert not sc.DEFAULT_FRAMES[restype, group].any()
                continue
            rot = sc.DEFAULT_FRAMES[restype, group, :3, :3].astype(np.float64)
            np.testing.assert_allclose(rot @ rot.T, np.eye(3), atol=1e-6)
            assert np.linalg.det(rot) == pytest.approx(1.0, abs=1e-6)
    assert not sc.DEFAULT_FRAMES[20].any()  # UNK has no atoms and no frames


def test_literature_positions_reproduce_bond_lengths():
    """Placing atoms by the default frames gives bonds near Engh & Huber's lengths."""
    for restype, residue in enumerate(alphabet.RESIDUE_NAMES):
        frames = sc.DEFAULT_FRAMES[restype].astype(np.float64).copy()
        for k in range(1, 4):  # chain chi2..chi4 onto the backbone
            frames[sc.CHI1 + k] = frames[sc.CHI1 + k - 1] @ frames[sc.CHI1 + k]
        pos = {}
        for name, (group, xyz) in sc.literature_positions(residue).items():
            pos[name] = (frames[group] @ np.append(xyz, 1.0))[:3]
        for bond in sc.BOND_LENGTHS[residue]:
            if residue == "PRO" and set(bond.atoms) == {"CD", "N"}:
                continue  # the ring closure: AlphaFold opens the CG-CD angle by 2 degrees
            d = np.linalg.norm(pos[bond.atoms[0]] - pos[bond.atoms[1]])
            assert abs(d - bond.length) < 0.1, (residue, bond, d)


def test_distance_bounds_shape_and_symmetry():
    bounds = sc.atom14_distance_bounds(1.5, 12.0)
    assert bounds.lower.shape == (21, 14, 14)
    np.testing.assert_array_equal(bounds.lower, np.swapaxes(bounds.lower, 1, 2))
    ala = alphabet.RESTYPE_INDEX["A"]
    n, ca = 0, 1
    assert bounds.lower[ala, n, ca] == pytest.approx(1.459 - 12 * 0.020)
    assert bounds.upper[ala, n, ca] == pytest.approx(1.459 + 12 * 0.020)
    assert not bounds.lower[20].any()


def test_ambiguous_swap_is_an_involution():
    swap = sc.ATOM14_AMBIGUOUS_SWAP
    for restype in range(21):
        np.testing.assert_array_equal(swap[restype][swap[restype]], np.arange(14))
    assert sc.ATOM14_IS_AMBIGUOUS.sum() == 2 + 2 + 4 + 4


@pytest.mark.reference
def test_tables_equal_reference():
    rc = pytest.importorskip("alphafold.common.residue_constants")
    af_all_atom = pytest.importorskip("alphafold.model.all_atom")
    np.testing.assert_array_equal(sc.DEFAULT_FRAMES, rc.restype_rigid_group_default_frame)
    np.testing.assert_array_equal(sc.ATOM14_RIGID_GROUP, rc.restype_atom14_to_rigid_group)
    np.testing.assert_array_equal(sc.ATOM14_LOCAL_POSITIONS,
                                  rc.restype_atom14_rigid_group_positions)
    np.testing.assert_array_equal(sc.ATOM37_RIGID_GROUP, rc.restype_atom37_to_rigid_group)
    np.testing.assert_array_equal(sc.ATOM37_LOCAL_POSITIONS,
                                  rc.restype_atom37_rigid_group_positions)
    np.testing.assert_array_equal(atoms.ATOM14_MASK, rc.restype_atom14_mask)
    np.testing.assert_array_equal(sc.CHI_ANGLES_MASK[:20], rc.chi_angles_mask)
    np.testing.assert_array_equal(sc.CHI_PI_PERIODIC, rc.chi_pi_periodic)
    np.testing.assert_array_equal(sc.CHI_ATOM37_INDICES,
                                  np.asarray(af_all_atom.get_chi_atom_indices()))
    for residue in alphabet.RESIDUE_NAMES:
        assert [list(c) for c in sc.chi_angle_atoms(residue)] == rc.chi_angles_atoms[residue]
    swaps = {r: {a: b for a, b in pairs} for r, pairs in sc.AMBIGUOUS_ATOM_PAIRS.items()}
    assert swaps == rc.residue_atom_renaming_swaps
    # the swap permutation is the reference's renaming matrices
    np.testing.assert_array_equal(np.eye(14, dtype=np.float32)[sc.ATOM14_AMBIGUOUS_SWAP],
                                  af_all_atom.RENAMING_MATRICES)
    assert rc.van_der_waals_radius == sc.VAN_DER_WAALS_RADIUS
    assert rc.ca_ca == sc.CA_CA_DISTANCE
    assert [sc.PEPTIDE_BOND_C_N.mean, sc.PEPTIDE_BOND_C_N_PROLINE.mean] == \
        rc.between_res_bond_length_c_n
    assert [sc.PEPTIDE_BOND_C_N.stddev, sc.PEPTIDE_BOND_C_N_PROLINE.stddev] == \
        rc.between_res_bond_length_stddev_c_n
    assert [sc.COS_ANGLE_C_N_CA.mean, sc.COS_ANGLE_C_N_CA.stddev] == \
        rc.between_res_cos_angles_c_n_ca
    assert [sc.COS_ANGLE_CA_C_N.mean, sc.COS_ANGLE_CA_C_N.stddev] == \
        rc.between_res_cos_angles_ca_c_n


@pytest.mark.reference
def test_bonds_angles_and_bounds_equal_reference():
    rc = pytest.importorskip("alphafold.common.residue_constants")
    bonds, virtual, angles = rc.load_stereo_chemical_props()
    for residue in alphabet.RESIDUE_NAMES_WITH_UNK:
        ours = {(b.atoms, b.length, b.stddev) for b in sc.BOND_LENGTHS[residue]}
        assert ours == {((b.atom1_name, b.atom2_name), b.length, b.stddev)
                        for b in bonds[residue]}, residue
        ours = {(a.atoms, a.angle, a.stddev) for a in sc.BOND_ANGLES[residue]}
        assert ours == {((a.atom1_name, a.atom2_name, a.atom3name), a.angle_rad, a.stddev)
                        for a in angles[residue]}, residue
        ours = sorted((b.atoms, b.length, b.stddev) for b in sc.VIRTUAL_BONDS[residue])
        theirs = sorted(((b.atom1_name, b.atom2_name), b.length, b.stddev)
                        for b in virtual[residue])
        assert [o[0] for o in ours] == [t[0] for t in theirs]
        np.testing.assert_allclose(np.reshape([o[1:] for o in ours], (-1, 2)),
                                   np.reshape([t[1:] for t in theirs], (-1, 2)), rtol=1e-12)
    for overlap, factor in ((1.5, 15.0), (1.5, 12.0)):
        ref = rc.make_atom14_dists_bounds(overlap_tolerance=overlap,
                                          bond_length_tolerance_factor=factor)
        ours = sc.atom14_distance_bounds(overlap, factor)
        np.testing.assert_array_equal(ours.lower, ref["lower_bound"])
        np.testing.assert_array_equal(ours.upper, ref["upper_bound"])
        np.testing.assert_array_equal(ours.stddev, ref["stddev"])
    radius = np.array([rc.van_der_waals_radius[n[0]] for n in rc.atom_types], np.float32)
    np.testing.assert_array_equal(sc.ATOM37_VAN_DER_WAALS_RADIUS, radius)
