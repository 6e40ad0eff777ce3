"""The attention core: softmax attention of scaled queries, and which kernel runs it.

:func:`attend` is the scaled dot-product core of every attention of the trunk (Suppl.
Alg. 7 lines 3-6): the place a faster kernel plugs in for the whole model. Its
implementations:

* ``"xla"``, the plain path: two einsums and a float32 softmax that XLA fuses as it
  can; the logits (and their bias) are materialised. Runs everywhere, any dtype.
* ``"cudnn"``, cuDNN's fused flash attention through
  :func:`jax.nn.dot_product_attention`: on a CUDA GPU (compute capability 8.0 or
  newer), bfloat16/float16 inputs, a head size that is a multiple of 8 (at most 128)
  and equal key and value head sizes. The logits never leave the chip.
* ``"pallas"``, our FlashAttention-2 kernel (:mod:`folding.model.pallas_attention`),
  which takes the key mask and the shared pair bias separately.

:func:`attention_implementation` chooses among them ("auto": the first of
:data:`AUTO_PREFERENCE` supported here, else the plain path). The projections, the
gating and the biases are :mod:`folding.model.attention`'s.
"""

from __future__ import annotations

import math
from functools import cache

import jax
import jax.numpy as jnp

from folding.model.global_config import cuda_capability_major

#: Additive bias of a masked key, as in AlphaFold (``1e9 * (mask - 1)``).
MASKED_BIAS = -1e9
#: Logits are clipped to this magnitude, so a fully masked query row gets uniform
#: weights instead of a softmax over rounding noise (as the reference does).
LOGIT_CLIP = 1e8


def mask_bias(mask: jax.Array, dtype=jnp.float32) -> jax.Array:
    """Additive attention bias from a 0/1 mask: 0 where kept, -1e9 where masked."""
    return (MASKED_BIAS * (1.0 - mask.astype(jnp.float32))).astype(dtype)


#: The values of :attr:`GlobalConfig.attention <folding.model.global_config.GlobalConfig>`.
ATTENTION_IMPLEMENTATIONS = ("auto", "xla", "cudnn", "pallas")
#: The fused implementations "auto" tries, in order. Our Pallas kernel is 2.0-2.8x
#: faster per call than cuDNN at the model's shapes on an H100
#: (``benchmarks/attention_kernels.py``), but a whole model has not been run with it
#: on a GPU yet: cuDNN, run and tested in the whole model there, stays first.
AUTO_PREFERENCE = ("cudnn", "pallas")
#: The largest head size the fused path is used for (cuDNN takes 128 before Hopper).
FUSED_MAX_HEAD_DIM = 128


@cache
def cuda_flash_attention_available() -> bool:
    """Whether the default backend is a CUDA GPU on which cuDNN flash attention runs."""
    try:
        device = jax.devices()[0]
    except RuntimeError:
        return False
    major = cuda_capability_major(device)
    return major is not None and major >= 8


@cache
def _cudnn_compiles(dtype_name: str, head_dim: int) -> bool:
    """Whether a small fused attention of this dtype and head size compiles here.

    cuDNN's own support depends on its version and the GPU; a compile failure inside
    the model would be fatal, so "auto" asks once per (dtype, head size).
    """
    shape = jax.ShapeDtypeStruct((2, 40, 2, head_dim), jnp.dtype(dtype_name))
    bias = jax.ShapeDtypeStruct((2, 2, 40, 40), jnp.dtype(dtype_name))
    try:
        jax.jit(lambda q, k, v, b: jax.nn.dot_product_attention(
            q, k, v, bias=b, scale=1.0, implementation="cudnn")).lower(
                shape, shape, shape, bias).compile()
    except Exception:  # any failure means: not here
        return False
    return True


@cache
def _pallas_compiles(dtype_name: str, head_dim: int) -> bool:
    """Whether our Pallas kernel compiles here for this dtype and head size."""
    from folding.model.pallas_attention import flash_attention

    shape = jax.ShapeDtypeStruct((2, 40, 2, head_dim), jnp.dtype(dtype_name))
    key_bias = jax.ShapeDtypeStruct((2, 40), jnp.float32)
    bias = jax.ShapeDtypeStruct((2, 40, 40), jnp.dtype(dtype_name))
    try:
        jax.jit(flash_attention).lower(shape, shape, shape, key_bias, bias).compile()
    except Exception:  # any failure means: not here
        return False
    return True


