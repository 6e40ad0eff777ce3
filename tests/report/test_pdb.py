"""PDB writer and reader: round trips on real structures, format details, read-back by
Biopython and gemmi without warnings, agreement with the reference's protein parser."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import gemmi
import numpy as np
import pytest
from Bio.PDB import PDBParser

from folding.common.pdb import from_pdb, read_remarks, to_pdb
from folding.common.protein import Protein
from folding.errors import InputError

UNTRAINED = "250 UNTRAINED PARAMETERS: random weights, not a structure prediction"


def _structures(shared: Path) -> list[Path]:
    folder = shared / "structures"
    return sorted([*folder.glob("*.pdb"), *folder.glob("relax/*.pdb"),
                   *folder.glob("dssp/*.pdb.gz")])


def assert_same_protein(a: Protein, b: Protein, atol: float = 6e-4) -> None:
    np.testing.assert_array_equal(a.aatype, b.aatype)
    np.testing.assert_array_equal(a.residue_index, b.residue_index)
    np.testing.assert_array_equal(a.chain_index, b.chain_index)
    np.testing.assert_array_equal(a.atom_mask, b.atom_mask)
    np.testing.assert_allclose(a.atom_positions, b.atom_positions, atol=atol)
    np.testing.assert_allclose(a.b_factors, b.b_factors, atol=6e-3)
    assert a.residue_chain_ids() == b.residue_chain_ids()


def read_back_with_biopython(text: str) -> tuple[object, list[str]]:
    """Parse with Biopython's strict-warning PDB parser; return structure and warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        structure = PDBParser(QUIET=False).get_structure("x", io.StringIO(text))
    return structure, [str(w.message) for w in caught]


def test_round_trip_on_every_shared_structure(shared_data):
    files = _structures(shared_data)
    assert len(files) > 55
    for path in files:
        protein = from_pdb(path)
        text = to_pdb(protein)
        again = from_pdb(text)
        assert_same_protein(protein, again)
        assert again.remarks == protein.remarks, path.name
        structure, caught = read_back_with_biopython(text)
        assert caught == [], (path.name, caught[:3])
        atoms = sum(1 for _ in structure.get_atoms())
        assert atoms == int(protein.atom_mask.sum()), path.name
        st = gemmi.read_pdb_string(text)
        assert [ch.name for ch in st[0]] == [protein.chain_id(i) for i in range(protein.num_chains)]
        assert st[0].count_atom_sites() == atoms


def test_multichain_file_has_one_ter_per_chain_and_ends_with_end(shared_data):
    protein = from_pdb(shared_data / "structures" / "5nmu.pdb")
    assert protein.chain_ids == ("B", "C", "D", "E", "F", "G")
    lines = to_pdb(protein).splitlines()
    ters = [line for line in lines if line.startswith("TER")]
    assert [t[21] for t in ters] == list("BCDEFG")
    assert lines[-1].rstrip() == "END"
    assert all(len(line) == 80 for line in lines)
    # A TER record names the last residue of its chain and takes the next serial number.
    last_atom = lines[lines.index(ters[0].ljust(80)) - 1]
    assert int(ters[0][6:11]) == int(last_atom[6:11]) + 1
    assert ters[0][17:26] == last_atom[17:26]


def test_atom_record_columns():
    protein = Protein(
        atom_positions=np.full((1, 37, 3), -123.4567, np.float32),
        atom_mask=np.eye(37, dtype=np.float32)[[1]],
        aatype=np.array([7]), residue_index=np.array([-5]), chain_index=np.array([0]),
        b_factors=np.full((1, 37), 87.654, np.float32), chain_ids=("z",),
    )
    line = to_pdb(protein).splitlines()[0]
    assert line[:6] == "ATOM  " and line[6:11] == "    1"
    assert line[12:16] == " CA " and line[17:20] == "GLY" and line[21] == "z"
    assert line[22:26] == "  -5"
    assert line[30:38] == "-123.457" and line[38:46] == "-123.457"
    assert line[54:60] == "  1.00" and line[60:66] == " 87.65"
    assert line[76:78] == " C"


def test_gapped_chains_keep_their_numbering(shared_data):
    protein = from_pdb(shared_data / "structures" / "GAPPY_PDB.pdb")
    gaps = np.flatnonzero(np.diff(protein.residue_index) > 1)
    assert len(gaps) > 0
    again = from_pdb(to_pdb(protein))
    np.testing.assert_array_equal(again.residue_index, protein.residue_index)


