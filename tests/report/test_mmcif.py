"""mmCIF writer: ModelCIF pLDDT, entities, remarks; read back by gemmi, Biopython and the
reference's parsers without warnings; round trips on real structures."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import gemmi
import numpy as np
import pytest
from Bio.PDB import MMCIFParser
from Bio.PDB.MMCIF2Dict import MMCIF2Dict

from folding.common.mmcif import from_mmcif, read_plddt, to_mmcif
from folding.common.pdb import from_pdb
from folding.common.protein import Protein

UNTRAINED = "250 UNTRAINED PARAMETERS: random weights, not a structure prediction"


def _prediction(sequence_length: int = 6) -> Protein:
    rng = np.random.default_rng(1)
    aatype = rng.integers(0, 20, size=sequence_length)
    from folding.common.atoms import STANDARD_ATOM37_MASK

    return Protein.from_prediction(
        aatype=aatype,
        final_atom_positions=rng.normal(size=(sequence_length, 37, 3)) * 8,
        final_atom_mask=STANDARD_ATOM37_MASK[aatype],
        residue_index=np.arange(sequence_length),
        plddt=rng.uniform(20, 95, size=sequence_length).round(2),
        remarks=[UNTRAINED],
    )


def read_back(text: str) -> tuple[gemmi.Structure, object, list[str]]:
    """gemmi structure and Biopython structure of mmCIF text, with Biopython's warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bio = MMCIFParser(QUIET=False).get_structure("x", io.StringIO(text))
    st = gemmi.make_structure_from_block(gemmi.cif.read_string(text).sole_block())
    return st, bio, [str(w.message) for w in caught]


def test_plddt_as_modelcif_metrics():
    protein = _prediction()
    text = to_mmcif(protein, "model_1")
    cif = MMCIF2Dict(io.StringIO(text))
    assert cif["_ma_qa_metric.name"] == ["pLDDT", "pLDDT"]
    assert cif["_ma_qa_metric.mode"] == ["global", "local"]
    assert cif["_ma_qa_metric_local.metric_id"] == ["2"] * protein.num_residues
    local = np.array(cif["_ma_qa_metric_local.metric_value"], float)
    np.testing.assert_allclose(local, protein.residue_b_factors(), atol=5e-3)
    assert float(cif["_ma_qa_metric_global.metric_value"][0]) == pytest.approx(
        protein.residue_b_factors().mean(), abs=5e-3)
    per_atom = np.array(cif["_atom_site.B_iso_or_equiv"], float)
    np.testing.assert_allclose(per_atom, protein.b_factors[protein.atom_mask > 0.5], atol=5e-3)
    plddt = read_plddt(text)
    assert list(plddt.values()) == pytest.approx(list(protein.residue_b_factors()), abs=5e-3)
    assert list(plddt) == [("A", i) for i in range(1, protein.num_residues + 1)]
    assert cif["_audit_conform.dict_name"] == ["mmcif_pdbx.dic", "mmcif_ma.dic"]


def test_without_plddt_writes_no_metrics():
    text = to_mmcif(_prediction(), "x", with_plddt=False)
    assert "_ma_qa_metric" not in text


def test_remarks_go_to_pdbx_database_remark_and_come_back():
    protein = _prediction()
    text = to_mmcif(protein, "x", remarks=["250 second", "no number here"])
    cif = MMCIF2Dict(io.StringIO(text))
    assert cif["_pdbx_database_remark.id"][0] == "250"
    assert "UNTRAINED PARAMETERS" in cif["_pdbx_database_remark.text"][0]
    assert from_mmcif(text).remarks[:2] == (UNTRAINED, "250 second")


