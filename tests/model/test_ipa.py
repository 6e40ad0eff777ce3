"""Invariant point attention (Algorithm 22): invariance, and parity with the reference."""

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from folding.model.geometry import Rigid3, Rot3, Vec3
from folding.model.ipa import InvariantPointAttention, InvariantPointAttentionConfig

NUM_RES = 20


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    single = jnp.asarray(rng.normal(size=(NUM_RES, 384)), jnp.float32)
    pair = jnp.asarray(rng.normal(size=(NUM_RES, NUM_RES, 128)), jnp.float32)
    mask = jnp.asarray(np.r_[np.ones(NUM_RES - 3), np.zeros(3)], jnp.float32)
    q = jnp.asarray(rng.normal(size=(NUM_RES, 4)), jnp.float32)
    q = q / jnp.linalg.norm(q, axis=-1, keepdims=True)
    trans = jnp.asarray(rng.normal(scale=2.0, size=(NUM_RES, 3)), jnp.float32)
    return single, pair, mask, q, trans


def _ours():
    def fn(single, pair, mask, frames):
        return InvariantPointAttention(InvariantPointAttentionConfig())(single, pair, mask, frames)
    return hk.transform(fn)


def _random_params(init_fn, seed):
    oracle = pytest.importorskip("oracle")
    return oracle.randomize(init_fn(), seed=seed)


def test_output_is_invariant_to_a_global_rigid_motion():
    single, pair, mask, q, trans = _inputs()
    frames = Rigid3(Rot3.from_quaternion(q), Vec3.from_array(trans))
    model = _ours()
    params = jax.jit(model.init)(jax.random.PRNGKey(0), single, pair, mask, frames)
    rng = np.random.default_rng(1)  # non-zero everywhere, so every path contributes
    params = jax.tree_util.tree_map(
        lambda p: p + np.float32(0.1) * rng.standard_normal(p.shape, np.float32), params)
    motion = Rigid3(Rot3.from_quaternion(jnp.array([0.3, -0.5, 0.2, 0.7])),
                    Vec3.from_array(jnp.array([4.0, -7.0, 2.5])))
    apply = jax.jit(model.apply)
    out = apply(params, None, single, pair, mask, frames)
    moved = apply(params, None, single, pair, mask, motion[None] @ frames)
    assert float(jnp.abs(out).max()) > 0.1
    np.testing.assert_allclose(moved, out, atol=1e-4)
    # ...while moving a single frame does change it
    shifted = Rigid3(frames.rot, frames.trans + Vec3.from_array(
        jnp.zeros((NUM_RES, 3)).at[0].set(1.0)))
    assert float(jnp.abs(apply(params, None, single, pair, mask, shifted) - out).max()) > 1e-3


@pytest.mark.reference
def test_matches_reference_ipa():
    oracle = pytest.importorskip("oracle")
    af_folding = pytest.importorskip("alphafold.model.folding")
    quat_affine = pytest.importorskip("alphafold.model.quat_affine")
    cfg = oracle.reference_config("model_1_ptm").model
    single, pair, mask, q, trans = _inputs(1)

    def ref_fn(single, pair, mask, q, trans):
        affine = quat_affine.QuatAffine(q, [trans[:, i] for i in range(3)], normalize=False)
        module = af_folding.InvariantPointAttention(cfg.heads.structure_module,
                                                    cfg.global_config)
        return module(single, pair, mask[:, None], affine)

    ref = hk.transform(ref_fn)
    ref_shapes = ref.init(jax.random.PRNGKey(0), single, pair, mask, q, trans)
    frames = Rigid3(Rot3.from_quaternion(q, normalize=False), Vec3.from_array(trans))
    ours = _ours()
    our_shapes = ours.init(jax.random.PRNGKey(0), single, pair, mask, frames)
    assert jax.tree_util.tree_map(jnp.shape, our_shapes) == \
        jax.tree_util.tree_map(jnp.shape, ref_shapes)

    params = oracle.randomize(ref_shapes, seed=3)
    expected = jax.jit(ref.apply)(params, None, single, pair, mask, q, trans)
    got = jax.jit(ours.apply)(params, None, single, pair, mask, frames)
    scale = float(jnp.abs(expected).max())
    assert scale > 0.1
    np.testing.assert_allclose(got, expected, atol=1e-5 * scale, rtol=0)