def test_hetero_groups_are_skipped_and_selenomethionine_read_as_methionine(shared_data):
    path = shared_data / "structures" / "2rbg.pdb"
    text = path.read_text()
    protein = from_pdb(path)
    atom_residues = {(line[21], int(line[22:26])) for line in text.splitlines()
                     if line.startswith("ATOM")}
    mse = {(line[21], int(line[22:26])) for line in text.splitlines()
           if line.startswith("HETATM") and line[17:20] == "MSE"}
    assert mse, "fixture should contain selenomethionine"
    keys = list(zip(protein.residue_chain_ids(), protein.residue_index.tolist(), strict=True))
    assert set(keys) == atom_residues | mse  # no waters, no sulphate
    assert {protein.sequence()[i] for i, key in enumerate(keys) if key in mse} == {"M"}


@pytest.mark.reference
@pytest.mark.parametrize("name", ["5nmu.pdb", "GAPPY_PDB.pdb", "glucagon.pdb",
                                  "relax/multiple_disulfides_target.pdb"])
def test_reader_agrees_with_reference_parser(shared_data, name):
    protein_ref = pytest.importorskip("alphafold.common.protein")
    text = (shared_data / "structures" / name).read_text()
    ref = protein_ref.from_pdb_string(text)
    ours = from_pdb(text)
    np.testing.assert_array_equal(ours.aatype, ref.aatype)
    np.testing.assert_array_equal(ours.residue_index, ref.residue_index)
    np.testing.assert_array_equal(ours.atom_mask, ref.atom_mask)
    np.testing.assert_allclose(ours.atom_positions, ref.atom_positions, atol=1e-5)
    np.testing.assert_allclose(ours.b_factors, ref.b_factors, atol=1e-5)


@pytest.mark.reference
def test_writer_reads_back_identically_with_reference_parser(shared_data):
    protein_ref = pytest.importorskip("alphafold.common.protein")
    ours = from_pdb(shared_data / "structures" / "5nmu.pdb")
    ref = protein_ref.from_pdb_string(to_pdb(ours))
    np.testing.assert_array_equal(ref.aatype, ours.aatype)
    np.testing.assert_array_equal(ref.residue_index, ours.residue_index)
    np.testing.assert_allclose(ref.atom_positions, ours.atom_positions, atol=6e-4)


def test_remarks_written_first_and_read_back():
    protein = Protein.from_prediction(
        np.array([0, 7]), np.ones((2, 37, 3)), np.eye(37)[[1, 1]], np.arange(2),
        plddt=np.array([50.0, 60.0]), remarks=[f"REMARK {UNTRAINED}"])
    text = to_pdb(protein, remarks=["250 second line", UNTRAINED])
    lines = text.splitlines()
    assert lines[0].rstrip() == f"REMARK {UNTRAINED}"
    assert lines[1].rstrip() == "REMARK 250 second line"
    assert lines[2].startswith("ATOM")
    assert read_remarks(text) == (UNTRAINED, "250 second line")
    assert from_pdb(text).remarks == (UNTRAINED, "250 second line")


def test_long_remark_is_wrapped_to_80_columns():
    protein = Protein.from_prediction(np.array([0, 7]), np.ones((2, 37, 3)),
                                      np.eye(37)[[1, 1]], np.arange(2))
    text = to_pdb(protein, remarks=["250 " + "word " * 40])
    remark_lines = [line for line in text.splitlines() if line.startswith("REMARK")]
    assert len(remark_lines) > 1
    assert all(line.startswith("REMARK 250 ") and len(line) == 80 for line in remark_lines)


def test_bad_input_is_a_one_line_input_error(tmp_path):
    with pytest.raises(InputError, match="no such PDB file"):
        from_pdb(tmp_path / "missing.pdb")
    empty = tmp_path / "empty.pdb"
    empty.write_text("HEADER    NOTHING\nEND\n")
    with pytest.raises(InputError, match=r"empty\.pdb"):
        from_pdb(empty)
    two_models = "MODEL 1\n{atom}ENDMDL\nMODEL 2\n{atom}ENDMDL\nEND\n".format(
        atom="ATOM      1  CA  GLY A   1       0.000   0.000   0.000  1.00  0.00           C\n")
    with pytest.raises(InputError, match="2 models"):
        from_pdb(two_models)


def test_chain_selection(shared_data):
    protein = from_pdb(shared_data / "structures" / "2rbg.pdb", chain_id="B")
    assert protein.chain_ids == ("B",) and protein.num_chains == 1
    with pytest.raises(InputError, match="chain Q"):
        from_pdb(shared_data / "structures" / "2rbg.pdb", chain_id="Q")
