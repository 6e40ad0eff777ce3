"""Arrays of rigid transformations (rotation then translation): AlphaFold2's frames.

A frame T = (R, t) maps local coordinates to global ones, x -> R x + t (supplement 1.1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from folding.model.geometry.rotation import Rot3
from folding.model.geometry.vector import NORM_EPSILON, Vec3

Array = jax.Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Rigid3:
    """An array of rigid transformations sharing one shape."""

    rot: Rot3
    trans: Vec3

    @classmethod
    def identity(cls, shape: tuple[int, ...], dtype: Any = jnp.float32) -> Rigid3:
        return cls(Rot3.identity(shape, dtype), Vec3.zeros(shape, dtype))

    @classmethod
    def from_3_points(cls, point_on_neg_x_axis: Vec3, origin: Vec3, point_on_xy_plane: Vec3,
                      epsilon: float = NORM_EPSILON) -> Rigid3:
        """The frame at ``origin`` whose negative x axis points at ``point_on_neg_x_axis``
        and whose xy plane holds ``point_on_xy_plane`` (on the positive-y side).

        The Gram-Schmidt construction of Algorithm 21 (rigidFrom3Points), with the x axis
        running from ``point_on_neg_x_axis`` through ``origin``.
        """
        rot = Rot3.from_two_vectors(origin - point_on_neg_x_axis, point_on_xy_plane - origin,
                                    epsilon)
        return cls(rot, origin)

    @classmethod
    def from_array4x4(cls, m: Array) -> Rigid3:
        """From homogeneous matrices [..., 4, 4] (the last row is ignored)."""
        return cls(Rot3.from_array(m[..., :3, :3]), Vec3.from_array(m[..., :3, 3]))

    def to_array4x4(self) -> Array:
        top = jnp.concatenate([self.rot.to_array(), self.trans.to_array()[..., None]], axis=-1)
        bottom = jnp.broadcast_to(jnp.array([0.0, 0.0, 0.0, 1.0], top.dtype),
                                  (*top.shape[:-2], 1, 4))
        return jnp.concatenate([top, bottom], axis=-2)

    @classmethod
    def from_flat12(cls, m: Array) -> Rigid3:
        """From [..., 12]: the rotation row by row, then the translation."""
        return cls(Rot3(*(m[..., i] for i in range(9))), Vec3(m[..., 9], m[..., 10], m[..., 11]))

    def to_flat12(self) -> Array:
        rot = [getattr(self.rot, f.name) for f in dataclasses.fields(self.rot)]
        return jnp.stack([*rot, self.trans.x, self.trans.y, self.trans.z], axis=-1)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.rot.shape

    def map(self, fn: Callable[[Array], Array]) -> Rigid3:
        return Rigid3(self.rot.map(fn), self.trans.map(fn))

    def __getitem__(self, index: Any) -> Rigid3:
        return self.map(lambda a: a[index])

    def apply(self, v: Vec3) -> Vec3:
        """Local to global: R v + t."""
        return self.rot.apply(v) + self.trans

    def apply_inverse(self, v: Vec3) -> Vec3:
        """Global to local: R^T (v - t)."""
        return self.rot.apply_inverse(v - self.trans)

    def inverse(self) -> Rigid3:
        inv_rot = self.rot.inverse()
        return Rigid3(inv_rot, -inv_rot.apply(self.trans))

    def __matmul__(self, other: Rigid3) -> Rigid3:
        """Composition: (self @ other) v = self(other(v))."""
        return Rigid3(self.rot @ other.rot, self.trans + self.rot.apply(other.trans))

    def compose_rotation(self, rot: Rot3) -> Rigid3:
        """self @ (rot, 0): rotate in the local frame first."""
        return Rigid3(self.rot @ rot, self.trans)

    def scale_translation(self, factor: float) -> Rigid3:
        return Rigid3(self.rot, self.trans * factor)
