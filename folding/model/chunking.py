"""Chunked evaluation: the one place where the model trades speed for memory.

Attention over MSA rows or columns, triangle attention, transitions and the outer
product mean each create an intermediate much larger than their inputs (at L=256 with
5120 extra sequences the extra-MSA row-attention logits alone are 10 GB). They are
applied to slices of an independent axis, a chunk at a time, inside one XLA loop
that writes each result in place: the inputs are never copied and only one chunk's
intermediate is alive. The chunk size follows a byte budget
(:attr:`folding.model.global_config.GlobalConfig.chunk_bytes`), so results never
depend on it. Suppl. 1.11.8 ("reducing the memory consumption").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp


def chunk_size(num_items: int, bytes_per_item: int, budget: int) -> int:
    """How many items of ``bytes_per_item`` fit the byte budget, spread evenly.

    Returns a size that divides the items into ``ceil(num_items / size)`` chunks of
    near-equal size (at least one item per chunk).
    """
    if num_items <= 0:
        return 1
    largest = max(1, budget // max(1, bytes_per_item))
    if largest >= num_items:
        return num_items
    num_chunks = math.ceil(num_items / largest)
    return math.ceil(num_items / num_chunks)


def _slice(x: jax.Array, axis: int | None, start, size: int) -> jax.Array:
    if axis is None:
        return x
    if isinstance(start, int):
        return jax.lax.slice_in_dim(x, start, start + size, axis=axis)
    return jax.lax.dynamic_slice_in_dim(x, start, size, axis=axis)


def map_chunks(fn: Callable[..., Any], args: Sequence[jax.Array],
               in_axes: Sequence[int | None], out_axis: int, size: int) -> Any:
    """``fn(*args)`` computed in chunks of ``size`` along the mapped axes.

    ``fn`` must act independently on each index of the mapped axis: ``in_axes[i]`` is
    the axis of ``args[i]`` it slices (None: passed whole) and ``out_axis`` the axis of
    every output leaf that holds the chunk. Full chunks run in a ``fori_loop`` that
    updates the preallocated output in place; a smaller last chunk runs once after.
    """
    lengths = {a.shape[ax] for a, ax in zip(args, in_axes, strict=True) if ax is not None}
    if len(lengths) != 1:
        raise ValueError(f"mapped axes disagree in length: {sorted(lengths)}")
    n = lengths.pop()
    if size >= n:
        return fn(*args)
    num_full = n // size
    remainder = n - num_full * size

    def chunk(start, length):
        return fn(*[_slice(a, ax, start, length) for a, ax in zip(args, in_axes, strict=True)])

    shapes = jax.eval_shape(lambda: chunk(0, size))
    # Every element of the output is overwritten, so its initial value is irrelevant.
    # It is derived from the largest input (0 * its first value, NaN if that is not
    # finite) rather than a constant: XLA would otherwise merge the constant buffers
    # of all chunked operations, create them at the start of the block and copy them
    # for each loop, keeping several pair-sized buffers alive for nothing. Depending
    # on the activation (not on a weight) also keeps the buffer from being created
    # before that activation exists.
    largest = max(args, key=lambda a: a.size)
    seed = jax.lax.stop_gradient(jnp.ravel(largest)[0]) * 0

    def allocate(s: jax.ShapeDtypeStruct) -> jax.Array:
        shape = list(s.shape)
        shape[out_axis] = n
        return jnp.broadcast_to(seed.astype(s.dtype), shape)

    out = jax.tree_util.tree_map(allocate, shapes)

    def body(i, out):
        start = i * size
        piece = chunk(start, size)
        return jax.tree_util.tree_map(
            lambda o, p: jax.lax.dynamic_update_slice_in_dim(o, p, start, axis=out_axis),
            out, piece)

    out = jax.lax.fori_loop(0, num_full, body, out)
    if remainder:
        start = num_full * size
        piece = chunk(start, remainder)
        out = jax.tree_util.tree_map(
            lambda o, p: jax.lax.dynamic_update_slice_in_dim(o, p, start, axis=out_axis),
            out, piece)
    return out