def pallas_attention_supported(dtype, head_dim: int, value_dim: int) -> bool:
    """Whether our Pallas flash-attention kernel runs these inputs on this backend."""
    return (jnp.dtype(dtype) in (jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16))
            and head_dim == value_dim and head_dim <= FUSED_MAX_HEAD_DIM
            and cuda_flash_attention_available()
            and _pallas_compiles(jnp.dtype(dtype).name, head_dim))


def fused_attention_supported(dtype, head_dim: int, value_dim: int) -> bool:
    """Whether cuDNN's fused attention takes these inputs (backend, dtype, head sizes)."""
    return (jnp.dtype(dtype) in (jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16))
            and head_dim == value_dim and head_dim % 8 == 0
            and head_dim <= FUSED_MAX_HEAD_DIM and cuda_flash_attention_available()
            and _cudnn_compiles(jnp.dtype(dtype).name, head_dim))


def attention_implementation(requested: str, dtype, head_dim: int, value_dim: int) -> str:
    """The implementation :func:`attend` will run: "xla", "cudnn" or "pallas".

    ``requested`` is "auto" (the first of :data:`AUTO_PREFERENCE` that runs these
    inputs here, else the plain path), "xla" (always the plain path), "cudnn" or
    "pallas" (an error where that kernel cannot run these inputs).
    """
    if requested not in ATTENTION_IMPLEMENTATIONS:
        raise ValueError(f"attention must be one of {ATTENTION_IMPLEMENTATIONS}, "
                         f"not {requested!r}")
    if requested == "xla":
        return "xla"
    checks = {"cudnn": fused_attention_supported, "pallas": pallas_attention_supported}
    if requested == "auto":
        return next((name for name in AUTO_PREFERENCE
                     if checks[name](dtype, head_dim, value_dim)), "xla")
    if requested == "pallas":
        if not pallas_attention_supported(dtype, head_dim, value_dim):
            raise ValueError(
                f"the Pallas attention kernel needs a CUDA GPU of compute capability 8.0+, "
                f"bfloat16 or float16 (got {jnp.dtype(dtype).name}) and equal head sizes "
                f"up to {FUSED_MAX_HEAD_DIM} (got {head_dim}/{value_dim}); use "
                f"attention='auto' or 'xla'")
        return "pallas"
    supported = fused_attention_supported(dtype, head_dim, value_dim)
    if requested == "cudnn" and not supported:
        raise ValueError(
            f"cuDNN attention needs a CUDA GPU of compute capability 8.0+, bfloat16 or "
            f"float16 (got {jnp.dtype(dtype).name}) and equal head sizes that are "
            f"multiples of 8 up to {FUSED_MAX_HEAD_DIM} (got {head_dim}/{value_dim}); "
            f"use attention='auto' or 'xla'")
    return "cudnn" if supported else "xla"


def attend(q: jax.Array, k: jax.Array, v: jax.Array, bias: jax.Array,
           shared_bias: jax.Array | None = None, implementation: str = "xla") -> jax.Array:
    """Softmax attention of pre-scaled queries.

    Args:
        q: [..., Q, H, C] queries, already multiplied by ``C ** -0.5``.
        k: [..., K, H, C] keys.
        v: [..., K, H, V] values.
        bias: additive logits bias broadcastable to [..., H, Q, K] (the key mask).
        shared_bias: optional [H, Q, K] bias shared by the batch (the pair bias).
        implementation: "xla" (the plain path), "cudnn" (fused flash attention; see
            :func:`attention_implementation`), "pallas" (our kernel, for a key-mask
            ``bias`` of shape [..., 1, 1, K]; any other bias takes the plain path) or
            "auto".

    Returns:
        [..., Q, H, V] attention-weighted values.
    """
    if implementation == "auto":
        implementation = attention_implementation("auto", q.dtype, q.shape[-1], v.shape[-1])
    if implementation == "cudnn":
        return dot_product_attention(q, k, v, bias, shared_bias, implementation="cudnn")
    if implementation == "pallas" and bias.ndim >= 3 and bias.shape[-3:-1] == (1, 1):
        return _pallas_attention(q, k, v, bias, shared_bias)
    if implementation not in ("xla", "pallas"):
        raise ValueError(f"unknown attention implementation {implementation!r}")
    # Logits accumulate in float32 whatever the inputs (as the fused kernels do).
    logits = jnp.einsum("...qhc,...khc->...hqk", q, k, preferred_element_type=jnp.float32)
    logits = logits + bias.astype(jnp.float32)
    if shared_bias is not None:
        logits = logits + shared_bias.astype(jnp.float32)
    logits = jnp.clip(logits, -LOGIT_CLIP, LOGIT_CLIP)
    weights = jax.nn.softmax(logits, axis=-1).astype(v.dtype)
    return jnp.einsum("...hqk,...khc->...qhc", weights, v)


