"""The five heads: official parameter names and shapes, and parity with the reference."""

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from folding.model import heads

NUM_RES, NUM_SEQ = 12, 5


def _representations(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "msa": jnp.asarray(rng.normal(size=(NUM_SEQ, NUM_RES, 256)), jnp.float32),
        "pair": jnp.asarray(rng.normal(size=(NUM_RES, NUM_RES, 128)), jnp.float32),
        "single": jnp.asarray(rng.normal(size=(NUM_RES, 384)), jnp.float32),
        "structure_module": jnp.asarray(rng.normal(size=(NUM_RES, 384)), jnp.float32),
    }


def _ours(reps):
    return {
        "distogram": heads.DistogramHead()(reps["pair"]),
        "masked_msa": heads.MaskedMsaHead()(reps["msa"]),
        "predicted_lddt": heads.PredictedLDDTHead()(reps["structure_module"]),
        "experimentally_resolved": heads.ExperimentallyResolvedHead()(reps["single"]),
        "predicted_aligned_error": heads.PredictedAlignedErrorHead()(reps["pair"]),
    }


def test_shapes_and_symmetric_distogram():
    reps = _representations()
    model = hk.transform(_ours)
    params = jax.jit(model.init)(jax.random.PRNGKey(0), reps)
    assert set(params) == {
        "distogram_head/half_logits", "masked_msa_head/logits", "predicted_lddt_head/act_0",
        "predicted_lddt_head/act_1", "predicted_lddt_head/logits",
        "predicted_lddt_head/input_layer_norm", "experimentally_resolved_head/logits",
        "predicted_aligned_error_head/logits"}
    out = jax.jit(model.apply)(params, None, reps)
    assert out["distogram"].logits.shape == (NUM_RES, NUM_RES, 64)
    np.testing.assert_array_equal(out["distogram"].logits,
                                  np.swapaxes(out["distogram"].logits, 0, 1))
    assert out["masked_msa"].shape == (NUM_SEQ, NUM_RES, 23)
    assert out["predicted_lddt"].shape == (NUM_RES, 50)
    assert out["experimentally_resolved"].shape == (NUM_RES, 37)
    assert out["predicted_aligned_error"].logits.shape == (NUM_RES, NUM_RES, 64)
    np.testing.assert_allclose(np.asarray(out["predicted_aligned_error"].breaks)[[0, -1]],
                               [0.0, 31.0])
    np.testing.assert_allclose(np.asarray(out["distogram"].bin_edges)[[0, -1]],
                               [2.3125, 21.6875])
    # bf16 inputs still give float32 logits
    bf16 = jax.tree_util.tree_map(lambda x: x.astype(jnp.bfloat16), reps)
    assert model.apply(params, None, bf16)["predicted_lddt"].dtype == jnp.float32


@pytest.mark.reference
def test_heads_match_reference():
    oracle = pytest.importorskip("oracle")
    modules = pytest.importorskip("alphafold.model.modules")
    cfg = oracle.reference_config("model_1_ptm").model
    reps = _representations(1)

    def ref_fn(reps):
        gc, h = cfg.global_config, cfg.heads
        return {
            "distogram": modules.DistogramHead(h.distogram, gc)(reps, None, False),
            "masked_msa": modules.MaskedMsaHead(h.masked_msa, gc)(reps, None, False),
            "predicted_lddt": modules.PredictedLDDTHead(h.predicted_lddt, gc)(reps, None,
                                                                               False),
            "experimentally_resolved": modules.ExperimentallyResolvedHead(
                h.experimentally_resolved, gc)(reps, None, False),
            "predicted_aligned_error": modules.PredictedAlignedErrorHead(
                h.predicted_aligned_error, gc)(reps, None, False),
        }

    ref, ours = hk.transform(ref_fn), hk.transform(_ours)
    key = jax.random.PRNGKey(0)
    ref_shapes = jax.eval_shape(ref.init, key, reps)
    our_shapes = jax.eval_shape(ours.init, key, reps)
    assert jax.tree_util.tree_map(lambda s: s.shape, our_shapes) == \
        jax.tree_util.tree_map(lambda s: s.shape, ref_shapes)
    params = oracle.randomize(ref_shapes, seed=2)
    expected = ref.apply(params, None, reps)
    got = ours.apply(params, None, reps)
    pairs = {
        "distogram": (got["distogram"].logits, expected["distogram"]["logits"]),
        "distogram_edges": (got["distogram"].bin_edges, expected["distogram"]["bin_edges"]),
        "masked_msa": (got["masked_msa"], expected["masked_msa"]["logits"]),
        "predicted_lddt": (got["predicted_lddt"], expected["predicted_lddt"]["logits"]),
        "experimentally_resolved": (got["experimentally_resolved"],
                                    expected["experimentally_resolved"]["logits"]),
        "predicted_aligned_error": (got["predicted_aligned_error"].logits,
                                    expected["predicted_aligned_error"]["logits"]),
        "pae_breaks": (got["predicted_aligned_error"].breaks,
                       expected["predicted_aligned_error"]["breaks"]),
    }
    for name, (a, b) in pairs.items():
        scale = float(jnp.abs(b).max())
        diff = float(jnp.abs(a - b).max())
        print(f"{name}: max |diff| {diff:.2e} (max |value| {scale:.2f})")
        assert scale > 0.1, name
        assert diff <= 1e-5 * scale, name


