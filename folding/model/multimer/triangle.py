"""Triangle multiplication with fused projection weights (the multimer v3 layout).

The same update as Suppl. Alg. 11/12 (:mod:`folding.model.triangle`), with the left
and right projections and gates held in one ``projection`` and one ``gate`` layer of
twice the width (left = first half), the input layer norm named ``left_norm_input``
and the central one ``center_norm``: the layout of the official multimer v3 files.
"""

from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp

from folding.model.global_config import GlobalConfig
from folding.model.primitives import LayerNorm, Linear
from folding.model.triangle import TriangleMultiplicationConfig


class FusedTriangleMultiplication(hk.Module):
    """Suppl. Alg. 11 (outgoing) and 12 (incoming) with fused weights."""

    def __init__(self, config: TriangleMultiplicationConfig, global_config: GlobalConfig,
                 name: str = "triangle_multiplication") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, pair: jax.Array, pair_mask: jax.Array) -> jax.Array:
        """pair [L, L, c_z], pair_mask [L, L] -> update [L, L, c_z]."""
        c = self.config
        channels = pair.shape[-1]
        ci = c.num_intermediate_channel
        act = LayerNorm(name="left_norm_input")(pair)
        projected = pair_mask[..., None].astype(pair.dtype) * Linear(
            2 * ci, name="projection")(act)
        projected = projected * jax.nn.sigmoid(
            Linear(2 * ci, bias_init=1.0, name="gate")(act))
        left, right = projected[..., :ci], projected[..., ci:]
        if c.outgoing:
            tri = jnp.einsum("ikc,jkc->ijc", left, right)
        else:
            tri = jnp.einsum("kjc,kic->ijc", left, right)
        tri = LayerNorm(name="center_norm")(tri)
        out = Linear(channels, name="output_projection")(tri)
        return out * jax.nn.sigmoid(Linear(channels, bias_init=1.0, name="gating_linear")(act))
