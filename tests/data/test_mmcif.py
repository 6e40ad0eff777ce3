"""mmCIF entries: equal to the reference's parser on real PDB entries; clear failures.

The reference (``alphafold.data.mmcif_parsing`` + ``templates._get_atom_positions``) is
compared on entries chosen for their difficulties: NMR with 20 models (2crb),
selenomethionine (4zey), many chains (5kc1), protein+DNA (2q2k), an X-ray lysozyme
(1aki) and entries without protein chains (4gxy, 4p5j).

Modified residues: DeepMind's AlphaFold reads a modified residue in SEQRES as its parent
(MSE as M) through Biopython <= 1.79's three-to-one table; the PyPI reference, running
on Biopython >= 1.80 whose ``protein_letters_3to1`` holds only the 20 standard residues,
reads it as X. We follow AlphaFold (Biopython's ``protein_letters_3to1_extended``, the
same table); the comparison gives the reference that table, and
``test_reference_on_new_biopython_reads_mse_as_x`` documents the difference.
"""

from __future__ import annotations

import datetime
import types

import numpy as np
import pytest

from folding.data.templates.mmcif import MmcifError, parse_mmcif, read_mmcif

ENTRIES = {
    "2crb": "alignments/openfold_short_mmcifs/2crb.cif",
    "4zey": "templates/pdb_mmcif/mmcif_files/4zey.cif",
    "5kc1": "alignments/openfold_short_mmcifs/5kc1.cif",
    "2q2k": "templates/pdb_mmcif/mmcif_files/2q2k.cif",
    "1aki": "templates/pdb_mmcif/mmcif_files/1aki.cif",
    "5i55": "templates/pdb_mmcif/mmcif_files/5i55.cif",
}


@pytest.fixture
def reference_parser(monkeypatch):
    mmcif_parsing = pytest.importorskip("alphafold.data.mmcif_parsing")
    from alphafold.data import templates
    from Bio.Data import PDBData

    extended = types.SimpleNamespace(protein_letters_3to1=PDBData.protein_letters_3to1_extended)
    monkeypatch.setattr(mmcif_parsing, "PDBData", extended)
    return mmcif_parsing, templates


@pytest.mark.reference
@pytest.mark.parametrize("entry_id", sorted(ENTRIES))
def test_entry_equals_reference(shared_data, reference_parser, entry_id):
    mmcif_parsing, templates = reference_parser
    path = shared_data / ENTRIES[entry_id]
    ref = mmcif_parsing.parse.__wrapped__(file_id=entry_id, mmcif_string=path.read_text())
    ref_entry = ref.mmcif_object
    ours = read_mmcif(path)
    assert ours.entry_id == entry_id
    assert ours.chain_sequences == ref_entry.chain_to_seqres
    assert list(ours.chains) == list(ref_entry.chain_to_seqres)
    assert ours.release_date == datetime.date.fromisoformat(ref_entry.header["release_date"])
    assert ours.structure_method == ref_entry.header["structure_method"]
    assert ours.resolution == ref_entry.header["resolution"]
    for chain_id, chain in ours.chains.items():
        positions, mask = templates._get_atom_positions(ref_entry, chain_id, 150.0)
        assert chain.atom_error is None
        np.testing.assert_array_equal(chain.atom_positions, positions.astype(np.float32))
        np.testing.assert_array_equal(chain.atom_mask, mask.astype(np.float32))
        missing = [i for i, r in ref_entry.seqres_to_structure[chain_id].items() if r.is_missing]
        assert sorted(np.flatnonzero(~chain.observed)) == sorted(missing)


def test_known_facts_of_real_entries(shared_data):
    nmr = read_mmcif(shared_data / ENTRIES["2crb"])
    assert nmr.structure_method == "solution nmr" and nmr.resolution == 0.0
    lysozyme = read_mmcif(shared_data / ENTRIES["1aki"])
    assert lysozyme.release_date == datetime.date(1997, 11, 19)
    assert list(lysozyme.chains) == ["A"] and lysozyme.chains["A"].num_res == 129
    selenium = read_mmcif(shared_data / ENTRIES["4zey"])
    chain = next(iter(selenium.chains.values()))
    assert "X" not in chain.sequence and "M" in chain.sequence
    # Selenium of MSE sits in the SD slot of methionine.
    assert chain.atom_mask[:, 18].sum() > 0
    complex_ = read_mmcif(shared_data / ENTRIES["2q2k"])
    assert all(set(c.sequence) - set("ACGTU") for c in complex_.chains.values())  # no DNA


@pytest.mark.reference
def test_reference_on_new_biopython_reads_mse_as_x(shared_data):
    mmcif_parsing = pytest.importorskip("alphafold.data.mmcif_parsing")
    path = shared_data / ENTRIES["4zey"]
    ref = mmcif_parsing.parse.__wrapped__(file_id="4zey", mmcif_string=path.read_text())
    ours = read_mmcif(path)
    for chain_id, sequence in ref.mmcif_object.chain_to_seqres.items():
        mine = ours.chains[chain_id].sequence
        differ = [i for i, (a, b) in enumerate(zip(sequence, mine, strict=True)) if a != b]
        assert differ and all(sequence[i] == "X" and mine[i] == "M" for i in differ)


@pytest.mark.parametrize("name", ["4gxy", "4p5j"])
def test_entry_without_protein_chains_is_refused(shared_data, name):
    with pytest.raises(MmcifError, match="no protein chains"):
        read_mmcif(shared_data / f"templates/pdb_mmcif/mmcif_files/{name}.cif")


def test_unreadable_files_raise_mmcif_error(shared_data, tmp_path):
    with pytest.raises(MmcifError, match="cannot read"):
        read_mmcif(tmp_path / "none.cif")
    text = (shared_data / ENTRIES["1aki"]).read_text()
    with pytest.raises(MmcifError):
        parse_mmcif(text[: len(text) // 3], "1aki")
    with pytest.raises(MmcifError):
        parse_mmcif("this is not an mmCIF file\n", "junk")
    binary = tmp_path / "bin.cif"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(MmcifError):
        read_mmcif(binary)


def test_missing_release_date_reads_as_none(shared_data):
    text = (shared_data / ENTRIES["1aki"]).read_text()
    stripped = text.replace("_pdbx_audit_revision_history.revision_date",
                            "_pdbx_audit_revision_history.revision_dat_")
    assert parse_mmcif(stripped, "1aki").release_date is None
