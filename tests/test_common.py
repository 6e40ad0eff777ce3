"""The residue alphabet and atom layouts agree with AlphaFold's tables."""

import numpy as np
import pytest

from folding.common import alphabet, atoms


def test_alphabet_order_is_alphabetical_three_letter():
    assert list(alphabet.RESIDUE_NAMES) == sorted(alphabet.RESIDUE_NAMES)
    assert "".join(alphabet.RESTYPES) == "ARNDCQEGHILKMFPSTWYV"


def test_hhblits_mapping_folds_rare_letters():
    ids = alphabet.HHBLITS_AA_TO_ID
    assert ids["U"] == ids["C"] and ids["B"] == ids["D"] and ids["Z"] == ids["E"]
    assert ids["O"] == ids["X"] == ids["J"] == 20 and ids["-"] == 21
    # HH-suite id -> our id round trip for the standard residues
    for letter in alphabet.RESTYPES:
        assert alphabet.HHBLITS_TO_AATYPE[ids[letter]] == alphabet.RESTYPE_INDEX[letter]


def test_atom_layouts_are_consistent():
    assert atoms.NUM_ATOM37 == 37
    assert atoms.STANDARD_ATOM37_MASK.sum(axis=1)[alphabet.RESTYPE_INDEX["W"]] == 14
    assert atoms.STANDARD_ATOM37_MASK[20].sum() == 0
    for restype, name in enumerate(alphabet.RESIDUE_NAMES):
        for slot, atom in enumerate(atoms.RESIDUE_ATOMS[name]):
            a37 = atoms.ATOM14_TO_ATOM37[restype, slot]
            assert atoms.ATOM37_NAMES[a37] == atom
            assert atoms.ATOM37_TO_ATOM14[restype, a37] == slot


@pytest.mark.reference
def test_tables_equal_reference():
    rc = pytest.importorskip("alphafold.common.residue_constants")
    assert list(alphabet.RESTYPES) == rc.restypes
    assert list(atoms.ATOM37_NAMES) == rc.atom_types
    assert alphabet.HHBLITS_AA_TO_ID == rc.HHBLITS_AA_TO_ID
    assert tuple(alphabet.HHBLITS_TO_AATYPE) == rc.MAP_HHBLITS_AATYPE_TO_OUR_AATYPE
    np.testing.assert_array_equal(atoms.STANDARD_ATOM37_MASK, rc.STANDARD_ATOM_MASK)
    for name in alphabet.RESIDUE_NAMES_WITH_UNK:
        assert list(atoms.atom14_names(name)) == rc.restype_name_to_atom14_names[name]