def test_heads_use_full_float32_matmuls():
    """TF32 (the GPU default for float32) would move the logits by about 1e-3 relative."""
    reps = _representations()
    model = hk.transform(_ours)
    params = jax.eval_shape(model.init, jax.random.PRNGKey(0), reps)
    params = jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), params)
    with jax.default_matmul_precision("bfloat16"):
        jaxpr = jax.make_jaxpr(model.apply)(params, None, reps)
    precisions = [e.params["precision"] for e in jaxpr.jaxpr.eqns
                  if e.primitive.name == "dot_general"]
    highest = jax.lax.Precision.HIGHEST
    assert len(precisions) == 7
    assert all(tuple(p) == (highest, highest) for p in precisions), precisions


def test_pair_heads_by_blocks_of_rows():
    """The distogram and PAE/pTM computed a few rows at a time (as the model runs them)
    equal the whole-array head and the confidence functions on its logits."""
    from folding.model import confidence

    reps = _representations(seed=3)
    weights = jnp.asarray(np.r_[np.ones(NUM_RES - 2), 0.0, 0.0], jnp.float32)
    small = 5 * NUM_RES * 1024  # a budget of a few rows: 3 blocks and a remainder

    def fn(pair):
        distogram = heads.DistogramHead()
        return distogram(pair), distogram(pair, small), heads.PredictedAlignedErrorHead()(pair)

    model = hk.transform(fn)
    by_rows = hk.transform(lambda pair: heads.AlignedErrorByRows()(pair, weights, small))
    params = jax.tree_util.tree_map(
        lambda x: x + 0.1 * jax.random.normal(jax.random.PRNGKey(1), x.shape),
        model.init(jax.random.PRNGKey(0), reps["pair"]))
    assert set(by_rows.init(jax.random.PRNGKey(0), reps["pair"])) <= set(params)
    whole, blocks, logits = jax.jit(model.apply)(params, None, reps["pair"])
    aligned = jax.jit(by_rows.apply)(params, None, reps["pair"])
    np.testing.assert_allclose(blocks.logits, whole.logits, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(blocks.logits, np.swapaxes(blocks.logits, 0, 1))
    expected = confidence.predicted_aligned_error(logits.logits, logits.breaks)
    np.testing.assert_allclose(aligned.pae, expected.pae, rtol=1e-6, atol=1e-5)
    assert float(aligned.max_pae) == float(expected.max_pae)
    ptm = confidence.predicted_tm_score(logits.logits, logits.breaks, weights)
    np.testing.assert_allclose(aligned.ptm, ptm, rtol=1e-6)
    assert 0.0 < float(ptm) < 1.0
    assert aligned.iptm is None


def test_interface_ptm_by_blocks_of_rows():
    """ipTM (residue pairs of different chains) computed a few rows at a time equals
    :func:`confidence.predicted_tm_score` with ``asym_id`` on the whole logits, and pTM
    is unchanged by the chains."""
    from folding.model import confidence

    reps = _representations(seed=4)
    weights = jnp.asarray(np.r_[np.ones(NUM_RES - 2), 0.0, 0.0], jnp.float32)
    asym_id = jnp.asarray(np.repeat([1, 2, 3], [NUM_RES // 2, 3, NUM_RES - NUM_RES // 2 - 3]))
    small = 5 * NUM_RES * 1024

    model = hk.transform(lambda pair: heads.PredictedAlignedErrorHead()(pair))
    by_rows = hk.transform(
        lambda pair: heads.AlignedErrorByRows()(pair, weights, small, asym_id))
    params = jax.tree_util.tree_map(
        lambda x: x + 0.1 * jax.random.normal(jax.random.PRNGKey(2), x.shape),
        model.init(jax.random.PRNGKey(0), reps["pair"]))
    logits = jax.jit(model.apply)(params, None, reps["pair"])
    aligned = jax.jit(by_rows.apply)(params, None, reps["pair"])
    iptm = confidence.predicted_tm_score(logits.logits, logits.breaks, weights, asym_id)
    ptm = confidence.predicted_tm_score(logits.logits, logits.breaks, weights)
    np.testing.assert_allclose(aligned.iptm, iptm, rtol=1e-6)
    np.testing.assert_allclose(aligned.ptm, ptm, rtol=1e-6)
    assert abs(float(iptm) - float(ptm)) > 1e-4