def test_read_back_without_warnings_and_identical(shared_data):
    folder = shared_data / "structures"
    paths = [folder / "5nmu.pdb", folder / "GAPPY_PDB.pdb", folder / "2rbg.pdb",
             folder / "relax" / "multiple_disulfides_target.pdb",
             *sorted((folder / "dssp").glob("*.pdb.gz"))[:12]]
    for path in paths:
        protein = from_pdb(path)
        text = to_mmcif(protein, path.name.split(".")[0], with_plddt=False)
        st, bio, caught = read_back(text)
        assert caught == [], (path.name, caught[:3])
        atoms = int(protein.atom_mask.sum())
        assert st[0].count_atom_sites() == atoms
        assert sum(1 for _ in bio.get_atoms()) == atoms
        again = from_mmcif(text)
        np.testing.assert_array_equal(again.aatype, protein.aatype)
        np.testing.assert_array_equal(again.residue_index, protein.residue_index)
        assert again.residue_chain_ids() == protein.residue_chain_ids()
        np.testing.assert_array_equal(again.atom_mask, protein.atom_mask)
        np.testing.assert_allclose(again.atom_positions, protein.atom_positions, atol=6e-4)
        np.testing.assert_allclose(again.b_factors, protein.b_factors, atol=6e-3)


def test_identical_chains_share_an_entity_and_gaps_are_unk(shared_data):
    protein = from_pdb(shared_data / "structures" / "5nmu.pdb")
    st, _, _ = read_back(to_mmcif(protein, "5nmu"))
    st.setup_entities()
    polymers = [e for e in st.entities if e.entity_type == gemmi.EntityType.Polymer]
    assert len(polymers) == 1 and list(polymers[0].subchains) == list("BCDEFG")

    gappy = from_pdb(shared_data / "structures" / "GAPPY_PDB.pdb")
    cif = MMCIF2Dict(io.StringIO(to_mmcif(gappy, "gappy")))
    seq_entity = np.array(cif["_entity_poly_seq.entity_id"])
    numbers = np.array(cif["_entity_poly_seq.num"], int)
    names = np.array(cif["_entity_poly_seq.mon_id"])
    first = numbers[seq_entity == "1"]
    assert first.tolist() == list(range(1, len(first) + 1))
    b = gappy.residue_index[gappy.chain_index == 0]
    present = set(b.tolist())
    missing = [n for n in range(1, b.max() + 1) if n not in present]
    assert missing and set(names[seq_entity == "1"][np.array(missing) - 1]) == {"UNK"}
    # label_seq_id equals the author number when numbering starts at 1 or above.
    assert cif["_atom_site.label_seq_id"] == cif["_atom_site.auth_seq_id"]


def test_negative_numbers_give_positive_label_seq_ids():
    protein = _prediction(4).replace(residue_index=np.array([-2, -1, 0, 1]))
    cif = MMCIF2Dict(io.StringIO(to_mmcif(protein, "neg")))
    assert sorted({int(v) for v in cif["_atom_site.label_seq_id"]}) == [1, 2, 3, 4]
    assert sorted({int(v) for v in cif["_atom_site.auth_seq_id"]}) == [-2, -1, 0, 1]
    np.testing.assert_array_equal(from_mmcif(to_mmcif(protein, "neg")).residue_index,
                                  [-2, -1, 0, 1])


def test_reads_a_real_pdb_entry(shared_data):
    path: Path = shared_data / "structures" / "3L4Q.cif"
    protein = from_mmcif(path)
    assert protein.num_chains >= 2 and protein.num_residues > 300
    again = from_mmcif(to_mmcif(protein, "3L4Q", with_plddt=False))
    np.testing.assert_array_equal(again.aatype, protein.aatype)
    np.testing.assert_allclose(again.atom_positions, protein.atom_positions, atol=6e-4)
    assert from_mmcif(path, chain_id="C").chain_ids == ("C",)


@pytest.mark.reference
def test_reference_parsers_read_our_mmcif(shared_data):
    protein_ref = pytest.importorskip("alphafold.common.protein")
    mmcif_parsing = pytest.importorskip("alphafold.data.mmcif_parsing")
    protein = from_pdb(shared_data / "structures" / "5nmu.pdb")
    text = to_mmcif(protein, "5nmu_model")
    ref = protein_ref.from_mmcif_string(text)
    np.testing.assert_array_equal(ref.aatype, protein.aatype)
    np.testing.assert_allclose(ref.atom_positions, protein.atom_positions, atol=6e-4)
    parsed = mmcif_parsing.parse(file_id="5nmu", mmcif_string=text)
    assert not parsed.errors
    assert parsed.mmcif_object.chain_to_seqres["B"] == protein.sequence(0)
