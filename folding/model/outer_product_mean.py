"""Outer product mean: the MSA's update to the pair representation (Suppl. Alg. 10).

For every residue pair (i, j) the outer product of projected MSA columns i and j is
averaged over the sequences, flattened and projected to the pair channels. The mean
divides by the number of sequences that cover both residues plus 1e-3, after the
output bias is added: with an empty MSA (the extra MSA of a shallow alignment) the
update is the bias times 1000, exactly as in AlphaFold.
"""

from __future__ import annotations

from dataclasses import dataclass

import haiku as hk
import jax
import jax.numpy as jnp

from folding.model import chunking
from folding.model.global_config import GlobalConfig
from folding.model.primitives import LayerNorm, Linear

#: Added to the count of sequences covering a pair before dividing (Suppl. Alg. 10).
EPSILON = 1e-3
#: Below this many sequences the output projection is applied to one side first,
#: which needs fewer operations (N * 4096 < 1024 * (N + 128) for 32 channels).
_FEW_SEQUENCES = 32


@dataclass(frozen=True)
class OuterProductMeanConfig:
    """Suppl. Alg. 10 with ``num_outer_channel`` (c) projections per side."""

    num_outer_channel: int = 32
    dropout_rate: float = 0.0


class OuterProductMean(hk.Module):
    """Suppl. Alg. 10, OuterProductMean."""

    def __init__(self, config: OuterProductMeanConfig, global_config: GlobalConfig,
                 num_output_channel: int, name: str = "outer_product_mean") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config
        self.num_output_channel = num_output_channel

    def __call__(self, msa: jax.Array, msa_mask: jax.Array) -> jax.Array:
        """msa [N, L, c_m], msa_mask [N, L] -> pair update [L, L, c_z]."""
        c = self.config.num_outer_channel
        out_c = self.num_output_channel
        mask = msa_mask[..., None].astype(msa.dtype)
        act = LayerNorm(name="layer_norm_input")(msa)
        left = mask * Linear(c, name="left_projection")(act)
        right = mask * Linear(c, name="right_projection")(act)
        output_w = hk.get_parameter("output_w", (c, c, out_c), msa.dtype,
                                    hk.initializers.VarianceScaling(2.0, "fan_in"))
        output_b = hk.get_parameter("output_b", (out_c,), msa.dtype,
                                    hk.initializers.Constant(0.0))
        num_seq, num_res = msa.shape[:2]

        if num_seq < _FEW_SEQUENCES:
            projected_right = jnp.einsum("aje,cef->acjf", right, output_w)

            def block(left_i, mask_i):
                out = jnp.einsum("aic,acjf->ijf", left_i, projected_right) + output_b
                norm = jnp.einsum("ai,aj->ij", mask_i[..., 0], mask[..., 0])
                return out / (EPSILON + norm[..., None])

            item = 2 * num_res * out_c * jnp.dtype(msa.dtype).itemsize
        else:
            def block(left_i, mask_i):
                outer = jnp.einsum("aic,aje->ijce", left_i, right)
                out = jnp.einsum("ijce,cef->ijf", outer, output_w) + output_b
                norm = jnp.einsum("ai,aj->ij", mask_i[..., 0], mask[..., 0])
                return out / (EPSILON + norm[..., None])

            item = 2 * num_res * c * c * jnp.dtype(msa.dtype).itemsize
        size = chunking.chunk_size(num_res, item, self.global_config.chunk_bytes)
        return chunking.map_chunks(block, [left, mask], [1, 1], 0, size)
