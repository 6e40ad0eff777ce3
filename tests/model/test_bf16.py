"""bfloat16 inference against our float32 on the whole-model parity cases (issue 7).

The same processed features and random non-zero parameters as
``test_model_parity.py``; our model runs once in float32 (real float32, the parity
mode) and once in bfloat16 (the fast mode: trunk in bfloat16, layer norms, softmaxes,
the structure module and the heads in float32). Measured: CA RMSD after optimal
superposition, max/mean |delta pLDDT|, max/mean |delta PAE| and |delta pTM|, with
thresholds at about 2-4x the figures measured on CPU (listed in
``benchmarks/README.md``, section "bfloat16 accuracy"). Untrained weights give a
nearly flat pLDDT (so its differences are tiny) and amplify perturbations of the
trunk into the structure (so the CA RMSD is large); the reference's own bfloat16 mode
shows the same figures against its float32 on these cases.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from model_cases import WEIGHT_SCALE, kabsch_rmsd, real_template, synthetic_raw

from folding.common.atoms import ATOM37_INDEX
from folding.model.config import model_config
from folding.model.features import ProcessedFeatures, validate_processed
from folding.model.global_config import GlobalConfig
from folding.model.runner import ModelRunner

oracle = pytest.importorskip("oracle")

pytestmark = [pytest.mark.reference, pytest.mark.slow]

# (model, L, MSA depth, max clusters, max extra MSA, with the real template, recycles):
# two of test_model_parity's cases (templates, extra MSA and one recycle; the longest).
CASES = {
    "template_extra_msa": ("model_1_ptm", 40, 60, 16, 64, True, 1),
    "long_no_template": ("model_5_ptm", 100, 50, 16, 48, False, 0),
}
#: Upper bounds, about 2-4x the figures measured on CPU (benchmarks/README.md). The
#: CA RMSD is large because untrained networks amplify any perturbation: the
#: reference's own bfloat16 run moves its CA atoms as far from its float32 run (1.44
#: and 0.30 A on these cases; ours 1.31 and 0.28 A).
THRESHOLDS = {
    "template_extra_msa": {"ca_rmsd": 3.0, "plddt_max": 0.01, "plddt_mean": 0.004,
                           "pae_max": 1.0, "pae_mean": 0.25, "ptm": 0.005},
    "long_no_template": {"ca_rmsd": 1.0, "plddt_max": 0.005, "plddt_mean": 0.002,
                         "pae_max": 0.5, "pae_mean": 0.1, "ptm": 0.003},
}


def test_kabsch_rmsd_ignores_rigid_motion():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(30, 3)) * 10
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q))
    assert kabsch_rmsd(points @ q.T + 5.0, points) < 1e-9
    noisy = points + rng.normal(scale=0.1, size=points.shape)
    assert 0.05 < kabsch_rmsd(noisy @ q.T, points) < 0.2


def bf16_differences(case: str, shared_data) -> dict[str, float]:
    """Our bfloat16 against our float32 on one parity case (the figures of the README)."""
    name, length, depth, clusters, extra, with_template, recycles = CASES[case]
    template = real_template(shared_data, length) if with_template else None
    raw = synthetic_raw(length, depth, seed=length, template=template)
    processed = oracle.process_features(name, raw, num_recycle=recycles,
                                        max_msa_clusters=clusters, max_extra_msa=extra)
    params = oracle.random_params(name, processed, scale=WEIGHT_SCALE)
    config = model_config(name, num_recycle=recycles)
    features = ProcessedFeatures(validate_processed(processed, config.uses_templates),
                                 config.uses_templates)
    outputs = {}
    for dtype in ("float32", "bfloat16"):
        run_config = dataclasses.replace(config, global_config=GlobalConfig(dtype=dtype))
        outputs[dtype] = ModelRunner(run_config, params, "test").predict(features).output
    f32, b16 = outputs["float32"], outputs["bfloat16"]
    ca = ATOM37_INDEX["CA"]
    ca32 = np.asarray(f32.final_atom_positions, np.float64)[:, ca]
    ca16 = np.asarray(b16.final_atom_positions, np.float64)[:, ca]
    dplddt = np.abs(np.asarray(b16.plddt, np.float64) - np.asarray(f32.plddt, np.float64))
    diffs = {"ca_rmsd": kabsch_rmsd(ca16, ca32),
             "plddt_max": float(dplddt.max()), "plddt_mean": float(dplddt.mean())}
    if f32.predicted_aligned_error is not None:
        dpae = np.abs(np.asarray(b16.predicted_aligned_error, np.float64)
                      - np.asarray(f32.predicted_aligned_error, np.float64))
        diffs.update(pae_max=float(dpae.max()), pae_mean=float(dpae.mean()),
                     ptm=abs(float(b16.ptm) - float(f32.ptm)))
    assert np.all(np.isfinite(ca16)) and np.all(np.isfinite(np.asarray(b16.plddt)))
    # The bfloat16 run is not the float32 one (the switch works).
    assert diffs["plddt_max"] > 0.0
    return diffs


@pytest.mark.parametrize("case", sorted(CASES))
def test_bfloat16_close_to_float32(case, shared_data):
    diffs = bf16_differences(case, shared_data)
    print(f"{case} ({CASES[case][0]}, L={CASES[case][1]}, {CASES[case][6]} recycles): "
          + ", ".join(f"{k} {v:.3g}" for k, v in diffs.items()))
    for key, value in diffs.items():
        assert value <= THRESHOLDS[case][key], f"{case}: {key} = {value:.3g}"
