"""The multimer trunk of one recycling pass: embeddings, templates, extra MSA, Evoformer.

Multimer supplement 2 for Suppl. Alg. 2 lines 5-18: the input and recycling embeddings
are the monomer's (with a 21-class target feature); relative positions are chain-aware
(:mod:`folding.model.multimer.embeddings`); templates use the multimer embedding
(:mod:`folding.model.multimer.template`); the extra-MSA and Evoformer stacks use the
multimer block (:mod:`folding.model.multimer.evoformer`). The Haiku module is
``evoformer``, as in the official parameter files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import haiku as hk
import jax
import jax.numpy as jnp

from folding.model.embeddings import (
    EmbeddingsConfig,
    PositionTable,
    embed_pair,
    msa_embedding,
    recycle_msa,
)
from folding.model.evoformer import EvoformerBlockConfig, run_stack
from folding.model.extra_msa import ExtraMsaConfig
from folding.model.features import RecycledState
from folding.model.global_config import GlobalConfig
from folding.model.multimer.embeddings import (
    RelativePositionConfig,
    extra_msa_deletion_features,
    msa_features,
    relative_position_table,
    target_features,
)
from folding.model.multimer.evoformer import (
    multimer_evoformer_iteration,
    multimer_extra_msa_stack,
)
from folding.model.multimer.features import MultimerInputs
from folding.model.multimer.template import (
    MultimerTemplateConfig,
    TemplateEmbedding,
    template_torsion_rows,
)
from folding.model.primitives import Linear, parameters_in
from folding.model.trunk import TrunkOutput, made_after


@dataclass(frozen=True)
class MultimerTrunkConfig:
    """Everything before the structure module of a multimer model."""

    embeddings: EmbeddingsConfig = field(default_factory=EmbeddingsConfig)
    relative_position: RelativePositionConfig = field(default_factory=RelativePositionConfig)
    template: MultimerTemplateConfig = field(default_factory=MultimerTemplateConfig)
    extra_msa: ExtraMsaConfig = field(default_factory=ExtraMsaConfig)
    evoformer: EvoformerBlockConfig = field(default_factory=EvoformerBlockConfig)
    evoformer_num_block: int = 48


class MultimerEmbeddingsAndEvoformer(hk.Module):
    """One pass of the multimer trunk from sampled inputs and the recycled state."""

    def __init__(self, config: MultimerTrunkConfig, global_config: GlobalConfig,
                 name: str = "evoformer") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def _relative_encoding(self, inputs: MultimerInputs, dtype) -> PositionTable:
        # A method, so that its layer sits under ``evoformer/~_relative_encoding`` as in
        # the official files.
        c = self.config
        return relative_position_table(
            inputs.residue_index, inputs.asym_id, inputs.entity_id, inputs.sym_id,
            c.relative_position, c.embeddings.pair_channel, dtype)

    def __call__(self, inputs: MultimerInputs, prev: RecycledState,
                 key: jax.Array | None = None) -> TrunkOutput:
        with parameters_in(self.global_config.compute_dtype):
            return self._trunk(inputs, prev, key)

    @hk.transparent
    def _trunk(self, inputs: MultimerInputs, prev: RecycledState,
               key: jax.Array | None) -> TrunkOutput:
        c, gc = self.config, self.global_config
        dtype = gc.compute_dtype
        keys = iter(jax.random.split(key, 3) if key is not None else [None] * 3)

        target_feat = target_features(inputs.aatype).astype(dtype)
        pair = embed_pair(target_feat, inputs.aatype, prev.prev_pos, prev.prev_pair,
                          self._relative_encoding(inputs, dtype), c.embeddings, gc.chunk_bytes)
        pair_mask = (inputs.seq_mask[:, None] * inputs.seq_mask[None, :]).astype(dtype)

        template_key = next(keys)
        if c.template.enabled:
            pair = pair + TemplateEmbedding(c.template, gc)(
                pair, inputs.template_aatype, inputs.template_all_atom_positions,
                inputs.template_all_atom_mask, pair_mask, inputs.asym_id, template_key)

        # Each MSA representation is made only when its stack starts (see made_after).
        extra_msa, extra_deletions = made_after(pair, inputs.extra_msa,
                                                inputs.extra_deletion_matrix)
        has_deletion, deletion_value = extra_msa_deletion_features(extra_deletions)
        pair = multimer_extra_msa_stack(pair, extra_msa, has_deletion, deletion_value,
                                        inputs.extra_msa_mask, pair_mask, c.extra_msa,
                                        c.evoformer, gc, next(keys))

        msa_feat = msa_features(*made_after(pair, inputs.msa, inputs.deletion_matrix,
                                            inputs.cluster_profile,
                                            inputs.cluster_deletion_mean))
        msa = msa_embedding(target_feat, msa_feat.astype(dtype), c.embeddings)
        msa = recycle_msa(msa, prev.prev_msa_first_row, c.embeddings)
        msa_mask = inputs.msa_mask.astype(dtype)
        num_seq = msa.shape[0]
        if c.template.enabled:
            rows, row_mask = template_torsion_rows(
                inputs.template_aatype, inputs.template_all_atom_positions,
                inputs.template_all_atom_mask, c.embeddings.msa_channel)
            msa = jnp.concatenate([msa, rows.astype(dtype)], axis=0)
            msa_mask = jnp.concatenate([msa_mask, row_mask.astype(dtype)], axis=0)

        iteration = multimer_evoformer_iteration(c.evoformer, gc, is_extra_msa=False,
                                                 name="evoformer_iteration")
        msa, pair = run_stack(iteration, c.evoformer_num_block, msa, pair, msa_mask,
                              pair_mask, next(keys))
        single = Linear(c.embeddings.seq_channel, name="single_activations")(msa[0])
        # The pair stays in the trunk's dtype, as the monomer's (see its trunk).
        return TrunkOutput(single=single.astype(jnp.float32), pair=pair,
                           msa=msa[:num_seq].astype(jnp.float32),
                           msa_first_row=msa[0].astype(jnp.float32))
