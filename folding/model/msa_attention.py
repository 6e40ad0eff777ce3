"""Attention over the MSA representation: along rows with pair bias, along columns.

Each layer returns the update to add to the MSA (the caller adds it with dropout).
The layer norm, projections and attention of a layer run inside one chunked loop
(:mod:`folding.model.chunking`), so no full-size normalised or projected copy of the
MSA is ever materialised.
"""

from __future__ import annotations

import haiku as hk
import jax
import jax.numpy as jnp

from folding.model import chunking
from folding.model.attention import (
    AttentionConfig,
    GatedAttention,
    GlobalAttention,
    attention_item_bytes,
    gated_attention,
    global_attention,
    pair_bias,
)
from folding.model.attention_core import attention_implementation, mask_bias
from folding.model.global_config import GlobalConfig
from folding.model.primitives import LayerNorm, layer_norm


class MSARowAttentionWithPairBias(hk.Module):
    """Suppl. Alg. 7, MSA row-wise gated self-attention with pair bias."""

    def __init__(self, config: AttentionConfig, global_config: GlobalConfig,
                 name: str = "msa_row_attention_with_pair_bias") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, msa: jax.Array, msa_mask: jax.Array, pair: jax.Array) -> jax.Array:
        """msa [N, L, c_m], msa_mask [N, L], pair [L, L, c_z] -> update [N, L, c_m]."""
        c = self.config
        num_seq, num_res, channels = msa.shape
        query_ln = LayerNorm(name="query_norm").params(channels)
        feat_2d_ln = LayerNorm(name="feat_2d_norm").params(pair.shape[-1])
        feat_2d_weights = hk.get_parameter(
            "feat_2d_weights", (pair.shape[-1], c.num_head), msa.dtype,
            hk.initializers.RandomNormal(stddev=float(pair.shape[-1]) ** -0.5))
        bias_2d = pair_bias(pair, *feat_2d_ln, feat_2d_weights,
                            self.global_config.chunk_bytes)
        attn = GatedAttention(c.num_head, channels, c.gating, c.key_dim, c.value_dim)
        weights = attn.weights(channels, channels, msa.dtype)
        impl = attention_implementation(self.global_config.attention, msa.dtype,
                                        weights.query_w.shape[-1], weights.value_w.shape[-1])

        def rows(x, mask):
            x = layer_norm(x, *query_ln)
            bias = mask_bias(mask, x.dtype)[:, None, None, :]
            return gated_attention(weights, x, x, bias, bias_2d, impl)

        item = attention_item_bytes(c.num_head, num_res, num_res, channels,
                                    jnp.dtype(msa.dtype).itemsize, impl)
        size = chunking.chunk_size(num_seq, item, self.global_config.chunk_bytes)
        return chunking.map_chunks(rows, [msa, msa_mask], [0, 0], 0, size)


class MSAColumnAttention(hk.Module):
    """Suppl. Alg. 8, MSA column-wise gated self-attention."""

    def __init__(self, config: AttentionConfig, global_config: GlobalConfig,
                 name: str = "msa_column_attention") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, msa: jax.Array, msa_mask: jax.Array) -> jax.Array:
        """msa [N, L, c_m], msa_mask [N, L] -> update [N, L, c_m]."""
        c = self.config
        num_seq, num_res, channels = msa.shape
        query_ln = LayerNorm(name="query_norm").params(channels)
        attn = GatedAttention(c.num_head, channels, c.gating, c.key_dim, c.value_dim)
        weights = attn.weights(channels, channels, msa.dtype)
        impl = attention_implementation(self.global_config.attention, msa.dtype,
                                        weights.query_w.shape[-1], weights.value_w.shape[-1])

        def columns(x, mask):
            x = layer_norm(jnp.swapaxes(x, 0, 1), *query_ln)
            bias = mask_bias(jnp.swapaxes(mask, 0, 1), x.dtype)[:, None, None, :]
            return jnp.swapaxes(gated_attention(weights, x, x, bias, implementation=impl), 0, 1)

        item = attention_item_bytes(c.num_head, num_seq, num_seq, channels,
                                    jnp.dtype(msa.dtype).itemsize, impl)
        size = chunking.chunk_size(num_res, item, self.global_config.chunk_bytes)
        return chunking.map_chunks(columns, [msa, msa_mask], [1, 1], 1, size)


class MSAColumnGlobalAttention(hk.Module):
    """Suppl. Alg. 19, MSA column-wise global attention (the extra-MSA stack)."""

    def __init__(self, config: AttentionConfig, global_config: GlobalConfig,
                 name: str = "msa_column_global_attention") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, msa: jax.Array, msa_mask: jax.Array) -> jax.Array:
        """msa [N, L, c_e], msa_mask [N, L] -> update [N, L, c_e]."""
        num_seq, num_res, channels = msa.shape
        query_ln = LayerNorm(name="query_norm").params(channels)
        weights = GlobalAttention(self.config.num_head, channels).weights(channels, msa.dtype)

        def columns(x, mask):
            x = layer_norm(jnp.swapaxes(x, 0, 1), *query_ln)
            return jnp.swapaxes(global_attention(weights, x, jnp.swapaxes(mask, 0, 1)), 0, 1)

        # The gate [N, H, V] and its products dominate: about 4 copies of a column.
        item = 4 * num_seq * channels * jnp.dtype(msa.dtype).itemsize
        size = chunking.chunk_size(num_res, item, self.global_config.chunk_bytes)
        return chunking.map_chunks(columns, [msa, msa_mask], [1, 1], 1, size)
