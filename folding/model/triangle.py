"""Triangular updates of the pair representation (Suppl. 1.6.5 and 1.6.6).

Triangle multiplication, outgoing and incoming edges (Suppl. Alg. 11 and 12), and
triangle self-attention around the starting and the ending node (Suppl. Alg. 13 and
14). Each returns the update to add to the pair representation. The multiplication
uses the official monomer layout: separate ``left_projection``/``right_projection``
and ``left_gate``/``right_gate`` layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import haiku as hk
import jax
import jax.numpy as jnp

from folding.model import chunking
from folding.model.attention import (
    AttentionConfig,
    GatedAttention,
    attention_implementation,
    attention_item_bytes,
    gated_attention,
    mask_bias,
)
from folding.model.global_config import GlobalConfig
from folding.model.primitives import LayerNorm, Linear


@dataclass(frozen=True)
class TriangleMultiplicationConfig:
    """Suppl. Alg. 11/12: ``outgoing`` edges (i->k, j->k) or incoming (k->i, k->j)."""

    outgoing: bool
    num_intermediate_channel: int = 128
    dropout_rate: float = 0.25


class TriangleMultiplication(hk.Module):
    """Suppl. Alg. 11 (outgoing) and 12 (incoming) triangle multiplicative update."""

    def __init__(self, config: TriangleMultiplicationConfig, global_config: GlobalConfig,
                 name: str = "triangle_multiplication") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, pair: jax.Array, pair_mask: jax.Array) -> jax.Array:
        """pair [L, L, c_z], pair_mask [L, L] -> update [L, L, c_z]."""
        c = self.config
        channels = pair.shape[-1]
        mask = pair_mask[..., None].astype(pair.dtype)
        act = LayerNorm(name="layer_norm_input")(pair)
        ci = c.num_intermediate_channel
        left = mask * Linear(ci, name="left_projection")(act)
        right = mask * Linear(ci, name="right_projection")(act)
        left = left * jax.nn.sigmoid(Linear(ci, bias_init=1.0, name="left_gate")(act))
        right = right * jax.nn.sigmoid(Linear(ci, bias_init=1.0, name="right_gate")(act))
        if c.outgoing:
            # a_ik * b_jk summed over k
            tri = jnp.einsum("ikc,jkc->ijc", left, right)
        else:
            # a_ki * b_kj summed over k (the right projection plays a)
            tri = jnp.einsum("kjc,kic->ijc", left, right)
        tri = LayerNorm(name="center_layer_norm")(tri)
        out = Linear(channels, name="output_projection")(tri)
        gate = jax.nn.sigmoid(Linear(channels, bias_init=1.0, name="gating_linear")(act))
        return out * gate


class TriangleAttention(hk.Module):
    """Suppl. Alg. 13 (around the starting node) and 14 (around the ending node).

    ``ending_node=True`` attends along the columns: it is Alg. 13 applied to the
    transposed pair representation.
    """

    def __init__(self, config: AttentionConfig, global_config: GlobalConfig, ending_node: bool,
                 name: str = "triangle_attention") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config
        self.ending_node = ending_node

    def __call__(self, pair: jax.Array, pair_mask: jax.Array) -> jax.Array:
        """pair [L, L, c_z], pair_mask [L, L] -> update [L, L, c_z]."""
        c = self.config
        num_res, channels = pair.shape[0], pair.shape[-1]
        normed = LayerNorm(name="query_norm")(pair)
        feat_2d_weights = hk.get_parameter(
            "feat_2d_weights", (channels, c.num_head), pair.dtype,
            hk.initializers.RandomNormal(stddev=float(channels) ** -0.5))
        equation = "kqc,ch->hqk" if self.ending_node else "qkc,ch->hqk"
        triangle_bias = jnp.einsum(equation, normed, feat_2d_weights)
        attn = GatedAttention(c.num_head, channels, c.gating, c.key_dim, c.value_dim)
        weights = attn.weights(channels, channels, pair.dtype)
        impl = attention_implementation(self.global_config.attention, pair.dtype,
                                        weights.query_w.shape[-1], weights.value_w.shape[-1])
        ending = self.ending_node

        def rows(x, mask):
            if ending:
                x, mask = jnp.swapaxes(x, 0, 1), jnp.swapaxes(mask, 0, 1)
            bias = mask_bias(mask, x.dtype)[:, None, None, :]
            out = gated_attention(weights, x, x, bias, triangle_bias, impl)
            return jnp.swapaxes(out, 0, 1) if ending else out

        item = attention_item_bytes(c.num_head, num_res, num_res, channels,
                                    jnp.dtype(pair.dtype).itemsize, impl)
        size = chunking.chunk_size(num_res, item, self.global_config.chunk_bytes)
        axis = 1 if ending else 0
        return chunking.map_chunks(rows, [normed, pair_mask], [axis, axis], axis, size)
