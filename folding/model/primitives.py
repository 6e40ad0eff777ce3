"""Linear and LayerNorm layers under the official parameter names, and residual dropout.

The official parameter files name a dense layer's arrays ``weights`` (input dims then
output dims) and ``bias``, and a layer norm's ``scale`` and ``offset`` (always
vectors). The layers here create exactly those arrays, so that a module tree built
from them reads DeepMind's ``.npz`` files unchanged.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

LAYER_NORM_EPS = 1e-5


def _fan_in_init(fan_in: int, scale: float = 1.0) -> hk.initializers.Initializer:
    """Truncated-normal fan-in initialiser (the values matter only for training)."""
    return hk.initializers.TruncatedNormal(stddev=float(np.sqrt(scale / max(fan_in, 1))))


class Linear(hk.Module):
    """A dense layer over the last ``num_input_dims`` axes, with outputs of any rank.

    Creates ``weights`` of shape ``in_shape + out_shape`` and ``bias`` of shape
    ``out_shape``.
    """

    def __init__(self, num_output: int | Sequence[int], num_input_dims: int = 1,
                 use_bias: bool = True, bias_init: float = 0.0, name: str = "linear") -> None:
        super().__init__(name=name)
        self.output_shape = (num_output,) if isinstance(num_output, int) else tuple(num_output)
        self.num_input_dims = num_input_dims
        self.use_bias = use_bias
        self.bias_init = bias_init

    def __call__(self, x: jax.Array) -> jax.Array:
        in_shape = tuple(x.shape[x.ndim - self.num_input_dims:])
        weights = hk.get_parameter("weights", in_shape + self.output_shape, x.dtype,
                                   _fan_in_init(int(np.prod(in_shape))))
        out = jnp.tensordot(x, weights, axes=self.num_input_dims)
        if self.use_bias:
            bias = hk.get_parameter("bias", self.output_shape, x.dtype,
                                    hk.initializers.Constant(self.bias_init))
            out = out + bias
        return out


def layer_norm(x: jax.Array, scale: jax.Array, offset: jax.Array) -> jax.Array:
    """Layer norm over the last axis, computed in float32 and cast back to ``x``'s dtype."""
    xf = x.astype(jnp.float32)
    mean = jnp.mean(xf, axis=-1, keepdims=True)
    variance = jnp.mean(jnp.square(xf - mean), axis=-1, keepdims=True)
    inv = jax.lax.rsqrt(variance + LAYER_NORM_EPS) * scale.astype(jnp.float32)
    return (inv * (xf - mean) + offset.astype(jnp.float32)).astype(x.dtype)


class LayerNorm(hk.Module):
    """Layer norm over the last axis with vector ``scale`` and ``offset``."""

    def __init__(self, name: str = "layer_norm") -> None:
        super().__init__(name=name)

    def params(self, channels: int) -> tuple[jax.Array, jax.Array]:
        """The ``(scale, offset)`` arrays, for callers that normalise inside a chunk."""
        scale = hk.get_parameter("scale", (channels,), jnp.float32, hk.initializers.Constant(1.0))
        offset = hk.get_parameter("offset", (channels,), jnp.float32,
                                  hk.initializers.Constant(0.0))
        return scale, offset

    def __call__(self, x: jax.Array) -> jax.Array:
        return layer_norm(x, *self.params(x.shape[-1]))


def linear_params(name: str, shape_in: Sequence[int], shape_out: Sequence[int], dtype,
                  bias_init: float = 0.0, use_bias: bool = True
                  ) -> tuple[jax.Array, jax.Array | None]:
    """The arrays ``Linear(name=name)`` would create, for use inside chunked functions."""
    with hk.name_scope(name):
        w = hk.get_parameter("weights", tuple(shape_in) + tuple(shape_out), dtype,
                             _fan_in_init(int(np.prod(shape_in))))
        b = None
        if use_bias:
            b = hk.get_parameter("bias", tuple(shape_out), dtype,
                                 hk.initializers.Constant(bias_init))
    return w, b


def dense(x: jax.Array, w: jax.Array, b: jax.Array | None, num_input_dims: int = 1) -> jax.Array:
    """``x`` contracted with ``w`` over its last ``num_input_dims`` axes, plus ``b``."""
    out = jnp.tensordot(x, w, axes=num_input_dims)
    return out if b is None else out + b


def dropout_residual(act: jax.Array, update: jax.Array, rate: float, key: jax.Array | None,
                     shared_axis: int | None) -> jax.Array:
    """``act + dropout(update)``: the residual update every trunk layer ends with.

    Dropout runs only when ``key`` is given and ``rate`` is non-zero; ``shared_axis``
    is the axis along which one mask is shared (rows for row-wise layers, Suppl.
    1.11.6), or None for independent masks.
    """
    if key is None or rate == 0.0:
        return act + update
    shape = list(update.shape)
    if shared_axis is not None:
        shape[shared_axis] = 1
    keep = jax.random.bernoulli(key, 1.0 - rate, shape=tuple(shape))
    return act + keep * update / (1.0 - rate)


def parameters_in(dtype) -> contextlib.AbstractContextManager:
    """A Haiku context in which floating-point parameters are read in ``dtype``.

    Parameters stay float32 in the files (and in memory); a bfloat16 trunk reads them
    cast, except the layer norms' ``scale`` and ``offset``, which stay float32 as the
    normalisation does. In float32 nothing changes.
    """
    if jnp.dtype(dtype) == jnp.float32:
        return contextlib.nullcontext()

    def cast(next_getter, value, context):
        if jnp.issubdtype(value.dtype, jnp.floating) and context.name not in (
                "scale", "offset"):
            value = value.astype(dtype)
        return next_getter(value)

    return hk.custom_getter(cast)
