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


def _reference_violations(protein: Protein) -> dict:
    amber_minimize = pytest.importorskip("alphafold.relax.amber_minimize")
    protein_ref = pytest.importorskip("alphafold.common.protein")
    ref_protein = protein_ref.Protein(
        atom_positions=np.asarray(protein.atom_positions), atom_mask=np.asarray(protein.atom_mask),
        aatype=np.asarray(protein.aatype), residue_index=np.asarray(protein.residue_index),
        chain_index=np.asarray(protein.chain_index), b_factors=np.asarray(protein.b_factors))
    return amber_minimize.find_violations(ref_protein)[0]


def _assert_same_as_reference(protein: Protein) -> None:
    ref = _reference_violations(protein)
    ours = find_violations(protein, LEGACY)
    between = ref["between_residues"]
    bonds = np.asarray(between["connections_per_residue_violation_mask"]) > 0
    np.testing.assert_array_equal(ours.between_residue_bond, bonds)
    np.testing.assert_array_equal(
        ours.clash_atoms, np.asarray(between["clashes_per_atom_clash_mask"]) > 0)
    np.testing.assert_array_equal(
        ours.within_residue_atoms, np.asarray(ref["within_residues"]["per_atom_violations"]) > 0)
    np.testing.assert_array_equal(
        ours.per_residue, np.asarray(ref["total_per_residue_violations_mask"]) > 0)


@pytest.mark.reference
@pytest.mark.parametrize("name", FIXTURES)
def test_matches_reference_on_relax_fixtures(shared_data, name):
    _assert_same_as_reference(from_pdb(shared_data / "structures" / "relax" / name))


@pytest.mark.reference
def test_matches_reference_on_crystal_structures(shared_data):
    """Real structures with violations. Only complete ones: the reference counts atoms a
    structure lacks as present at the origin (its relax code takes the residue type's
    atom set as the mask), while we use the atoms the file has."""
    oxt = ATOM37_INDEX["OXT"]
    paths = sorted((shared_data / "structures" / "dssp").glob("*.pdb.gz"))
    proteins = [from_pdb(path) for path in paths]
    complete = [p for p in proteins if (p.aatype < 20).all() and np.array_equal(
        np.delete(p.atom_mask, oxt, axis=1), np.delete(p.ideal_atom_mask(), oxt, axis=1))]
    assert len(complete) >= 5
    picked = sorted(complete, key=lambda p: -find_violations(p).num_residues)[:2]
    assert picked[0].num_residues > 50 and find_violations(picked[0]).num_residues > 0
    for protein in picked:
        _assert_same_as_reference(protein)


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
