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
    attention_item_bytes,
    gated_attention,
    pair_bias,
)
from folding.model.attention_core import attention_implementation, mask_bias
from folding.model.global_config import GlobalConfig
from folding.model.primitives import LayerNorm, dense, layer_norm, linear_params


@dataclass(frozen=True)
class TriangleMultiplicationConfig:
    """Suppl. Alg. 11/12: ``outgoing`` edges (i->k, j->k) or incoming (k->i, k->j)."""

    outgoing: bool
    num_intermediate_channel: int = 128
    dropout_rate: float = 0.25


#: The triangle multiplication runs in one piece while its transient (about seven
#: pair-sized arrays) fits this many chunk budgets (512 MiB at the CPU's 16 MiB), and at
#: most TRIANGLE_MAX_BYTES (reached from a 256 MiB budget up); beyond, its channels are
#: cut into blocks.
TRIANGLE_BUDGET_FACTOR = 32
#: The cap keeps the triangle's transient at long lengths what it was when 256 MiB was
#: the GPU's largest chunk budget: larger budgets speed up the chunked attention (fewer
#: loop steps) without also leaving pair-sized blocks whole, which the memory plan's
#: estimate does not model.
TRIANGLE_MAX_BYTES = 8 << 30
#: Each channel block reads the pair representation again and redoes its layer norm,
#: so the channels are never cut into more blocks than this (16 of 128 channels per
#: block: a transient of 7/8 of one pair-sized array).
MAX_CHANNEL_BLOCKS = 8
#: [L, L] arrays alive per intermediate channel while a block of edges is made: the
#: two projections, their two gates, their transposed copies and the product.
_EDGE_ARRAYS_PER_CHANNEL = 7


Pair = tuple[jax.Array, jax.Array]


@dataclass(frozen=True)
class TriangleWeights:
    """The parameters of Suppl. Alg. 11/12 whatever their layout: the input and centre
    layer norms' (scale, offset), and (weights, bias) of the left and right edge
    projections and gates [c_z, c], the output projection [c, c_z] and the output gate
    [c_z, c_z]."""

    input_norm: Pair
    left: Pair
    left_gate: Pair
    right: Pair
    right_gate: Pair
    center_norm: Pair
    output: Pair
    gating: Pair


