"""pLDDT, PAE and pTM from logits, against the reference's common/confidence.py."""

import jax
import numpy as np
import pytest

from folding.model import confidence


def _logits(seed=0, num_res=30, num_bins=64, scale=3.0):
    rng = np.random.default_rng(seed)
    return (scale * rng.normal(size=(num_res, num_res, num_bins))).astype(np.float32)


BREAKS = np.linspace(0.0, 31.0, 63, dtype=np.float32)


def test_plddt_limits():
    uniform = np.zeros((4, 50), np.float32)
    np.testing.assert_allclose(confidence.plddt(uniform), 50.0, atol=1e-4)
    certain = np.full((1, 50), -1e4, np.float32)
    certain[0, -1] = 0.0
    np.testing.assert_allclose(confidence.plddt(certain), 99.0, atol=1e-4)


def test_pae_and_ptm_limits():
    certain_zero = np.full((25, 25, 64), -1e4, np.float32)
    certain_zero[..., 0] = 0.0
    pae = confidence.predicted_aligned_error(certain_zero, BREAKS)
    np.testing.assert_allclose(pae.pae, 31.0 / 62 / 2, atol=1e-5)  # first bin's centre
    np.testing.assert_allclose(pae.max_pae, 31.0 + 1.5 * 31.0 / 62, atol=1e-4)  # open bin
    d0 = float(confidence.tm_score_d0(25))
    assert d0 == pytest.approx(1.24 * 10 ** (1 / 3) - 1.8, rel=1e-6)
    expected = 1 / (1 + (31.0 / 124 / d0) ** 2)
    assert float(confidence.predicted_tm_score(certain_zero, BREAKS)) == \
        pytest.approx(expected, rel=1e-5)
    assert float(confidence.tm_score_d0(5)) == pytest.approx(float(confidence.tm_score_d0(19)))
    metrics = jax.jit(confidence.confidence_metrics)(np.zeros((25, 50), np.float32),
                                                     np.ones(25, np.float32), certain_zero,
                                                     BREAKS)
    assert float(metrics.mean_plddt) == pytest.approx(50.0, abs=1e-4)
    assert float(metrics.ptm) == pytest.approx(expected, rel=1e-5)


@pytest.mark.reference
@pytest.mark.parametrize("use_jnp", [False, True])
def test_matches_reference_confidence(use_jnp):
    ref = pytest.importorskip("alphafold.common.confidence")
    logits = _logits(1)
    mask = np.ones(30, np.float32)
    mask[-4:] = 0.0
    plddt_logits = logits[:, 0, :50]
    np.testing.assert_allclose(confidence.plddt(plddt_logits),
                               ref.compute_plddt(plddt_logits, use_jnp=use_jnp), atol=2e-5)
    ours = confidence.predicted_aligned_error(logits, BREAKS)
    theirs = ref.compute_predicted_aligned_error(logits, BREAKS, use_jnp=use_jnp)
    np.testing.assert_allclose(ours.pae, theirs["predicted_aligned_error"], atol=2e-5)
    np.testing.assert_allclose(ours.probs, theirs["aligned_confidence_probs"], atol=1e-6)
    assert float(ours.max_pae) == pytest.approx(float(theirs["max_predicted_aligned_error"]),
                                                abs=1e-5)
    for weights in (None, mask):
        ptm = confidence.predicted_tm_score(logits, BREAKS, weights)
        expected = ref.predicted_tm_score(logits, BREAKS, weights, use_jnp=use_jnp)
        assert abs(float(ptm) - float(expected)) < 1e-6
    asym = np.repeat([0, 1, 2], 10)
    iptm = confidence.predicted_tm_score(logits, BREAKS, mask, asym_id=asym)
    expected = ref.predicted_tm_score(logits, BREAKS, mask, asym_id=asym, use_jnp=use_jnp)
    assert abs(float(iptm) - float(expected)) < 1e-6
    metrics = confidence.confidence_metrics(plddt_logits, mask, logits, BREAKS)
    theirs = ref.get_confidence_metrics(
        {"predicted_lddt": {"logits": plddt_logits},
         "predicted_aligned_error": {"logits": logits, "breaks": BREAKS}}, mask,
        use_jnp=use_jnp)
    assert abs(float(metrics.mean_plddt) - float(theirs["mean_plddt"])) < 1e-4
    assert abs(float(metrics.ptm) - float(theirs["ptm"])) < 1e-6