def _pallas_attention(q: jax.Array, k: jax.Array, v: jax.Array, bias: jax.Array,
                      shared_bias: jax.Array | None) -> jax.Array:
    """:func:`attend` through :func:`folding.model.pallas_attention.flash_attention`, for a
    key-mask ``bias`` ([..., 1, 1, K]) and a shared [H, Q, K] pair bias."""
    from folding.model.pallas_attention import flash_attention

    *batch, num_q, num_head, head_dim = q.shape
    num_k = k.shape[-3]
    flat = math.prod(batch)
    key_bias = jnp.broadcast_to(bias[..., 0, 0, :].astype(jnp.float32), (*batch, num_k))
    if shared_bias is not None:
        shared_bias = jnp.broadcast_to(shared_bias, (num_head, num_q, num_k))
    out = flash_attention(q.reshape(flat, num_q, num_head, head_dim),
                          k.reshape(flat, num_k, num_head, head_dim),
                          v.reshape(flat, num_k, num_head, v.shape[-1]),
                          key_bias.reshape(flat, num_k), shared_bias)
    return out.reshape(*batch, num_q, num_head, v.shape[-1])


def dot_product_attention(q: jax.Array, k: jax.Array, v: jax.Array, bias: jax.Array,
                          shared_bias: jax.Array | None = None,
                          implementation: str = "cudnn") -> jax.Array:
    """:func:`attend` through :func:`jax.nn.dot_product_attention` (same arguments).

    The batch dimensions are flattened into one. When ``bias`` is a key mask alone
    (shape [..., 1, 1, K], 0 or -1e9) whose kept keys are a prefix of each item's keys
    (the case of every attention of the model: padding comes last), the mask goes to
    the kernel as per-item key lengths and the pair bias as one [1, H, Q, K] array
    shared by the batch, so nothing of size [B, H, Q, K] is written out. Otherwise (a
    check made on the values, inside the computation) the two biases are summed into
    one [B, H, Q, K] array in the inputs' dtype, as cuDNN takes a single bias. A fully
    masked query row (every key at -1e9) gets uniform weights, as in the plain path.
    ``implementation`` is passed on: "cudnn" on a GPU, "xla" (JAX's own) anywhere.
    """
    *batch, num_q, num_head, _ = q.shape
    num_k = k.shape[-3]
    flat = math.prod(batch)
    dtype = q.dtype
    qf = q.reshape(flat, num_q, num_head, q.shape[-1])
    kf = k.reshape(flat, num_k, num_head, k.shape[-1])
    vf = v.reshape(flat, num_k, num_head, v.shape[-1])

    def with_summed_bias() -> jax.Array:
        full = bias.astype(dtype)
        if shared_bias is not None:
            full = full + shared_bias.astype(dtype)
        full = jnp.broadcast_to(full, (*batch, num_head, num_q, num_k)).reshape(
            flat, num_head, num_q, num_k)
        return jax.nn.dot_product_attention(qf, kf, vf, bias=full, scale=1.0,
                                            implementation=implementation)

    if bias.ndim < 3 or bias.shape[-3] != 1 or bias.shape[-2] != 1:
        out = with_summed_bias()
    else:
        key_bias = jnp.broadcast_to(bias[..., 0, 0, :], (*batch, num_k)).reshape(flat, num_k)
        keep = key_bias > MASKED_BIAS / 2
        lengths = keep.sum(-1).astype(jnp.int32)
        is_prefix_mask = (jnp.all(keep == (jnp.arange(num_k) < lengths[:, None]))
                          & jnp.all(jnp.where(keep, key_bias == 0, True)))

        def with_key_lengths() -> jax.Array:
            shared = None
            if shared_bias is not None:
                shared = jnp.broadcast_to(shared_bias.astype(dtype),
                                          (num_head, num_q, num_k))[None]
            out = jax.nn.dot_product_attention(
                qf, kf, vf, bias=shared, key_value_seq_lengths=jnp.maximum(lengths, 1),
                scale=1.0, implementation=implementation)
            uniform = jnp.mean(vf.astype(jnp.float32), axis=1, keepdims=True)
            return jnp.where((lengths == 0)[:, None, None, None],
                             uniform.astype(out.dtype), out)

        out = jax.lax.cond(is_prefix_mask, with_key_lengths, with_summed_bias)
    return out.reshape(*batch, num_q, num_head, v.shape[-1])
