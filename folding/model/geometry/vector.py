"""Arrays of 3-vectors stored component-wise.

Storing x, y and z as separate arrays keeps coordinate arithmetic in plain elementwise
float32 operations: no 3x3 matmul that an accelerator could route to reduced-precision
matrix units. This is the representation of AlphaFold2's geometry layer (supplement 1.1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

Array = jax.Array

#: The regulariser added under square roots of squared norms, as in AlphaFold.
NORM_EPSILON = 1e-8


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Vec3:
    """An array of 3-vectors: ``x``, ``y`` and ``z`` share one shape (the vector's shape)."""

    x: Array
    y: Array
    z: Array

    @classmethod
    def from_array(cls, array: Array) -> Vec3:
        """From an array of shape [..., 3]."""
        if array.shape[-1] != 3:
            raise ValueError(f"expected a trailing dimension of 3, got shape {array.shape}")
        return cls(array[..., 0], array[..., 1], array[..., 2])

    @classmethod
    def zeros(cls, shape: tuple[int, ...], dtype: Any = jnp.float32) -> Vec3:
        return cls(*(jnp.zeros(shape, dtype) for _ in range(3)))

    def to_array(self) -> Array:
        """As an array of shape [..., 3]."""
        return jnp.stack([self.x, self.y, self.z], axis=-1)

    @property
    def shape(self) -> tuple[int, ...]:
        return jnp.shape(self.x)

    @property
    def dtype(self) -> Any:
        return jnp.result_type(self.x)

    def map(self, fn: Callable[[Array], Array]) -> Vec3:
        """Apply ``fn`` to each component (indexing, reshaping, stop_gradient, ...)."""
        return Vec3(fn(self.x), fn(self.y), fn(self.z))

    def __getitem__(self, index: Any) -> Vec3:
        return self.map(lambda a: a[index])

    def astype(self, dtype: Any) -> Vec3:
        return self.map(lambda a: jnp.asarray(a, dtype))

    def __add__(self, other: Vec3) -> Vec3:
        return Vec3(self.x + other.x, self.y + other.y, self.z + other.z)

    def __sub__(self, other: Vec3) -> Vec3:
        return Vec3(self.x - other.x, self.y - other.y, self.z - other.z)

    def __neg__(self) -> Vec3:
        return Vec3(-self.x, -self.y, -self.z)

    def __mul__(self, scale: Any) -> Vec3:
        """Multiply by a scalar or an array broadcastable to the vector's shape."""
        return Vec3(self.x * scale, self.y * scale, self.z * scale)

    __rmul__ = __mul__

    def __truediv__(self, scale: Any) -> Vec3:
        return Vec3(self.x / scale, self.y / scale, self.z / scale)

    def dot(self, other: Vec3) -> Array:
        return self.x * other.x + self.y * other.y + self.z * other.z

    def cross(self, other: Vec3) -> Vec3:
        return Vec3(self.y * other.z - self.z * other.y,
                    self.z * other.x - self.x * other.z,
                    self.x * other.y - self.y * other.x)

    def squared_norm(self) -> Array:
        return jnp.square(self.x) + jnp.square(self.y) + jnp.square(self.z)

    def norm(self, epsilon: float = NORM_EPSILON) -> Array:
        """Euclidean norm, ``sqrt(|v|^2 + epsilon)`` so that its gradient is finite at 0."""
        return jnp.sqrt(self.squared_norm() + epsilon)

    def normalized(self, epsilon: float = NORM_EPSILON) -> Vec3:
        return self / self.norm(epsilon)

    def squared_distance(self, other: Vec3) -> Array:
        return (jnp.square(self.x - other.x) + jnp.square(self.y - other.y)
                + jnp.square(self.z - other.z))

    def distance(self, other: Vec3, epsilon: float = NORM_EPSILON) -> Array:
        return jnp.sqrt(self.squared_distance(other) + epsilon)
