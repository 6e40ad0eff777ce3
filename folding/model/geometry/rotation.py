"""Arrays of 3x3 rotation matrices stored component-wise, and unit quaternions.

Constructions used by AlphaFold2: Gram-Schmidt from two vectors (Algorithm 21), rotation
about the x axis from a (sin, cos) pair (Algorithm 25, makeRotX), and rotation from a
unit quaternion (the backbone update of Algorithm 23).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from folding.model.geometry.vector import NORM_EPSILON, Vec3

Array = jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Rot3:
    """An array of rotation matrices; ``xy`` is row x, column y."""

    xx: Array
    xy: Array
    xz: Array
    yx: Array
    yy: Array
    yz: Array
    zx: Array
    zy: Array
    zz: Array

    @classmethod
    def identity(cls, shape: tuple[int, ...], dtype: Any = jnp.float32) -> Rot3:
        one, zero = jnp.ones(shape, dtype), jnp.zeros(shape, dtype)
        return cls(one, zero, zero, zero, one, zero, zero, zero, one)

    @classmethod
    def from_array(cls, m: Array) -> Rot3:
        """From an array of shape [..., 3, 3]."""
        if m.shape[-2:] != (3, 3):
            raise ValueError(f"expected trailing dimensions (3, 3), got shape {m.shape}")
        return cls(*(m[..., i, j] for i in range(3) for j in range(3)))

    def to_array(self) -> Array:
        """As an array of shape [..., 3, 3]."""
        rows = [[self.xx, self.xy, self.xz], [self.yx, self.yy, self.yz],
                [self.zx, self.zy, self.zz]]
        return jnp.stack([jnp.stack(row, axis=-1) for row in rows], axis=-2)

    @classmethod
    def from_columns(cls, e0: Vec3, e1: Vec3, e2: Vec3) -> Rot3:
        return cls(e0.x, e1.x, e2.x, e0.y, e1.y, e2.y, e0.z, e1.z, e2.z)

    @classmethod
    def from_two_vectors(cls, x_direction: Vec3, xy_direction: Vec3,
                         epsilon: float = NORM_EPSILON) -> Rot3:
        """Gram-Schmidt: the first column along ``x_direction``, the second in the plane
        of both vectors (towards ``xy_direction``), the third their cross product.

        Algorithm 21 (rigidFrom3Points), lines 1-3.
        """
        e0 = x_direction.normalized(epsilon)
        e1 = (xy_direction - e0 * xy_direction.dot(e0)).normalized(epsilon)
        return cls.from_columns(e0, e1, e0.cross(e1))

    @classmethod
    def about_x(cls, sin: Array, cos: Array) -> Rot3:
        """Rotation about the x axis by the angle with this (sin, cos): Algorithm 25."""
        one, zero = jnp.ones_like(sin), jnp.zeros_like(sin)
        return cls(one, zero, zero, zero, cos, -sin, zero, sin, cos)

    @classmethod
    def from_quaternion(cls, q: Array, normalize: bool = True) -> Rot3:
        """From quaternions [..., 4] ordered (w, x, y, z); normalised first by default."""
        if normalize:
            q = q / jnp.linalg.norm(q, axis=-1, keepdims=True)
        w, i, j, k = (q[..., n] for n in range(4))
        return cls(
            w * w + i * i - j * j - k * k, 2 * (i * j - w * k), 2 * (i * k + w * j),
            2 * (i * j + w * k), w * w - i * i + j * j - k * k, 2 * (j * k - w * i),
            2 * (i * k - w * j), 2 * (j * k + w * i), w * w - i * i - j * j + k * k,
        )

    @property
    def shape(self) -> tuple[int, ...]:
        return jnp.shape(self.xx)

    def map(self, fn: Callable[[Array], Array]) -> Rot3:
        return Rot3(*(fn(getattr(self, f.name)) for f in dataclasses.fields(self)))

    def __getitem__(self, index: Any) -> Rot3:
        return self.map(lambda a: a[index])

    def apply(self, v: Vec3) -> Vec3:
        """Rotate vectors: R v."""
        return Vec3(self.xx * v.x + self.xy * v.y + self.xz * v.z,
                    self.yx * v.x + self.yy * v.y + self.yz * v.z,
                    self.zx * v.x + self.zy * v.y + self.zz * v.z)

    def apply_inverse(self, v: Vec3) -> Vec3:
        """Rotate vectors by the inverse: R^T v."""
        return self.inverse().apply(v)

    def inverse(self) -> Rot3:
        """The transpose."""
        return Rot3(self.xx, self.yx, self.zx, self.xy, self.yy, self.zy,
                    self.xz, self.yz, self.zz)

    def __matmul__(self, other: Rot3) -> Rot3:
        """Composition: (self @ other) v = self (other v)."""
        c0 = self.apply(Vec3(other.xx, other.yx, other.zx))
        c1 = self.apply(Vec3(other.xy, other.yy, other.zy))
        c2 = self.apply(Vec3(other.xz, other.yz, other.zz))
        return Rot3.from_columns(c0, c1, c2)


def quaternion_multiply(q1: Array, q2: Array) -> Array:
    """Hamilton product of quaternions [..., 4] ordered (w, x, y, z)."""
    w1, x1, y1, z1 = (q1[..., n] for n in range(4))
    w2, x2, y2, z2 = (q2[..., n] for n in range(4))
    return jnp.stack([
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
    ], axis=-1)
