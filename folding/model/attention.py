"""Multi-head attention layers: projections, gating, pair bias (Suppl. Alg. 7, 19).

Every attention of the trunk runs its scaled dot-product core through
:func:`folding.model.attention_core.attend`, where a faster kernel plugs in (the
plain XLA path, cuDNN or our Pallas kernel); sigmoid gating and the output
projection stay outside the core, here. The MSA
row and column attentions and the triangle attentions (Evoformer, extra MSA,
template pair stack) take the configured implementation; the template point-wise
attention (one query, four keys) and the global column attention (one query) stay
on the plain path, where a fused kernel has nothing to save.
:class:`GatedAttention` holds the official projection parameters (``query_w``,
``key_w``, ``value_w``, ``gating_w``, ``gating_b``, ``output_w``, ``output_b``) and
:func:`gated_attention` applies them; :class:`GlobalAttention` is the cheaper
variant of the extra-MSA stack (Suppl. Alg. 19).
"""

from __future__ import annotations

from dataclasses import dataclass

import haiku as hk
import jax
import jax.numpy as jnp

from folding.model import chunking
from folding.model.attention_core import attend, mask_bias
from folding.model.primitives import layer_norm


@dataclass(frozen=True)
class AttentionConfig:
    """Hyperparameters of one attention layer of the trunk (Suppl. Table 1 and 1.11.6).

    ``key_dim``/``value_dim`` are the total widths over all heads (None: the input's
    width); ``dropout_rate`` is the residual dropout of the layer (training, or
    inference with ``eval_dropout``).
    """

    num_head: int
    gating: bool = True
    key_dim: int | None = None
    value_dim: int | None = None
    dropout_rate: float = 0.0


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class AttentionWeights:
    """The arrays of one attention layer (gating ones are None without gating)."""

    query_w: jax.Array      # [q_channels, H, C]
    key_w: jax.Array        # [m_channels, H, C]
    value_w: jax.Array      # [m_channels, H, V]
    output_w: jax.Array     # [H, V, out]
    output_b: jax.Array     # [out]
    gating_w: jax.Array | None = None   # [q_channels, H, V]
    gating_b: jax.Array | None = None   # [H, V]


def _glorot() -> hk.initializers.Initializer:
    return hk.initializers.VarianceScaling(1.0, mode="fan_avg", distribution="uniform")


class GatedAttention(hk.Module):
    """Parameters of a multi-head attention with optional sigmoid gating (Suppl. Alg. 7)."""

    def __init__(self, num_head: int, output_dim: int, gating: bool = True,
                 key_dim: int | None = None, value_dim: int | None = None,
                 name: str = "attention") -> None:
        super().__init__(name=name)
        self.num_head = num_head
        self.output_dim = output_dim
        self.gating = gating
        self.key_dim = key_dim
        self.value_dim = value_dim

    def weights(self, q_channels: int, m_channels: int, dtype=jnp.float32) -> AttentionWeights:
        """Create or read the arrays; ``key_dim``/``value_dim`` default to the inputs' widths."""
        h = self.num_head
        key_dim = (self.key_dim or q_channels) // h
        value_dim = (self.value_dim or m_channels) // h
        get = hk.get_parameter
        query_w = get("query_w", (q_channels, h, key_dim), dtype, _glorot())
        key_w = get("key_w", (m_channels, h, key_dim), dtype, _glorot())
        value_w = get("value_w", (m_channels, h, value_dim), dtype, _glorot())
        gating_w = gating_b = None
        if self.gating:
            gating_w = get("gating_w", (q_channels, h, value_dim), dtype,
                           hk.initializers.Constant(0.0))
            gating_b = get("gating_b", (h, value_dim), dtype, hk.initializers.Constant(1.0))
        output_w = get("output_w", (h, value_dim, self.output_dim), dtype, _glorot())
        output_b = get("output_b", (self.output_dim,), dtype, hk.initializers.Constant(0.0))
        return AttentionWeights(query_w, key_w, value_w, output_w, output_b, gating_w, gating_b)


def gated_attention(w: AttentionWeights, q_data: jax.Array, m_data: jax.Array,
                    bias: jax.Array, extra_bias: jax.Array | None = None,
                    implementation: str = "xla") -> jax.Array:
    """Multi-head attention from ``q_data`` [B, Q, a] to ``m_data`` [B, K, b].

    ``bias`` broadcasts to [B, H, Q, K] (usually the key mask, [B, 1, 1, K]);
    ``extra_bias`` [H, Q, K] is shared by the batch (the pair bias);
    ``implementation`` is :func:`attend`'s. Returns [B, Q, out].
    """
    key_dim = w.query_w.shape[-1]
    q = jnp.einsum("bqa,ahc->bqhc", q_data, w.query_w)
    k = jnp.einsum("bka,ahc->bkhc", m_data, w.key_w)
    v = jnp.einsum("bka,ahc->bkhc", m_data, w.value_w)
    q = q * key_dim ** (-0.5)
    return gated_output(w, q_data, attend(q, k, v, bias, extra_bias, implementation))


