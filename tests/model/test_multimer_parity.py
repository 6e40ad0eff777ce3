"""Whole-model parity of AlphaFold-Multimer v3 with the reference (float32, random weights).

The input is a real A2B complex built by our multimer data pipeline
(``tests/model/multimer_inputs.py``: 2Q2K's two ParR chains and A0A024R1R8, with their
AlphaFold MSAs, species pairing and templates from the shared mmCIF database), each
chain cropped to 20 residues; the MSA keeps all 2,068 rows, and the sampling sizes are
reduced (64 centres, 256 extra rows) so that the rest of the MSA is dropped as in the full
models. Both models sample the MSA inside each pass from the same seed: ours reproduces
the reference's random stream, so no samples are exchanged.

Without recycling the outputs must agree within the monomer issue's tolerances; the
second pass is checked from the reference's own first-pass state; a whole run of the
reference's ``RunModel.predict`` with two recycles is compared loosely (recycling bins
distances, a discontinuity that amplifies rounding).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from multimer_inputs import real_complex

from folding.model.features import RecycledState
from folding.model.multimer.config import multimer_model_config
from folding.model.multimer.features import MultimerFeatures, validate_multimer_features
from folding.model.multimer.runner import MultimerRunner
from folding.model.multimer.sampling import MsaSamplingConfig, recycling_pass_keys

mo = pytest.importorskip("multimer_oracle")

pytestmark = [pytest.mark.reference, pytest.mark.slow]

MODEL = "model_1_multimer_v3"
NUM_MSA, NUM_EXTRA = 64, 256
SEED = 7
TIGHT = {"positions": 0.01, "plddt": 0.05, "pae": 0.05, "ptm": 1e-4, "iptm": 1e-4,
         "ranking": 1e-4, "distogram_rel": 1e-4}
LOOSE = {"positions": 0.5, "plddt": 0.5, "pae": 2.0, "ptm": 0.01, "iptm": 0.01,
         "ranking": 0.01}


@pytest.fixture(scope="module")
def case(shared_data):
    complex_ = real_complex(shared_data)
    raw = complex_.features
    params = mo.random_params(mo.reference_config(MODEL, 0, NUM_MSA, NUM_EXTRA), raw)
    config = replace(multimer_model_config(MODEL).with_recycles(2),
                     sampling=MsaSamplingConfig(num_msa=NUM_MSA, num_extra_msa=NUM_EXTRA),
                     recycle_early_stop_tolerance=0.0)
    features = MultimerFeatures(validate_multimer_features(raw, "real complex"))
    return complex_, MultimerRunner(config, params, "test"), features


@pytest.fixture(scope="module")
def reference_passes(case):
    """The three passes of the reference's RunModel.predict with two recycles."""
    complex_, runner, _ = case
    passes = mo.run_model((MODEL, 2, NUM_MSA, NUM_EXTRA, 0.0), runner.params,
                          complex_.features, SEED)
    assert len(passes) == 3
    return passes


def _diffs(ref, ours):
    logits = np.asarray(ref["distogram"]["logits"])
    return {
        "positions": mo.max_diff(ref["structure_module"]["final_atom_positions"],
                                 ours.final_atom_positions),
        "plddt": mo.max_diff(ref["plddt"], ours.plddt),
        "pae": mo.max_diff(ref["predicted_aligned_error"], ours.predicted_aligned_error),
        "ptm": mo.max_diff(ref["ptm"], ours.ptm),
        "iptm": mo.max_diff(ref["iptm"], ours.iptm),
        # the reference reports 80 ipTM + 20 pTM (0-100), AlphaFold 0.8 ipTM + 0.2 pTM
        "ranking": mo.max_diff(np.asarray(ref["ranking_confidence"]) / 100.0,
                               ours.ranking_confidence),
        "distogram_rel": mo.max_diff(logits, ours.distogram_logits) / np.abs(logits).max(),
    }


def _check(diffs, tolerances, label):
    print(f"{label}: " + ", ".join(f"{k} {v:.2e}" for k, v in diffs.items()))
    for key, value in diffs.items():
        if key in tolerances:
            assert value <= tolerances[key], f"{label}: {key} differs by {value:.3g}"


def test_the_complex_exercises_the_multimer_paths(case):
    complex_, _, features = case
    a = features.arrays
    assert [(c.chain_id, c.entity_id, c.sym_id) for c in complex_.chains] == [
        ("A", 1, 1), ("C", 1, 2), ("B", 2, 1)]
    assert a["msa"].shape[0] > NUM_MSA + NUM_EXTRA  # centres, extra rows and the rest
    live = a["msa_mask"].any(axis=1)
    paired = a["msa_mask"][live].all(axis=1).sum()
    assert paired > 50  # rows with residues in every chain (species pairing, copies)
    atoms = a["template_all_atom_mask"].sum(axis=(0, 2))
    assert all(atoms[a["asym_id"] == chain].sum() > 0 for chain in (1, 2, 3))


def test_whole_model_without_recycling(case, reference_passes):
    _, runner, features = case
    first_key = recycling_pass_keys(SEED, 1)[0]
    ours = runner.full_iteration(features, runner.sample(features, first_key),
                                 RecycledState.zeros(features.num_res))
    _check(_diffs(reference_passes[0], ours), TIGHT, "pass 0")
    assert 0.0 < float(ours.iptm) < 1.0


@pytest.mark.parametrize("r", [1, 2])
def test_recycling_pass_from_the_reference_state(case, reference_passes, r):
    _, runner, features = case
    pass_key = recycling_pass_keys(SEED, r + 1)[r]
    prev = RecycledState(**{k: np.asarray(v) for k, v in reference_passes[r - 1]["prev"].items()})
    ours = runner.full_iteration(features, runner.sample(features, pass_key), prev)
    _check(_diffs(reference_passes[r], ours), TIGHT, f"pass {r} from the reference's state")


def test_whole_run_with_two_recycles(case, reference_passes):
    _, runner, features = case
    ours = runner.predict(features, SEED)
    assert ours.num_recycles == 2
    ref = reference_passes[-1]
    diffs = _diffs(ref, ours.output)
    diffs.pop("distogram_rel")
    _check(diffs, LOOSE, "whole run, 2 recycles")
    assert abs(ours.recycle_changes[-1] - float(ref["tol"])) < 0.05
