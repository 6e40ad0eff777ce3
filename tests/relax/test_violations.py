"""AlphaFold's structural-violation criteria: the reference's own computation as the
oracle on the relax fixtures, and known answers on controlled perturbations."""

from __future__ import annotations

import numpy as np
import pytest

from folding.common.atoms import ATOM37_INDEX
from folding.common.pdb import from_pdb
from folding.common.protein import Protein
from folding.relax.violations import ViolationConfig, find_violations

LEGACY = ViolationConfig(legacy_ca_c_n_stddev=True)
FIXTURES = ("model_output.pdb", "with_violations.pdb", "with_violations_casp14.pdb",
            "multiple_disulfides_target.pdb")


@pytest.fixture(scope="module")
def clean_peptide(shared_data) -> Protein:
    """A five-residue model without any violation (MKFLV)."""
    protein = from_pdb(shared_data / "structures" / "relax" / "model_output.pdb")
    assert find_violations(protein).num_residues == 0
    return protein


def _moved(protein: Protein, row: int, atom: str, to: np.ndarray) -> Protein:
    positions = np.array(protein.atom_positions)
    positions[row, ATOM37_INDEX[atom]] = to
    return protein.replace(atom_positions=positions)


@pytest.mark.reference
@pytest.mark.parametrize("name", FIXTURES)
def test_matches_reference_on_relax_fixtures(shared_data, name):
    amber_minimize = pytest.importorskip("alphafold.relax.amber_minimize")
    protein_ref = pytest.importorskip("alphafold.common.protein")
    text = (shared_data / "structures" / "relax" / name).read_text()
    ref, _ = amber_minimize.find_violations(protein_ref.from_pdb_string(text))
    ours = find_violations(from_pdb(text), LEGACY)
    between = ref["between_residues"]
    bonds = np.asarray(between["connections_per_residue_violation_mask"]) > 0
    np.testing.assert_array_equal(ours.between_residue_bond, bonds)
    np.testing.assert_array_equal(
        ours.clash_atoms, np.asarray(between["clashes_per_atom_clash_mask"]) > 0)
    np.testing.assert_array_equal(
        ours.within_residue_atoms, np.asarray(ref["within_residues"]["per_atom_violations"]) > 0)
    np.testing.assert_array_equal(
        ours.per_residue, np.asarray(ref["total_per_residue_violations_mask"]) > 0)


def test_known_counts_on_fixtures(shared_data):
    folder = shared_data / "structures" / "relax"
    counts = {name: find_violations(from_pdb(folder / name)).summary() for name in FIXTURES}
    assert counts["model_output.pdb"]["residues_violating"] == 0
    assert counts["with_violations.pdb"] == {
        "residues_violating": 8, "between_residue_bond": 0, "between_residue_clash": 8,
        "within_residue": 0}
    assert counts["with_violations_casp14.pdb"]["residues_violating"] == 13
    assert counts["multiple_disulfides_target.pdb"]["residues_violating"] == 21


def test_corrected_angle_stddev_flags_a_subset_of_legacy(shared_data):
    for name in FIXTURES:
        protein = from_pdb(shared_data / "structures" / "relax" / name)
        fixed, legacy = find_violations(protein), find_violations(protein, LEGACY)
        assert not (fixed.between_residue_bond & ~legacy.between_residue_bond).any()
        np.testing.assert_array_equal(fixed.clash_atoms, legacy.clash_atoms)


def test_clash_between_residues_marks_both(clean_peptide):
    target = clean_peptide.atom_positions[4, ATOM37_INDEX["CB"]] + np.array([0.5, 0.0, 0.0])
    moved = _moved(clean_peptide, 1, "CE", target)  # LYS 2 NZ-side carbon onto VAL 5
    v = find_violations(moved)
    assert v.between_residue_clash.tolist() == [False, True, False, False, True]


def test_stretched_peptide_bond_marks_both_residues(clean_peptide):
    positions = np.array(clean_peptide.atom_positions)
    positions[3:] += np.array([3.0, 0.0, 0.0], np.float32)  # pull residues 4-5 away
    v = find_violations(clean_peptide.replace(atom_positions=positions))
    assert v.between_residue_bond.tolist() == [False, False, True, True, False]
    assert not v.between_residue_clash.any() and not v.within_residue.any()


def test_no_peptide_bond_across_chains_or_gaps(clean_peptide):
    positions = np.array(clean_peptide.atom_positions)
    positions[3:] += np.array([30.0, 0.0, 0.0], np.float32)
    apart = clean_peptide.replace(atom_positions=positions)
    assert find_violations(apart).between_residue_bond.sum() == 2
    two_chains = apart.replace(chain_index=np.array([0, 0, 0, 1, 1]), chain_ids=())
    assert find_violations(two_chains).num_residues == 0
    gap = apart.replace(residue_index=np.array([1, 2, 3, 10, 11]))
    assert find_violations(gap).num_residues == 0


def test_within_residue_bond_violation(clean_peptide):
    ca = clean_peptide.atom_positions[2, ATOM37_INDEX["CA"]]
    cb = clean_peptide.atom_positions[2, ATOM37_INDEX["CB"]]
    moved = _moved(clean_peptide, 2, "CB", ca + (cb - ca) * 1.6)  # CA-CB 2.4 A
    v = find_violations(moved)
    assert v.within_residue.tolist() == [False, False, True, False, False]
    # CB (atom14 slot 4) and the atoms bonded or angled to it; not O (slot 3).
    assert v.within_residue_atoms[2, [0, 1, 2, 4]].all() and not v.within_residue_atoms[2, 3]


def test_disulfide_is_not_a_clash_but_other_close_pairs_are():
    from folding.common.alphabet import sequence_to_aatype
    from folding.common.atoms import STANDARD_ATOM37_MASK

    layout = {"N": (0, 0, 0), "CA": (1.46, 0, 0), "C": (2.0, 1.4, 0), "O": (1.4, 2.4, 0),
              "CB": (2.0, -0.8, 1.2), "SG": (3.8, -0.8, 1.2)}

    def pair(sequence: str, side_chain_atom: str) -> Protein:
        aatype = sequence_to_aatype(sequence)
        positions = np.zeros((2, 37, 3), np.float32)
        for name, xyz in layout.items():
            second = side_chain_atom if name == "SG" else name
            positions[0, ATOM37_INDEX[name]] = xyz
            # Mirror image of the first residue, its SG 1.5 A from the first one's.
            positions[1, ATOM37_INDEX[second]] = np.array(xyz) * [-1, 1, 1] + [9.1, 0, 0]
        return Protein(atom_positions=positions, atom_mask=STANDARD_ATOM37_MASK[aatype],
                       aatype=aatype, residue_index=np.array([1, 5]),
                       chain_index=np.array([0, 0]), b_factors=np.zeros((2, 37)))

    cys = pair("CC", "SG")
    sg = cys.atom_positions[:, ATOM37_INDEX["SG"]]
    assert np.linalg.norm(sg[0] - sg[1]) == pytest.approx(1.5, abs=1e-3)
    assert find_violations(cys).num_residues == 0  # SG-SG: a disulfide, never a clash
    ser = pair("CS", "OG")  # the same place taken by serine's OG: S-O limit 1.82 A
    assert find_violations(ser).between_residue_clash.tolist() == [True, True]


def test_unknown_residues_take_no_part(clean_peptide):
    moved = _moved(clean_peptide, 1, "CE",
                   clean_peptide.atom_positions[4, ATOM37_INDEX["CB"]])
    unknown = moved.replace(aatype=np.array([12, 20, 13, 10, 19]))
    assert not find_violations(unknown).between_residue_clash.any()
