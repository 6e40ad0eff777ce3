"""The trunk of one recycling iteration: embeddings, templates, extra MSA and Evoformer.

Suppl. Alg. 2 lines 5-18. The Haiku module is called ``evoformer``, as in the
official parameter files (``alphafold/alphafold_iteration/evoformer/...``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import haiku as hk
import jax
import jax.numpy as jnp

from folding.model.embeddings import (
    EmbeddingsConfig,
    embed_pair,
    msa_embedding,
    recycle_msa,
    relative_position_table,
)
from folding.model.evoformer import EvoformerBlockConfig, EvoformerIteration, run_stack
from folding.model.extra_msa import ExtraMsaConfig, extra_msa_stack
from folding.model.features import ModelInputs, RecycledState
from folding.model.global_config import GlobalConfig
from folding.model.primitives import Linear, parameters_in
from folding.model.template import TemplateConfig, TemplateEmbedding, template_torsion_rows


@dataclass(frozen=True)
class TrunkConfig:
    """Everything before the structure module (Suppl. Table 1 and 5)."""

    embeddings: EmbeddingsConfig = field(default_factory=EmbeddingsConfig)
    template: TemplateConfig = field(default_factory=TemplateConfig)
    extra_msa: ExtraMsaConfig = field(default_factory=ExtraMsaConfig)
    evoformer: EvoformerBlockConfig = field(default_factory=EvoformerBlockConfig)
    evoformer_num_block: int = 48


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class TrunkOutput:
    """The representations the heads read.

    Attributes:
        single: [L, c_s] single representation (Alg. 2 line 18).
        pair: [L, L, c_z] pair representation.
        msa: [N, L, c_m] MSA representation of the cluster rows (template rows removed).
        msa_first_row: [L, c_m] first MSA row, recycled into the next iteration.
    """

    single: jax.Array
    pair: jax.Array
    msa: jax.Array
    msa_first_row: jax.Array


def made_after(anchor: jax.Array, *values: jax.Array) -> tuple[jax.Array, ...]:
    """``values`` unchanged, but only computable once ``anchor`` exists.

    Each is multiplied by ``a == a`` for one element ``a`` of ``anchor`` (1; 0 only if
    it is NaN, when the outputs are NaN anyway). Without this data dependency XLA may
    compute the MSA representations at the start and hold them through the stages
    before their stacks (the 5,120-row extra MSA is as large as the pair
    representation at L = 2,560); its CPU compiler drops optimisation barriers.
    """
    first = jax.lax.stop_gradient(jnp.ravel(anchor)[0])
    present = first == first
    return tuple(v * present.astype(v.dtype) for v in values)


class EmbeddingsAndEvoformer(hk.Module):
    """Suppl. Alg. 2 lines 5-18 for one recycling iteration."""

    def __init__(self, config: TrunkConfig, global_config: GlobalConfig,
                 name: str = "evoformer") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, inputs: ModelInputs, prev: RecycledState,
                 key: jax.Array | None = None) -> TrunkOutput:
        with parameters_in(self.global_config.compute_dtype):
            return self._trunk(inputs, prev, key)

    @hk.transparent
    def _trunk(self, inputs: ModelInputs, prev: RecycledState,
               key: jax.Array | None) -> TrunkOutput:
        c, gc = self.config, self.global_config
        dtype = gc.compute_dtype
        keys = iter(jax.random.split(key, 3) if key is not None else [None] * 3)

        pair = embed_pair(inputs.target_feat.astype(dtype), inputs.aatype, prev.prev_pos,
                          prev.prev_pair,
                          relative_position_table(inputs.residue_index, c.embeddings, dtype),
                          c.embeddings, gc.chunk_bytes)
        pair_mask = (inputs.seq_mask[:, None] * inputs.seq_mask[None, :]).astype(dtype)

        template_key = next(keys)
        if c.template.enabled:
            templates = inputs.template_features()
            pair = pair + TemplateEmbedding(c.template, gc)(pair, templates, pair_mask,
                                                            template_key)

        # Each MSA representation is made only when its stack starts (see made_after).
        extra = made_after(pair, inputs.extra_msa, inputs.extra_has_deletion,
                       inputs.extra_deletion_value)
        pair = extra_msa_stack(pair, *extra, inputs.extra_msa_mask, pair_mask,
                               c.extra_msa, c.evoformer, gc, next(keys))

        target_feat, msa_feat = made_after(pair, inputs.target_feat, inputs.msa_feat)
        msa = msa_embedding(target_feat.astype(dtype), msa_feat.astype(dtype), c.embeddings)
        msa = recycle_msa(msa, prev.prev_msa_first_row, c.embeddings)
        msa_mask = inputs.msa_mask.astype(dtype)
        num_seq = msa.shape[0]
        if c.template.enabled and c.template.embed_torsion_angles:
            rows, row_mask = template_torsion_rows(inputs.template_features(),
                                                   c.embeddings.msa_channel)
            msa = jnp.concatenate([msa, rows.astype(dtype)], axis=0)
            msa_mask = jnp.concatenate([msa_mask, row_mask.astype(dtype)], axis=0)

        iteration = EvoformerIteration(c.evoformer, gc, is_extra_msa=False,
                                       name="evoformer_iteration")
        msa, pair = run_stack(iteration, c.evoformer_num_block, msa, pair, msa_mask,
                              pair_mask, next(keys))
        single = Linear(c.embeddings.seq_channel, name="single_activations")(msa[0])
        # The pair stays in the trunk's dtype (exact either way: a float32 copy of
        # bfloat16 values adds nothing); its readers convert a block at a time.
        return TrunkOutput(single=single.astype(jnp.float32), pair=pair,
                           msa=msa[:num_seq].astype(jnp.float32),
                           msa_first_row=msa[0].astype(jnp.float32))
