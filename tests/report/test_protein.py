"""The Protein type: construction from model outputs, validation, immutability, views."""

from __future__ import annotations

import numpy as np
import pytest

from folding.common.alphabet import sequence_to_aatype
from folding.common.atoms import STANDARD_ATOM37_MASK
from folding.common.protein import Protein, normalize_remark


def _prediction(sequence: str = "MKG", seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    aatype = sequence_to_aatype(sequence)
    return {
        "aatype": aatype,
        "final_atom_positions": rng.normal(size=(len(sequence), 37, 3)) * 10,
        "final_atom_mask": STANDARD_ATOM37_MASK[aatype].astype(np.float32),
        "residue_index": np.arange(len(sequence)),
    }


def test_from_prediction_numbers_from_one_and_broadcasts_plddt():
    outputs = _prediction("MKGV")
    plddt = np.array([91.5, 80.0, 42.25, 10.0])
    protein = Protein.from_prediction(**outputs, plddt=plddt)
    assert protein.residue_index.tolist() == [1, 2, 3, 4]
    assert protein.chain_index.tolist() == [0, 0, 0, 0]
    assert protein.b_factors.shape == (4, 37)
    np.testing.assert_array_equal(protein.b_factors, np.repeat(plddt[:, None], 37, axis=1))
    np.testing.assert_allclose(protein.residue_b_factors(), plddt)
    assert protein.sequence() == "MKGV"
    assert protein.atom_positions.dtype == np.float32 and protein.aatype.dtype == np.int32
    assert protein.residue_index.dtype == np.int32 and protein.chain_index.dtype == np.int32


def test_from_prediction_without_plddt_has_zero_b_factors_and_multichain():
    outputs = _prediction("MKGVA")
    protein = Protein.from_prediction(**outputs, chain_index=np.array([0, 0, 0, 1, 1]),
                                      remarks=["REMARK 250 UNTRAINED PARAMETERS"])
    assert not protein.b_factors.any()
    assert protein.num_chains == 2
    assert protein.residue_chain_ids() == ["A", "A", "A", "B", "B"]
    assert protein.sequence(1) == "VA"
    assert protein.remarks == ("250 UNTRAINED PARAMETERS",)


def test_arrays_are_copied_and_read_only():
    outputs = _prediction()
    protein = Protein.from_prediction(**outputs)
    outputs["final_atom_positions"][:] = 0.0  # the caller's array stays the caller's
    assert protein.atom_positions.any()
    with pytest.raises(ValueError):
        protein.atom_positions[0, 0, 0] = 1.0
    with pytest.raises(AttributeError):
        protein.aatype = np.zeros(3)  # type: ignore[misc]


@pytest.mark.parametrize("field,value", [
    ("atom_positions", np.zeros((3, 36, 3))),
    ("atom_mask", np.zeros((2, 37))),
    ("aatype", np.array([0, 21, 1])),
    ("chain_index", np.array([0, -1, 0])),
])
def test_bad_shapes_and_values_are_rejected(field, value):
    protein = Protein.from_prediction(**_prediction())
    with pytest.raises(ValueError):
        protein.replace(**{field: value})


def test_chain_ids_must_cover_every_chain_and_be_unique():
    protein = Protein.from_prediction(**_prediction(), chain_index=np.array([0, 1, 1]))
    assert protein.replace(chain_ids=("H", "L")).residue_chain_ids() == ["H", "L", "L"]
    with pytest.raises(ValueError):
        protein.replace(chain_ids=("H",))
    with pytest.raises(ValueError):
        protein.replace(chain_ids=("H", "H"))


def test_select_chains_renumbers_chain_indices_and_keeps_ids():
    protein = Protein.from_prediction(**_prediction("MKGVA"),
                                      chain_index=np.array([0, 0, 1, 2, 2]))
    picked = protein.select_chains([2, 0])
    assert picked.sequence() == "MKVA"
    assert picked.chain_ids == ("C", "A")
    assert picked.residue_chain_ids() == ["A", "A", "C", "C"]


def test_remarks_normalised_and_deduplicated():
    assert normalize_remark("REMARK 250 UNTRAINED  PARAMETERS \n") == "250 UNTRAINED  PARAMETERS"
    protein = Protein.from_prediction(**_prediction()).with_remarks(
        "REMARK 250 A", "250 A", "250 B")
    assert protein.remarks == ("250 A", "250 B")


def test_ideal_atom_mask_matches_residue_types():
    protein = Protein.from_prediction(**_prediction("GW"))
    assert protein.ideal_atom_mask().sum(axis=1).tolist() == [4, 14]
