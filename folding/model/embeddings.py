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

from folding.model import all_atom
from folding.model.primitives import LayerNorm, Linear, linear_params


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
                      max_bin: float) -> jax.Array:
    """One-hot distance bins of all position pairs, [L, L, num_bins].

    Bin b holds squared distances strictly between ``linspace(min, max)[b]**2`` and the
    next edge; the last bin is open above (Suppl. Alg. 32 line 2; the template
    distogram of Alg. 2 line 9 is the same with 39 bins up to 50.75 A).
    """
    lower = jnp.square(jnp.linspace(min_bin, max_bin, num_bins))
    upper = jnp.concatenate([lower[1:], jnp.array([1e8], jnp.float32)])
    dist2 = jnp.sum(jnp.square(positions[:, None, :] - positions[None, :, :]), axis=-1,
                    keepdims=True)
    return ((dist2 > lower) & (dist2 < upper)).astype(jnp.float32)


def msa_embedding(target_feat: jax.Array, msa_feat: jax.Array, config: EmbeddingsConfig
                  ) -> jax.Array:
    """Suppl. Alg. 3 lines 1 and 4: the initial MSA representation [N, L, c_m]."""
    preprocess_1d = Linear(config.msa_channel, name="preprocess_1d")(target_feat)
    preprocess_msa = Linear(config.msa_channel, name="preprocess_msa")(msa_feat)
    return preprocess_1d[None] + preprocess_msa


def pair_embedding(target_feat: jax.Array, config: EmbeddingsConfig) -> jax.Array:
    """Suppl. Alg. 3 lines 2-3: the initial pair representation [L, L, c_z]."""
    left = Linear(config.pair_channel, name="left_single")(target_feat)
    right = Linear(config.pair_channel, name="right_single")(target_feat)
    return left[:, None] + right[None, :]


def input_embedding(target_feat: jax.Array, msa_feat: jax.Array, config: EmbeddingsConfig
                    ) -> tuple[jax.Array, jax.Array]:
    """Suppl. Alg. 3 lines 1-4: the initial MSA [N, L, c_m] and pair [L, L, c_z]."""
    return msa_embedding(target_feat, msa_feat, config), pair_embedding(target_feat, config)


def recycle_msa(msa: jax.Array, prev_msa_first_row: jax.Array,
                config: EmbeddingsConfig) -> jax.Array:
    """Suppl. Alg. 32 line 4: the previous first MSA row, layer-normed, added to row 0."""
    if not config.recycle_features:
        return msa
    first_row = LayerNorm(name="prev_msa_first_row_norm")(prev_msa_first_row)
    return msa.at[0].add(first_row.astype(msa.dtype))


def recycle_pair(pair: jax.Array, aatype: jax.Array, prev_pos: jax.Array,
                 prev_pair: jax.Array, config: EmbeddingsConfig) -> jax.Array:
    """Suppl. Alg. 32 lines 1-3 and 5: the previous pseudo-beta distances, binned (15
    bins, 3.25-20.75 A) and projected, and the previous pair, layer-normed, added."""
    dtype = pair.dtype
    if config.recycle_pos:
        beta = all_atom.pseudo_beta(aatype, prev_pos).positions
        dgram = distogram_one_hot(beta, config.prev_pos_num_bins, config.prev_pos_min_bin,
                                  config.prev_pos_max_bin)
        pair = pair + Linear(config.pair_channel, name="prev_pos_linear")(dgram.astype(dtype))
    if config.recycle_features:
        pair = pair + LayerNorm(name="prev_pair_norm")(prev_pair).astype(dtype)
    return pair


def recycling_embedding(msa: jax.Array, pair: jax.Array, aatype: jax.Array,
                        prev_pos: jax.Array, prev_msa_first_row: jax.Array,
                        prev_pair: jax.Array, config: EmbeddingsConfig
                        ) -> tuple[jax.Array, jax.Array]:
    """Suppl. Alg. 32: add the previous iteration's outputs to the MSA and pair."""
    pair = recycle_pair(pair, aatype, prev_pos, prev_pair, config)
    return recycle_msa(msa, prev_msa_first_row, config), pair


def relative_position_encoding(residue_index: jax.Array, config: EmbeddingsConfig,
                               dtype=jnp.float32) -> jax.Array:
    """Suppl. Alg. 4: the pair update from the clipped residue-index offset [L, L, c_z].

    The linear layer of the one-hot offset is a row lookup of its weights (the same
    numbers, without the [L, L, 65] one-hot array: 9 GB in float32 at L = 6,000).
    """
    k = config.max_relative_feature
    offset = residue_index[:, None] - residue_index[None, :]
    index = jnp.clip(offset + k, 0, 2 * k)
    weights, bias = linear_params("pair_activiations", (2 * k + 1,), (config.pair_channel,),
                                  dtype)
    return jnp.take(weights, index, axis=0) + bias
