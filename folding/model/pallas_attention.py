"""Flash attention with a shared pair bias and a per-item key bias, as a Pallas kernel.

The trunk's attentions (Suppl. Alg. 7, 8, 13, 14) all have the same shape of work: a
batch of items (MSA rows or columns, rows of the pair representation), each attending
over one axis with a per-item key mask, and, for the row and triangle attentions, a
pair bias ``[H, Q, K]`` that every item of the batch shares. cuDNN's fused kernel takes
one bias, so the mask and the pair bias have to reach it as a single array (or the
mask as key lengths); the kernel here reads both as they are: the pair bias tile of a
query block once per item (neighbouring items hit it in L2) and the key bias as one
vector per item. Logits, softmax and the weighted sum stay on chip (FlashAttention-2's
online softmax, in float32), so nothing of size ``[B, H, Q, K]`` is ever written.

Semantics are those of :func:`folding.model.attention_core.attend`'s plain path: logits
plus both biases, clipped to +-1e8 (so a query whose keys are all masked gets uniform
weights over them), softmax in float32. Head sizes under 16 are padded to 16 inside
the kernel (Triton's matrix units need 16); sequence lengths are padded to the block
sizes outside it, the padded keys excluded exactly.

Runs through Pallas' Triton backend on an NVIDIA GPU (compute capability 8.0+), and
in Pallas' interpreter anywhere (``interpret=True``, how the tests check it on CPU).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as plgpu

#: Logit clip of the plain path (folding.model.attention_core.LOGIT_CLIP).
_CLIP = 1e8
_LOG2E = math.log2(math.e)


@dataclass(frozen=True)
class KernelBlocks:
    """Tile sizes and launch settings of the kernel (Triton needs powers of two)."""

    block_q: int = 64
    block_k: int = 64
    num_warps: int = 4
    num_stages: int = 2


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _next_power_of_two(n: int) -> int:
    return 1 << max(0, (n - 1).bit_length())


def _kernel(q_ref, k_ref, v_ref, bias_ref, key_bias_ref, o_ref, *, head_dim: int,
            block_k: int, num_keys: int):
    """One query block of one (item, head): the online softmax over key blocks."""
    padded_dim = q_ref.shape[-1]
    block_q = q_ref.shape[0]
    dim_mask = (jnp.arange(padded_dim) < head_dim)[None, :]
    q = plgpu.load(q_ref, mask=dim_mask, other=0.0)

    def body(j, carry):
        acc, row_max, row_sum = carry
        keys = pl.ds(j * block_k, block_k)
        k = plgpu.load(k_ref.at[keys, :], mask=dim_mask, other=0.0)
        logits = jnp.dot(q, k.T, preferred_element_type=jnp.float32)
        key_bias = key_bias_ref[keys].astype(jnp.float32)
        logits = logits + key_bias[None, :]
        if bias_ref is not None:
            logits = logits + bias_ref[:, keys].astype(jnp.float32)
        logits = jnp.clip(logits, -_CLIP, _CLIP) * _LOG2E
        valid = (j * block_k + jnp.arange(block_k)) < num_keys
        logits = jnp.where(valid[None, :], logits, -jnp.inf)
        new_max = jnp.maximum(row_max, jnp.max(logits, axis=1))
        correction = jnp.exp2(row_max - new_max)
        p = jnp.exp2(logits - new_max[:, None])
        v = plgpu.load(v_ref.at[keys, :], mask=dim_mask, other=0.0)
        acc = acc * correction[:, None] + jnp.dot(p.astype(v.dtype), v,
                                                  preferred_element_type=jnp.float32)
        row_sum = row_sum * correction + jnp.sum(p, axis=1)
        return acc, new_max, row_sum

    init = (jnp.zeros((block_q, padded_dim), jnp.float32),
            jnp.full((block_q,), -jnp.inf, jnp.float32),
            jnp.zeros((block_q,), jnp.float32))
    acc, _, row_sum = jax.lax.fori_loop(0, k_ref.shape[0] // block_k, body, init)
    out = acc / row_sum[:, None]
    plgpu.store(o_ref, out.astype(o_ref.dtype), mask=dim_mask)


def flash_attention(q: jax.Array, k: jax.Array, v: jax.Array, key_bias: jax.Array,
                    pair_bias: jax.Array | None = None, blocks: KernelBlocks = KernelBlocks(),
                    interpret: bool = False) -> jax.Array:
    """Softmax attention of pre-scaled queries with a key bias and a shared pair bias.

    Args:
        q: [B, Q, H, C] queries, already multiplied by ``C ** -0.5``.
        k: [B, K, H, C] keys.
        v: [B, K, H, C] values (the same head size as the keys).
        key_bias: [B, K] additive bias per item and key (0 kept, -1e9 masked).
        pair_bias: optional [H, Q, K] additive bias shared by the batch.
        blocks: tile sizes.
        interpret: run in Pallas' interpreter (any backend) instead of Triton.

    Returns:
        [B, Q, H, C] in ``q``'s dtype.
    """
    batch, num_q, num_head, head_dim = q.shape
    num_k = k.shape[1]
    if v.shape[-1] != head_dim or k.shape[-1] != head_dim:
        raise ValueError(f"query, key and value head sizes differ: {q.shape}, {k.shape}, "
                         f"{v.shape}")
    block_q = min(blocks.block_q, max(16, _next_power_of_two(num_q)))
    block_k = min(blocks.block_k, max(16, _next_power_of_two(num_k)))
    padded_q, padded_k = _round_up(num_q, block_q), _round_up(num_k, block_k)
    padded_dim = max(16, _next_power_of_two(head_dim))
    if padded_q != num_q:
        q = jnp.pad(q, ((0, 0), (0, padded_q - num_q), (0, 0), (0, 0)))
    if padded_k != num_k:
        pad = ((0, 0), (0, padded_k - num_k), (0, 0), (0, 0))
        k, v = jnp.pad(k, pad), jnp.pad(v, pad)
        key_bias = jnp.pad(key_bias, ((0, 0), (0, padded_k - num_k)))
    if pair_bias is not None and (padded_q, padded_k) != (num_q, num_k):
        pair_bias = jnp.pad(pair_bias, ((0, 0), (0, padded_q - num_q), (0, padded_k - num_k)))

    kernel = functools.partial(_kernel, head_dim=head_dim, block_k=block_k, num_keys=num_k)
    grid = (padded_q // block_q, num_head, batch)
    specs = [
        pl.BlockSpec((None, block_q, None, padded_dim), lambda i, h, b: (b, i, h, 0)),
        pl.BlockSpec((None, padded_k, None, padded_dim), lambda i, h, b: (b, 0, h, 0)),
        pl.BlockSpec((None, padded_k, None, padded_dim), lambda i, h, b: (b, 0, h, 0)),
        None if pair_bias is None else pl.BlockSpec((None, block_q, padded_k),
                                                    lambda i, h, b: (h, i, 0)),
        pl.BlockSpec((None, padded_k), lambda i, h, b: (b, 0)),
    ]
    out = pl.pallas_call(
        kernel,
        grid=grid,
        in_specs=specs,
        out_specs=pl.BlockSpec((None, block_q, None, padded_dim), lambda i, h, b: (b, i, h, 0)),
        out_shape=jax.ShapeDtypeStruct(q.shape, q.dtype),
        compiler_params=plgpu.CompilerParams(num_warps=blocks.num_warps,
                                             num_stages=blocks.num_stages),
        interpret=interpret,
        name="folding_flash_attention",
    )(q, k, v, pair_bias, key_bias)
    return out[:, :num_q]
