"""Multimer input features: chain-aware relative positions, MSA and extra-MSA features.

* Relative positions (Multimer supplement 2.3.1, replacing Suppl. Alg. 4): within a
  chain the residue offset clipped to +-32 (65 classes) and one class for "another
  chain"; a flag for "same entity"; within an entity the copy offset (``sym_id``)
  clipped to +-2 (5 classes) and one class for "another entity". 73 features in all,
  projected by ``position_activations``.
* The target feature is the one-hot residue type (21 classes, no segment feature).
* MSA features (49 per row and residue, Suppl. Table 1 as in the monomer): one-hot
  residue type with gap and mask token (23), has-deletion, the deletion count squashed
  by ``2/pi arctan(d/3)``, the cluster profile (23) and its squashed mean deletion.
* Extra-MSA features: one-hot (23), has-deletion and squashed deletion count.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from folding.model.embeddings import PositionTable
from folding.model.multimer.sampling import NUM_MSA_CLASSES
from folding.model.primitives import linear_params


@dataclass(frozen=True)
class RelativePositionConfig:
    """Clipping of the residue offsets (32) and of the copy offsets (2)."""

    max_relative_idx: int = 32
    max_relative_chain: int = 2

    @property
    def num_features(self) -> int:
        return (2 * self.max_relative_idx + 2) + 1 + (2 * self.max_relative_chain + 2)


def squash_deletions(deletions: jax.Array) -> jax.Array:
    """Deletion counts mapped to [0, 1): ``2/pi * arctan(d / 3)``."""
    return jnp.arctan(deletions / 3.0) * (2.0 / jnp.pi)


def _relative_classes(residue_index: jax.Array, asym_id: jax.Array, entity_id: jax.Array,
                      sym_id: jax.Array, config: RelativePositionConfig
                      ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """[L, L] each: the residue-offset class, the same-entity flag, the copy-offset class."""
    k, c = config.max_relative_idx, config.max_relative_chain
    same_chain = asym_id[:, None] == asym_id[None, :]
    offset = jnp.clip(residue_index[:, None] - residue_index[None, :] + k, 0, 2 * k)
    position = jnp.where(same_chain, offset, 2 * k + 1)
    same_entity = entity_id[:, None] == entity_id[None, :]
    copy = jnp.clip(sym_id[:, None] - sym_id[None, :] + c, 0, 2 * c)
    copy = jnp.where(same_entity, copy, 2 * c + 1)
    return position.astype(jnp.int32), same_entity, copy.astype(jnp.int32)


def relative_position_features(residue_index: jax.Array, asym_id: jax.Array,
                               entity_id: jax.Array, sym_id: jax.Array,
                               config: RelativePositionConfig) -> jax.Array:
    """[L, L, 73]: the chain-aware relative position one-hots and the same-entity flag."""
    k, c = config.max_relative_idx, config.max_relative_chain
    position, same_entity, copy = _relative_classes(residue_index, asym_id, entity_id,
                                                    sym_id, config)
    return jnp.concatenate([
        jax.nn.one_hot(position, 2 * k + 2),
        same_entity.astype(jnp.float32)[..., None],
        jax.nn.one_hot(copy, 2 * c + 2),
    ], axis=-1)


def relative_position_table(residue_index: jax.Array, asym_id: jax.Array,
                            entity_id: jax.Array, sym_id: jax.Array,
                            config: RelativePositionConfig, pair_channel: int,
                            dtype=jnp.float32) -> PositionTable:
    """``position_activations`` applied to :func:`relative_position_features`, as a
    lookup: the same numbers without the [L, L, 73] features (10 GB in float32 at
    L = 6,000). The same-entity flag is implied by the copy class (the last one means
    "another entity"), so each (residue-offset class, copy class) pair is one row of a
    small table of updates [66 x 6, c_z]."""
    position, _, copy = _relative_classes(residue_index, asym_id, entity_id, sym_id, config)
    num_position = 2 * config.max_relative_idx + 2
    num_copy = 2 * config.max_relative_chain + 2
    weights, bias = linear_params("position_activations", (config.num_features,),
                                  (pair_channel,), dtype)
    same_entity = (jnp.arange(num_copy) != num_copy - 1).astype(dtype)[:, None]
    copy_rows = weights[num_position + 1:] + same_entity * weights[num_position]
    table = (weights[:num_position, None] + copy_rows[None]).reshape(-1, pair_channel) + bias
    return PositionTable(table, position * num_copy + copy)


def relative_position_encoding(residue_index: jax.Array, asym_id: jax.Array,
                               entity_id: jax.Array, sym_id: jax.Array,
                               config: RelativePositionConfig, pair_channel: int,
                               dtype=jnp.float32) -> jax.Array:
    """The pair update [L, L, c_z] of the relative positions (the model adds it a block
    of rows at a time, :func:`folding.model.embeddings.embed_pair`)."""
    lookup = relative_position_table(residue_index, asym_id, entity_id, sym_id, config,
                                     pair_channel, dtype)
    return jnp.take(lookup.table, lookup.index, axis=0)


def target_features(aatype: jax.Array) -> jax.Array:
    """[L, 21]: one-hot residue types."""
    return jax.nn.one_hot(aatype, 21)


def msa_features(msa: jax.Array, deletion_matrix: jax.Array, cluster_profile: jax.Array,
                 cluster_deletion_mean: jax.Array) -> jax.Array:
    """[S, L, 49]: the cluster centres' features."""
    return jnp.concatenate([
        jax.nn.one_hot(msa, NUM_MSA_CLASSES),
        jnp.clip(deletion_matrix, 0.0, 1.0)[..., None],
        squash_deletions(deletion_matrix)[..., None],
        cluster_profile,
        squash_deletions(cluster_deletion_mean)[..., None],
    ], axis=-1)


def extra_msa_deletion_features(deletion_matrix: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(has_deletion, squashed deletion count) of the extra rows."""
    return jnp.clip(deletion_matrix, 0.0, 1.0), squash_deletions(deletion_matrix)
