"""The geometry layer: vectors, rotations and rigid frames."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from folding.model.geometry import Rigid3, Rot3, Vec3, quaternion_multiply


def _random_vecs(seed, shape):
    return Vec3.from_array(jnp.asarray(np.random.default_rng(seed).normal(size=(*shape, 3)),
                                       jnp.float32))


def _random_rigids(seed, shape):
    q = jnp.asarray(np.random.default_rng(seed).normal(size=(*shape, 4)), jnp.float32)
    return Rigid3(Rot3.from_quaternion(q), _random_vecs(seed + 1, shape) * 5.0)


def test_from_3_points_is_a_proper_frame():
    a, b, c = (_random_vecs(s, (50,)) for s in range(3))
    frame = Rigid3.from_3_points(a, b, c)
    rot = np.asarray(frame.rot.to_array(), np.float64)
    np.testing.assert_allclose(rot @ np.swapaxes(rot, -1, -2), np.broadcast_to(np.eye(3),
                               rot.shape), atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-5)
    local_a, local_c = frame.apply_inverse(a), frame.apply_inverse(c)
    np.testing.assert_array_less(np.asarray(local_a.x), 0.0)  # on the negative x axis
    np.testing.assert_allclose(np.asarray(local_a.y), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(local_a.z), 0.0, atol=1e-5)
    np.testing.assert_array_less(0.0, np.asarray(local_c.y))  # in the xy plane, y > 0
    np.testing.assert_allclose(np.asarray(local_c.z), 0.0, atol=1e-5)


def test_composition_inverse_and_application():
    t1, t2 = _random_rigids(0, (7,)), _random_rigids(10, (7,))
    v = _random_vecs(20, (7,))
    np.testing.assert_allclose((t1 @ t2).apply(v).to_array(), t1.apply(t2.apply(v)).to_array(),
                               atol=1e-4)
    np.testing.assert_allclose(t1.inverse().apply(t1.apply(v)).to_array(), v.to_array(),
                               atol=1e-4)
    np.testing.assert_allclose(t1.apply_inverse(t1.apply(v)).to_array(), v.to_array(),
                               atol=1e-4)
    ident = t1 @ t1.inverse()
    np.testing.assert_allclose(ident.to_array4x4(), np.broadcast_to(np.eye(4), (7, 4, 4)),
                               atol=1e-5)
    np.testing.assert_allclose(Rigid3.from_array4x4(t1.to_array4x4()).to_flat12(),
                               t1.to_flat12())
    np.testing.assert_allclose(Rigid3.from_flat12(t1.to_flat12()).to_array4x4(),
                               t1.to_array4x4())


def test_quaternions_compose_like_rotations():
    rng = np.random.default_rng(3)
    q1, q2 = (jnp.asarray(rng.normal(size=(5, 4)), jnp.float32) for _ in range(2))
    q1 = q1 / jnp.linalg.norm(q1, axis=-1, keepdims=True)
    q2 = q2 / jnp.linalg.norm(q2, axis=-1, keepdims=True)
    lhs = Rot3.from_quaternion(quaternion_multiply(q1, q2)).to_array()
    rhs = (Rot3.from_quaternion(q1) @ Rot3.from_quaternion(q2)).to_array()
    np.testing.assert_allclose(lhs, rhs, atol=1e-5)


def test_rotation_about_x():
    angle = jnp.linspace(-3.0, 3.0, 11)
    rot = Rot3.about_x(jnp.sin(angle), jnp.cos(angle))
    v = rot.apply(Vec3(jnp.zeros(11), jnp.ones(11), jnp.zeros(11)))
    np.testing.assert_allclose(v.x, 0.0)
    np.testing.assert_allclose(np.arctan2(v.z, v.y), angle, atol=1e-5)


def test_types_are_pytrees():
    frames = _random_rigids(0, (4, 3))
    assert len(jax.tree_util.tree_leaves(frames)) == 12
    doubled = jax.jit(lambda f: f.scale_translation(2.0))(frames)
    np.testing.assert_allclose(doubled.trans.x, 2 * frames.trans.x, rtol=1e-6)
    assert frames[1].shape == (3,) and frames[:, None].shape == (4, 1, 3)
    stacked = jax.tree_util.tree_map(lambda a, b: jnp.stack([a, b]), frames, frames)
    assert stacked.shape == (2, 4, 3)


@pytest.mark.reference
def test_matches_reference_r3_and_quat_affine():
    r3 = pytest.importorskip("alphafold.model.r3")
    quat_affine = pytest.importorskip("alphafold.model.quat_affine")
    a, b, c = (_random_vecs(s, (30,)) for s in range(3))
    ours = Rigid3.from_3_points(a, b, c)
    ref = r3.rigids_from_3_points(*(r3.Vecs(v.x, v.y, v.z) for v in (a, b, c)))
    np.testing.assert_allclose(ours.to_flat12(), r3.rigids_to_tensor_flat12(ref), atol=1e-6)
    v = _random_vecs(7, (30,))
    ref_inv = r3.rigids_mul_vecs(r3.invert_rigids(ref), r3.Vecs(v.x, v.y, v.z))
    np.testing.assert_allclose(ours.inverse().apply(v).to_array(), r3.vecs_to_tensor(ref_inv),
                               atol=1e-5)
    q = jnp.asarray(np.random.default_rng(5).normal(size=(30, 4)), jnp.float32)
    q = q / jnp.linalg.norm(q, axis=-1, keepdims=True)
    ref_rot = jnp.stack([jnp.stack(row, -1) for row in quat_affine.quat_to_rot(q)], -2)
    np.testing.assert_allclose(Rot3.from_quaternion(q, normalize=False).to_array(), ref_rot,
                               atol=1e-6)
    q2 = jnp.asarray(np.random.default_rng(6).normal(size=(30, 4)), jnp.float32)
    np.testing.assert_allclose(quaternion_multiply(q, q2), quat_affine.quat_multiply(q, q2),
                               atol=1e-6)
