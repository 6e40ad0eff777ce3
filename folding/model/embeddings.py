"""Embedding of the inputs and of the previous recycling iteration.

Suppl. Alg. 3 (InputEmbedder), Alg. 4 (relative position encoding, one-hot of the
clipped residue offset, Alg. 5) and Alg. 32 (RecyclingEmbedder). These are plain
functions: called inside the ``evoformer`` module they create its ``preprocess_1d``,
``preprocess_msa``, ``left_single``, ``right_single``, ``prev_pos_linear``,
``prev_msa_first_row_norm``, ``prev_pair_norm`` and ``pair_activiations`` layers
(the last name is the official spelling).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from folding.model import all_atom, chunking
from folding.model.primitives import LayerNorm, Linear, dense, layer_norm, linear_params


@dataclass(frozen=True)
class EmbeddingsConfig:
    """Widths of the representations and the recycling settings (Suppl. 1.5, 1.10)."""

    msa_channel: int = 256          # c_m
    pair_channel: int = 128         # c_z
    extra_msa_channel: int = 64     # c_e
    seq_channel: int = 384          # c_s
    max_relative_feature: int = 32  # relpos clip, 2 * 32 + 1 classes
    recycle_pos: bool = True
    recycle_features: bool = True
    prev_pos_min_bin: float = 3.25
    prev_pos_max_bin: float = 20.75
    prev_pos_num_bins: int = 15


def distogram_one_hot(positions: jax.Array, num_bins: int, min_bin: float,
                      max_bin: float, others: jax.Array | None = None) -> jax.Array:
    """One-hot distance bins of all position pairs, [L, L, num_bins] (or of the pairs
    of ``positions`` [R, 3] with ``others`` [L, 3], [R, L, num_bins]).

    Bin b holds squared distances strictly between ``linspace(min, max)[b]**2`` and the
    next edge; the last bin is open above (Suppl. Alg. 32 line 2; the template
    distogram of Alg. 2 line 9 is the same with 39 bins up to 50.75 A).
    """
    others = positions if others is None else others
    lower = jnp.square(jnp.linspace(min_bin, max_bin, num_bins))
    upper = jnp.concatenate([lower[1:], jnp.array([1e8], jnp.float32)])
    dist2 = jnp.sum(jnp.square(positions[:, None, :] - others[None, :, :]), axis=-1,
                    keepdims=True)
    return ((dist2 > lower) & (dist2 < upper)).astype(jnp.float32)


def msa_embedding(target_feat: jax.Array, msa_feat: jax.Array, config: EmbeddingsConfig
                  ) -> jax.Array:
    """Suppl. Alg. 3 lines 1 and 4: the initial MSA representation [N, L, c_m]."""
    preprocess_1d = Linear(config.msa_channel, name="preprocess_1d")(target_feat)
    preprocess_msa = Linear(config.msa_channel, name="preprocess_msa")(msa_feat)
    return preprocess_1d[None] + preprocess_msa


def recycle_msa(msa: jax.Array, prev_msa_first_row: jax.Array,
                config: EmbeddingsConfig) -> jax.Array:
    """Suppl. Alg. 32 line 4: the previous first MSA row, layer-normed, added to row 0."""
    if not config.recycle_features:
        return msa
    first_row = LayerNorm(name="prev_msa_first_row_norm")(prev_msa_first_row)
    return msa.at[0].add(first_row.astype(msa.dtype))


@dataclass(frozen=True)
class PositionTable:
    """A relative-position encoding as a lookup: the pair updates ``table`` [K, c_z] (the
    projection's weights plus its bias, one row per class) and each pair's class
    ``index`` [L, L]."""

    table: jax.Array
    index: jax.Array


def relative_position_table(residue_index: jax.Array, config: EmbeddingsConfig,
                            dtype=jnp.float32) -> PositionTable:
    """Suppl. Alg. 4: the clipped residue-index offset's classes and their updates.

    The linear layer of the one-hot offset (``pair_activiations``) is a row lookup of
    its weights: the same numbers, without the [L, L, 65] one-hot array (9 GB in float32
    at L = 6,000).
    """
    k = config.max_relative_feature
    offset = residue_index[:, None] - residue_index[None, :]
    index = jnp.clip(offset + k, 0, 2 * k).astype(jnp.int32)
    weights, bias = linear_params("pair_activiations", (2 * k + 1,), (config.pair_channel,),
                                  dtype)
    return PositionTable(weights + bias, index)


def embed_pair(target_feat: jax.Array, aatype: jax.Array, prev_pos: jax.Array,
               prev_pair: jax.Array, positions: PositionTable, config: EmbeddingsConfig,
               chunk_bytes: int) -> jax.Array:
    """The initial pair representation [L, L, c_z], a block of rows at a time.

    Suppl. Alg. 3 lines 2-3 (``left_single`` + ``right_single`` of the target
    features), Alg. 32 lines 1-3 and 5 (the previous pseudo-beta distances binned into
    15 bins of 3.25-20.75 A and projected by ``prev_pos_linear``; the previous pair
    normalised by ``prev_pair_norm``) and the relative positions (``positions``),
    added in that order. Each block of rows is finished before the next starts, so
    that no pair-sized term (the normalised previous pair, the position updates, the
    distance bins) exists beside the pair itself.
    """
    dtype = target_feat.dtype
    num_res, channels = target_feat.shape[0], config.pair_channel
    left = Linear(channels, name="left_single")(target_feat)
    right = Linear(channels, name="right_single")(target_feat)
    beta = all_atom.pseudo_beta(aatype, prev_pos).positions
    bins = (config.prev_pos_num_bins, config.prev_pos_min_bin, config.prev_pos_max_bin)
    if config.recycle_pos:
        pos_w, pos_b = linear_params("prev_pos_linear", (config.prev_pos_num_bins,),
                                     (channels,), dtype)
    if config.recycle_features:
        pair_norm = LayerNorm(name="prev_pair_norm").params(prev_pair.shape[-1])
    table = positions.table

    def rows(left_rows, beta_rows, prev_rows, index_rows):
        pair = left_rows[:, None] + right[None, :]
        if config.recycle_pos:
            dgram = distogram_one_hot(beta_rows, *bins, others=beta)
            pair = pair + dense(dgram.astype(dtype), pos_w, pos_b)
        if config.recycle_features:
            pair = pair + layer_norm(prev_rows, *pair_norm).astype(dtype)
        return pair + jnp.take(table, index_rows, axis=0)

    item = num_res * (channels * (2 * jnp.dtype(dtype).itemsize + 12)
                      + 4 * config.prev_pos_num_bins)
    size = chunking.chunk_size(num_res, item, chunk_bytes)
    return chunking.map_chunks(rows, [left, beta, prev_pair, positions.index], [0] * 4, 0,
                               size)
