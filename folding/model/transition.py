"""Transition layers: the two-layer MLPs of the MSA and pair stacks.

Suppl. Alg. 9 (MSA transition) and Alg. 15 (pair transition): layer norm, a dense
layer ``num_intermediate_factor`` times wider with ReLU, and a dense layer back.
Applied in chunks of rows so that the wide hidden layer never exists in full (it is
1.3 GB for the extra MSA at L=256).
"""

from __future__ import annotations

from dataclasses import dataclass

import haiku as hk
import jax
import jax.numpy as jnp

from folding.model import chunking
from folding.model.global_config import GlobalConfig
from folding.model.primitives import LayerNorm, dense, layer_norm, linear_params


@dataclass(frozen=True)
class TransitionConfig:
    """Suppl. Alg. 9/15: the hidden layer is ``num_intermediate_factor`` times wider."""

    num_intermediate_factor: int = 4
    dropout_rate: float = 0.0


class Transition(hk.Module):
    """Suppl. Alg. 9 and 15, applied to the last axis of [rows, L, c]."""

    def __init__(self, config: TransitionConfig, global_config: GlobalConfig,
                 name: str = "transition_block") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, act: jax.Array) -> jax.Array:
        """act [rows, L, c] -> update [rows, L, c]."""
        rows, num_res, channels = act.shape
        hidden = channels * self.config.num_intermediate_factor
        ln = LayerNorm(name="input_layer_norm").params(channels)
        w1, b1 = linear_params("transition1", (channels,), (hidden,), act.dtype)
        w2, b2 = linear_params("transition2", (hidden,), (channels,), act.dtype)

        def mlp(x):
            h = jax.nn.relu(dense(layer_norm(x, *ln), w1, b1))
            return dense(h, w2, b2)

        item = 2 * num_res * hidden * jnp.dtype(act.dtype).itemsize
        size = chunking.chunk_size(rows, item, self.global_config.chunk_bytes)
        return chunking.map_chunks(mlp, [act], [0], 0, size)
