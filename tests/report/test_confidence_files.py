"""Confidence files: AlphaFold DB PAE JSON, AlphaFold's pLDDT JSON, ColabFold scores."""

from __future__ import annotations

import json

import numpy as np
import pytest

from folding.report import confidence_files
from folding.report.results import load_models


def test_plddt_categories_follow_alphafold_bands():
    assert [confidence_files.plddt_category(v) for v in (0, 49.99, 50, 69.9, 70, 89.99, 90, 100)] \
        == ["D", "D", "L", "L", "M", "M", "H", "H"]
    with pytest.raises(ValueError):
        confidence_files.plddt_category(100.5)


@pytest.mark.reference
def test_pae_json_is_the_reference_layout_with_database_rounding():
    notebook_utils = pytest.importorskip("alphafold.notebooks.notebook_utils")
    rng = np.random.default_rng(3)
    pae = rng.uniform(0, 31.75, size=(57, 57)).astype(np.float32)
    ours = confidence_files.pae_json(pae, 31.75)
    # The reference writes the same layout with one decimal; the database rounds to integers.
    reference = json.loads(notebook_utils.get_pae_json(pae, 31.75))
    reference[0]["predicted_aligned_error"] = np.rint(pae.astype(np.float64)).astype(int).tolist()
    assert ours == json.dumps(reference, separators=(",", ":"))
    document = json.loads(ours)
    assert list(document[0]) == ["predicted_aligned_error", "max_predicted_aligned_error"]
    values = np.array(document[0]["predicted_aligned_error"])
    assert values.dtype.kind == "i" and np.abs(values - pae).max() <= 0.5 + 1e-6
    assert document[0]["max_predicted_aligned_error"] == 31.75


def test_pae_json_rejects_a_non_square_matrix():
    with pytest.raises(ValueError, match="square"):
        confidence_files.pae_json(np.zeros((3, 4)), 31.75)


def test_confidence_json_matches_alphafold_layout():
    document = json.loads(confidence_files.confidence_json(np.array([95.123, 72.5, 49.996, 10])))
    assert document == {
        "residueNumber": [1, 2, 3, 4],
        "confidenceScore": [95.12, 72.5, 50.0, 10.0],
        "confidenceCategory": ["H", "M", "L", "D"],
    }


def test_scores_have_colabfold_keys(target_folder):
    models = {m.name: m for m in load_models(target_folder.path)}
    model = models["model_3_ptm"]
    scores = json.loads(confidence_files.scores_json(model))
    assert {"plddt", "pae", "max_pae", "ptm"} <= set(scores)
    assert len(scores["plddt"]) == target_folder.length
    assert np.allclose(scores["plddt"], model.plddt, atol=0.005 + 1e-6)
    assert np.array(scores["pae"]).shape == (target_folder.length, target_folder.length)
    # ColabFold's max_pae is the largest value of the matrix, not the head's 31.75.
    assert scores["max_pae"] == pytest.approx(float(model.pae.max()))
    assert scores["ptm"] == round(model.ptm, 2)
    assert scores["untrained_parameters"] is True
    assert scores["params_id"] == "untrained:seed=0"
    assert scores["dtype"] == "bfloat16"  # the trunk's dtype the result records
