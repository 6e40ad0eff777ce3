"""bfloat16 inference of AlphaFold-Multimer v3 against our float32 (random weights).

The real A2B complex of ``test_multimer_parity.py`` (2Q2K's two chains and A0A024R1R8,
20 residues each, reduced MSA sampling), one recycle, the same random non-zero
parameters; our model runs once in float32 and once in bfloat16 (trunk in bfloat16,
layer norms, softmaxes, the structure module and the heads in float32). Measured on
CPU: CA RMSD after superposition 0.43 A, |delta pLDDT| at most 0.0013 (mean 0.00034),
|delta PAE| at most 0.25 A (mean 0.054), |delta pTM| and |delta ipTM| 0.0006 (the
reference's own bfloat16 against its float32 on the same inputs: 0.44 A, 0.0008, 0.28 A,
0.0007, 0.0007); the thresholds are about 3-4x our figures (``benchmarks/README.md``,
"bfloat16 accuracy").
"""

from __future__ import annotations

import collections
import logging
from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from model_cases import kabsch_rmsd
from multimer_inputs import real_complex

from folding.common.atoms import ATOM37_INDEX
from folding.model.features import RecycledState
from folding.model.multimer.config import multimer_model_config
from folding.model.multimer.features import MultimerFeatures, validate_multimer_features
from folding.model.multimer.runner import MultimerRunner
from folding.model.multimer.sampling import MsaSamplingConfig

mo = pytest.importorskip("multimer_oracle")

pytestmark = [pytest.mark.reference, pytest.mark.slow]

MODEL = "model_1_multimer_v3"
SEED = 7
THRESHOLDS = {"ca_rmsd": 1.5, "plddt_max": 0.005, "plddt_mean": 0.0015, "pae_max": 1.0,
              "pae_mean": 0.2, "ptm": 0.003, "iptm": 0.003}


def _runner(params, dtype: str) -> MultimerRunner:
    config = replace(multimer_model_config(MODEL).with_recycles(1),
                     sampling=MsaSamplingConfig(num_msa=64, num_extra_msa=256),
                     recycle_early_stop_tolerance=0.0)
    config = replace(config, global_config=replace(config.global_config, dtype=dtype))
    return MultimerRunner(config, params, "test")


@pytest.fixture(scope="module")
def case(shared_data):
    raw = real_complex(shared_data).features
    params = mo.random_params(mo.reference_config(MODEL, 0, 64, 256), raw)
    return params, MultimerFeatures(validate_multimer_features(raw, "real complex"))


def _dot_dtypes(jaxpr, counts: collections.Counter) -> collections.Counter:
    from jax.extend import core

    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "dot_general":
            counts[str(eqn.invars[0].aval.dtype)] += 1
        for value in eqn.params.values():
            for sub in value if isinstance(value, (list, tuple)) else (value,):
                if isinstance(sub, core.ClosedJaxpr):
                    _dot_dtypes(sub.jaxpr, counts)
                elif isinstance(sub, core.Jaxpr):
                    _dot_dtypes(sub, counts)
    return counts


def test_the_bfloat16_trunk_multiplies_in_bfloat16(case):
    """The switch reaches the trunk: most matmuls of a pass take bfloat16 inputs (the
    structure module and the heads stay float32)."""
    params, features = case
    runner = _runner(params, "bfloat16")
    sample = runner.sample(features, jax.random.PRNGKey(0))
    prev = RecycledState.zeros(features.arrays["aatype"].shape[0], 256, 128, jnp.float32)
    traced = jax.make_jaxpr(runner._apply)(runner.params, None, features.inputs(sample), prev)
    counts = _dot_dtypes(traced.jaxpr, collections.Counter())
    assert counts["bfloat16"] >= 4 * counts["float32"] > 0, counts


def test_bfloat16_close_to_float32(case):
    params, features = case
    outputs = {dtype: _runner(params, dtype).predict(features, seed=SEED)
               for dtype in ("float32", "bfloat16")}
    f32, b16 = outputs["float32"].output, outputs["bfloat16"].output
    assert outputs["bfloat16"].to_arrays()["dtype"] == "bfloat16"
    ca = ATOM37_INDEX["CA"]
    ca32 = np.asarray(f32.final_atom_positions, np.float64)[:, ca]
    ca16 = np.asarray(b16.final_atom_positions, np.float64)[:, ca]
    dplddt = np.abs(np.asarray(b16.plddt, np.float64) - np.asarray(f32.plddt, np.float64))
    dpae = np.abs(np.asarray(b16.predicted_aligned_error, np.float64)
                  - np.asarray(f32.predicted_aligned_error, np.float64))
    diffs = {"ca_rmsd": kabsch_rmsd(ca16, ca32), "plddt_max": float(dplddt.max()),
             "plddt_mean": float(dplddt.mean()), "pae_max": float(dpae.max()),
             "pae_mean": float(dpae.mean()), "ptm": abs(float(b16.ptm) - float(f32.ptm)),
             "iptm": abs(float(b16.iptm) - float(f32.iptm))}
    print("multimer bfloat16 - float32: " + ", ".join(f"{k} {v:.3g}" for k, v in diffs.items()))
    assert np.all(np.isfinite(ca16)) and diffs["plddt_max"] > 0.0  # it is not float32
    for key, value in diffs.items():
        assert value <= THRESHOLDS[key], f"{key} = {value:.3g}"


def test_bfloat16_passes_keep_one_signature(case, caplog):
    """Every pass returns its recycled pair in the trunk's dtype, the dtype of the zero
    state the first pass starts from, so the pass compiles once for all recycles (a
    float32 pair back would compile a second executable for the second pass)."""
    params, features = case
    runner = _runner(params, "bfloat16")
    dtypes = []
    jax.clear_caches()
    with jax.log_compiles(), caplog.at_level(logging.WARNING):
        runner.predict(features, seed=SEED + 1,
                       callback=lambda r, output, change: dtypes.append(
                           output.recycled.prev_pair.dtype))
    assert dtypes == [jnp.bfloat16] * 2
    compiled = [r.getMessage() for r in caplog.records
                if r.getMessage().startswith("Finished XLA compilation of jit(apply_fn)")]
    assert len(compiled) == 2, compiled  # the pass and the pair heads, once each