def gated_output(w: AttentionWeights, q_data: jax.Array, attended: jax.Array) -> jax.Array:
    """Suppl. Alg. 7 lines 5-7: the attended values [..., H, V] gated by
    sigmoid(``q_data`` [..., a] projections) (with gating) and projected out [..., out]."""
    if w.gating_w is not None:
        gate = jnp.einsum("...a,ahc->...hc", q_data, w.gating_w) + w.gating_b
        attended = attended * jax.nn.sigmoid(gate)
    return jnp.einsum("...hc,hco->...o", attended, w.output_w) + w.output_b


def pair_bias(pair: jax.Array, scale: jax.Array, offset: jax.Array, weights: jax.Array,
              chunk_bytes: int, transpose: bool = False) -> jax.Array:
    """The per-head attention bias from the pair representation, [H, L, L].

    Layer norm, then a projection to one value per head (Suppl. Alg. 7 line 3, Alg. 13
    line 3; around the ending node, Alg. 14, ``transpose`` gives bias[h, q, k] from
    pair[k, q]). Computed a block of rows at a time, so the normalised pair
    representation never exists in full.
    """
    num_res, _, channels = pair.shape

    def rows(block: jax.Array) -> jax.Array:
        return jnp.einsum("rkc,ch->hrk", layer_norm(block, scale, offset), weights)

    item = num_res * channels * (jnp.dtype(pair.dtype).itemsize + 8)
    size = chunking.chunk_size(num_res, item, chunk_bytes)
    bias = chunking.map_chunks(rows, [pair], [0], 1, size)
    return jnp.swapaxes(bias, 1, 2) if transpose else bias


def attention_item_bytes(num_head: int, num_queries: int, num_keys: int, channels: int,
                         itemsize: int = 4, implementation: str = "xla") -> int:
    """Approximate bytes one batch item of :func:`gated_attention` keeps alive.

    The plain path holds about three float32 copies of the logits (logits, weights,
    the softmax's temporaries); cuDNN's only the summed bias in ``itemsize``; the
    Pallas kernel none.
    """
    if implementation == "pallas":
        logits = 0
    elif implementation == "cudnn":
        logits = itemsize * num_head * num_queries * num_keys
    else:
        logits = 3 * 4 * num_head * num_queries * num_keys
    projections = 5 * (num_queries + num_keys) * channels * itemsize
    return logits + projections


class GlobalAttention(hk.Module):
    """Attention of one averaged query per column (Suppl. Alg. 19 lines 2-7).

    Creates ``query_w`` [a, H, C], ``key_w`` [a, C], ``value_w`` [a, V] (keys and values
    shared by the heads), ``gating_w``/``gating_b`` and ``output_w``/``output_b``.
    """

    def __init__(self, num_head: int, output_dim: int, name: str = "attention") -> None:
        super().__init__(name=name)
        self.num_head = num_head
        self.output_dim = output_dim

    def weights(self, channels: int, dtype=jnp.float32) -> AttentionWeights:
        h = self.num_head
        key_dim = value_dim = channels // h
        get = hk.get_parameter
        query_w = get("query_w", (channels, h, key_dim), dtype, _glorot())
        key_w = get("key_w", (channels, key_dim), dtype, _glorot())
        value_w = get("value_w", (channels, value_dim), dtype, _glorot())
        output_w = get("output_w", (h, value_dim, self.output_dim), dtype, _glorot())
        output_b = get("output_b", (self.output_dim,), dtype, hk.initializers.Constant(0.0))
        gating_w = get("gating_w", (channels, h, value_dim), dtype, hk.initializers.Constant(0.0))
        gating_b = get("gating_b", (h, value_dim), dtype, hk.initializers.Constant(1.0))
        return AttentionWeights(query_w, key_w, value_w, output_w, output_b, gating_w, gating_b)


def global_attention(w: AttentionWeights, x: jax.Array, mask: jax.Array) -> jax.Array:
    """Gated global attention over axis 1 of ``x`` [B, N, a] with ``mask`` [B, N]."""
    key_dim = w.query_w.shape[-1]
    m = mask[..., None].astype(x.dtype)
    q_avg = jnp.sum(m * x, axis=1) / (jnp.sum(m, axis=1) + 1e-10)
    num_head = w.query_w.shape[1]
    q = jnp.einsum("ba,ahc->bhc", q_avg, w.query_w)[:, None] * key_dim ** (-0.5)
    # One key and value per sequence, shared by the heads.
    k = jnp.einsum("bka,ac->bkc", x, w.key_w)[:, :, None]
    v = jnp.einsum("bka,ac->bkc", x, w.value_w)[:, :, None]
    shape = (*k.shape[:2], num_head, k.shape[-1])
    bias = mask_bias(mask, x.dtype)[:, None, None, :]
    avg = attend(q, jnp.broadcast_to(k, shape), jnp.broadcast_to(v, shape), bias)  # [B, 1, H, V]
    gate = jax.nn.sigmoid(jnp.einsum("bqa,ahc->bqhc", x, w.gating_w) + w.gating_b)
    return jnp.einsum("bqhc,hco->bqo", avg * gate, w.output_w) + w.output_b

