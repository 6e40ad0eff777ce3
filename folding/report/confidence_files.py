"""Per-model confidence files in the formats other tools read.

* ``pae_<model>.json``: the predicted aligned error (supplement 1.9.7) in the format of
  the AlphaFold Protein Structure Database:
  ``[{"predicted_aligned_error": [[0, 1, 4, ...], ...], "max_predicted_aligned_error":
  31.75}]``, compact separators, values rounded to the nearest whole Angstrom as the
  database serves them since its 2022 expansion (AlphaFold's own pipeline writes one
  decimal in the same layout; full precision is in ``scores_<model>.json``).
  ``max_predicted_aligned_error`` is the largest value the PAE head can give, unrounded.
* ``confidence_<model>.json``: per-residue pLDDT as AlphaFold 2.3 writes it,
  ``{"residueNumber": [1, ...], "confidenceScore": [...], "confidenceCategory": [...]}``
  with pLDDT rounded to two decimals and the categories D (< 50), L (50-70), M (70-90)
  and H (>= 90).
* ``scores_<model>.json``: ColabFold's keys, as ColabFold fills them: ``plddt`` and
  ``pae`` rounded to two decimals, ``max_pae`` the largest value of the PAE matrix,
  ``ptm`` (and ``iptm``) rounded to two decimals; models without a PAE head have only
  ``plddt``. We add ``params_id`` and ``untrained_parameters`` so that a scores file
  never hides that its model was run with random parameters, and ``dtype``, the
  trunk's compute dtype (float32 or bfloat16), where the result records it.
"""

from __future__ import annotations

import json

import numpy as np

from folding.report.results import ModelResult

#: AlphaFold's pLDDT bands, lowest first: (lower bound, name, colour, category letter).
PLDDT_BANDS: tuple[tuple[float, str, str, str], ...] = (
    (0.0, "Very low", "#FF7D45", "D"),
    (50.0, "Low", "#FFDB13", "L"),
    (70.0, "Confident", "#65CBF3", "M"),
    (90.0, "Very high", "#0053D6", "H"),
)


def plddt_category(score: float) -> str:
    """AlphaFold's letter for a pLDDT: D (< 50), L (50-70), M (70-90), H (>= 90)."""
    if not 0.0 <= score <= 100.0:
        raise ValueError(f"pLDDT {score} outside 0-100")
    letter = PLDDT_BANDS[0][3]
    for lower, _, _, band_letter in PLDDT_BANDS:
        if score >= lower:
            letter = band_letter
    return letter


def pae_json(pae: np.ndarray, max_pae: float) -> str:
    """PAE in the AlphaFold Database format (whole Angstroms, compact JSON)."""
    if pae.ndim != 2 or pae.shape[0] != pae.shape[1]:
        raise ValueError(f"PAE must be a square matrix, got shape {pae.shape}")
    document = [{
        "predicted_aligned_error": np.rint(pae.astype(np.float64)).astype(np.int64).tolist(),
        "max_predicted_aligned_error": float(max_pae),
    }]
    return json.dumps(document, indent=None, separators=(",", ":"))


def confidence_json(plddt: np.ndarray) -> str:
    """Per-residue pLDDT with AlphaFold's confidence categories (compact JSON)."""
    scores = np.round(plddt.astype(np.float64), 2)
    document = {
        "residueNumber": list(range(1, len(scores) + 1)),
        "confidenceScore": scores.tolist(),
        "confidenceCategory": [plddt_category(float(s)) for s in np.clip(scores, 0, 100)],
    }
    return json.dumps(document, indent=None, separators=(",", ":"))


def scores(model: ModelResult) -> dict:
    """ColabFold's scores for one model (see the module docstring)."""
    result: dict = {"plddt": np.round(model.plddt.astype(np.float64), 2).tolist()}
    if model.pae is not None:
        result["max_pae"] = float(model.pae.max())
        result["pae"] = np.round(model.pae.astype(np.float64), 2).tolist()
    if model.ptm is not None:
        result["ptm"] = round(model.ptm, 2)
    if model.iptm is not None:
        result["iptm"] = round(model.iptm, 2)
    result["params_id"] = model.params_id
    result["untrained_parameters"] = model.untrained
    if model.dtype:
        result["dtype"] = model.dtype
    return result


def scores_json(model: ModelResult) -> str:
    return json.dumps(scores(model), indent=None, separators=(",", ":"))
