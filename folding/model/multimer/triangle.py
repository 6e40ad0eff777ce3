"""Triangle multiplication with fused projection weights (the multimer v3 layout).

The same update as Suppl. Alg. 11/12 (:mod:`folding.model.triangle`), with the left
and right projections and gates held in one ``projection`` and one ``gate`` layer of
twice the width (left = first half), the input layer norm named ``left_norm_input``
and the central one ``center_norm``: the layout of the official multimer v3 files. The
computation, in channel and row blocks for long sequences, is the monomer's
(:func:`folding.model.triangle.triangle_multiply`).
"""

from __future__ import annotations

import haiku as hk
import jax

from folding.model.global_config import GlobalConfig
from folding.model.primitives import LayerNorm, linear_params
from folding.model.triangle import (
    TriangleMultiplicationConfig,
    TriangleWeights,
    triangle_multiply,
)


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
        dtype = pair.dtype
        input_norm = LayerNorm(name="left_norm_input").params(channels)
        w, b = linear_params("projection", (channels,), (2 * ci,), dtype)
        wg, bg = linear_params("gate", (channels,), (2 * ci,), dtype, bias_init=1.0)
        weights = TriangleWeights(
            input_norm,
            left=(w[:, :ci], b[:ci]), left_gate=(wg[:, :ci], bg[:ci]),
            right=(w[:, ci:], b[ci:]), right_gate=(wg[:, ci:], bg[ci:]),
            center_norm=LayerNorm(name="center_norm").params(ci),
            output=linear_params("output_projection", (ci,), (channels,), dtype),
            gating=linear_params("gating_linear", (channels,), (channels,), dtype,
                                 bias_init=1.0))
        return triangle_multiply(weights, pair, pair_mask, c.outgoing,
                                 self.global_config.chunk_bytes)
