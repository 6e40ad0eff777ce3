"""The geometry layer: 3-vectors, rotations and rigid frames as JAX pytrees (float32 math).

Everything that moves coordinates in the model goes through these three types; they are
frozen dataclasses registered with ``jax.tree_util``, so they pass through ``jit``,
``vmap``, ``hk.scan`` and ``tree_map`` unchanged.
"""

from folding.model.geometry.rigid import Rigid3
from folding.model.geometry.rotation import Rot3, quaternion_multiply
from folding.model.geometry.vector import NORM_EPSILON, Vec3

__all__ = ["NORM_EPSILON", "Rigid3", "Rot3", "Vec3", "quaternion_multiply"]