def triangle_multiply(weights: TriangleWeights, pair: jax.Array, pair_mask: jax.Array,
                      outgoing: bool, chunk_bytes: int) -> jax.Array:
    """Suppl. Alg. 11 (``outgoing``) or 12: the update [L, L, c_z] to ``pair``.

    Computed in two phases so that long sequences fit: the edges and their product
    (lines 2-4) a block of intermediate channels at a time, giving the product
    channel-first ([c, i, j]); then the output layer norm, projection and gate (lines
    5-6) a block of rows at a time. Both phases run whole when their transient fits
    :data:`TRIANGLE_BUDGET_FACTOR` chunk budgets, at most :data:`TRIANGLE_MAX_BYTES`: on
    a GPU up to about 1,550 residues in float32 and 2,190 in bfloat16 (7 x 128 x L^2
    values in 8 GiB)."""
    num_res, _, channels = pair.shape
    ci = weights.left[0].shape[-1]
    dtype = pair.dtype
    mask = pair_mask[..., None].astype(dtype)
    equation = "ikc,jkc->cij" if outgoing else "kjc,kic->cij"
    itemsize = jnp.dtype(dtype).itemsize
    budget = min(TRIANGLE_BUDGET_FACTOR * chunk_bytes, TRIANGLE_MAX_BYTES)
    block = chunking.chunk_size(ci, _EDGE_ARRAYS_PER_CHANNEL * num_res * num_res * itemsize,
                                budget)
    block = max(block, -(-ci // MAX_CHANNEL_BLOCKS))
    # The normalised pair is made a block of rows at a time (again for each block of
    # channels and for the gate) rather than kept in full.
    rows_bytes = num_res * (channels * (itemsize + 8) + 4 * block * itemsize)
    project_rows = chunking.chunk_size(num_res, rows_bytes, budget)

    def edges(pair, mask, wl, bl, wlg, blg, wr, br, wrg, brg):
        def project(rows, rows_mask):
            act = layer_norm(rows, *weights.input_norm)
            left = rows_mask * dense(act, wl, bl) * jax.nn.sigmoid(dense(act, wlg, blg))
            right = rows_mask * dense(act, wr, br) * jax.nn.sigmoid(dense(act, wrg, brg))
            return left, right

        left, right = chunking.map_chunks(project, [pair, mask], [0, 0], 0, project_rows)
        # outgoing: a_ik * b_jk summed over k; incoming: a_ki * b_kj (right plays a)
        return jnp.einsum(equation, left, right)

    flat = [a for w, b in (weights.left, weights.left_gate, weights.right, weights.right_gate)
            for a in (w, b)]
    product = chunking.map_chunks(edges, [pair, mask, *flat], [None, None] + [1, 0] * 4,
                                  0, block)  # [ci, L, L]

    def finish(product_rows, pair_rows):
        tri = layer_norm(jnp.moveaxis(product_rows, 0, -1), *weights.center_norm)
        gate = jax.nn.sigmoid(dense(layer_norm(pair_rows, *weights.input_norm),
                                    *weights.gating))
        return dense(tri, *weights.output) * gate

    row_bytes = num_res * ((2 * ci + 2 * channels) * itemsize + 4 * (ci + channels))
    rows = chunking.chunk_size(num_res, row_bytes, budget)
    return chunking.map_chunks(finish, [product, pair], [1, 0], 0, rows)


class TriangleMultiplication(hk.Module):
    """Suppl. Alg. 11 (outgoing) and 12 (incoming) triangle multiplicative update, in
    the monomer layout, computed by :func:`triangle_multiply`."""

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
        input_norm = LayerNorm(name="layer_norm_input").params(channels)
        left, left_gate, right, right_gate = (
            linear_params(name, (channels,), (ci,), dtype, bias_init=init)
            for name, init in (("left_projection", 0.0), ("left_gate", 1.0),
                               ("right_projection", 0.0), ("right_gate", 1.0)))
        weights = TriangleWeights(
            input_norm, left, left_gate, right, right_gate,
            center_norm=LayerNorm(name="center_layer_norm").params(ci),
            output=linear_params("output_projection", (ci,), (channels,), dtype),
            gating=linear_params("gating_linear", (channels,), (channels,), dtype,
                                 bias_init=1.0))
        return triangle_multiply(weights, pair, pair_mask, c.outgoing,
                                 self.global_config.chunk_bytes)


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
        query_ln = LayerNorm(name="query_norm").params(channels)
        feat_2d_weights = hk.get_parameter(
            "feat_2d_weights", (channels, c.num_head), pair.dtype,
            hk.initializers.RandomNormal(stddev=float(channels) ** -0.5))
        triangle_bias = pair_bias(pair, *query_ln, feat_2d_weights,
                                  self.global_config.chunk_bytes, transpose=self.ending_node)
        attn = GatedAttention(c.num_head, channels, c.gating, c.key_dim, c.value_dim)
        weights = attn.weights(channels, channels, pair.dtype)
        impl = attention_implementation(self.global_config.attention, pair.dtype,
                                        weights.query_w.shape[-1], weights.value_w.shape[-1])
        ending = self.ending_node

        def rows(x, mask):
            # The layer norm runs here, a chunk at a time: no normalised copy of the pair.
            x = layer_norm(x, *query_ln)
            if ending:
                x, mask = jnp.swapaxes(x, 0, 1), jnp.swapaxes(mask, 0, 1)
            bias = mask_bias(mask, x.dtype)[:, None, None, :]
            out = gated_attention(weights, x, x, bias, triangle_bias, impl)
            return jnp.swapaxes(out, 0, 1) if ending else out

        item = attention_item_bytes(c.num_head, num_res, num_res, channels,
                                    jnp.dtype(pair.dtype).itemsize, impl)
        item += 8 * num_res * channels  # the layer norm's float32 temporaries
        size = chunking.chunk_size(num_res, item, self.global_config.chunk_bytes)
        axis = 1 if ending else 0
        return chunking.map_chunks(rows, [pair, pair_mask], [axis, axis], axis, size)
