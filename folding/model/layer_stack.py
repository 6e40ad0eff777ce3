"""Repeated blocks with unshared parameters, stacked on a leading axis.

The official parameter files store the 48 Evoformer blocks (and the 4 extra-MSA and 2
template pair-stack blocks) as single arrays with a leading block dimension, created
by a Haiku module called ``__layer_stack_no_state``. :class:`LayerStack` reproduces
that layout: at initialisation every parameter the block creates gets the leading
dimension; when applied, the blocks run in one ``scan`` (one compiled block, not 48)
and each step reads its own slice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import haiku as hk
import jax
import jax.numpy as jnp

#: The official name of the stacking module (from the class name AlphaFold used).
STACK_NAME = "__layer_stack_no_state"


class LayerStack(hk.Module):
    """Apply ``block(carry, per_layer_input)`` ``count`` times with per-block parameters."""

    def __init__(self, count: int, name: str = STACK_NAME) -> None:
        super().__init__(name=name)
        self.count = count

    def __call__(self, block: Callable[[Any, Any], Any], carry: Any,
                 per_layer: Any = None) -> Any:
        """Run the blocks; ``per_layer`` (None or arrays with a leading ``count`` axis)
        gives each block its own input, such as a dropout key."""
        count = self.count
        if per_layer is None:
            per_layer = jnp.zeros((count,), jnp.int32)

        def stack_axis(value: jax.Array, context: Any) -> int:
            return value.ndim - len(context.original_shape) - 1

        if hk.running_init():
            # One draw of the whole stack: Haiku's initial values are only used to
            # discover shapes (real values come from parameter files or
            # folding.model.params.random_params), so a per-block draw is not worth its
            # 48-fold tracing cost.
            def creator(next_creator, shape, dtype, init, context):
                return next_creator((count, *shape), dtype, init)

            def first(next_getter, value, context):
                return next_getter(jax.lax.index_in_dim(
                    value, 0, axis=stack_axis(value, context), keepdims=False))

            with hk.custom_creator(creator), hk.custom_getter(first):
                return block(carry, jax.tree_util.tree_map(lambda x: x[0], per_layer))

        def step(carry, scanned):
            index, layer_input = scanned

            def sliced(next_getter, value, context):
                return next_getter(jax.lax.dynamic_index_in_dim(
                    value, index, axis=stack_axis(value, context), keepdims=False))

            with hk.custom_getter(sliced):
                return block(carry, layer_input), None

        carry, _ = hk.scan(step, carry, (jnp.arange(count), per_layer))
        return carry
