"""The multimer Evoformer block and the multimer extra-MSA stack.

AlphaFold-Multimer changes two things in the Evoformer block of Suppl. Alg. 6 (and in
the extra-MSA block of Alg. 18, which shares its settings): the outer product mean
runs first, from the incoming MSA, so the MSA and pair updates of a block can run
side by side; and the triangle multiplications use fused weights
(:mod:`folding.model.multimer.triangle`). Every other layer is the monomer's.
"""

from __future__ import annotations

import haiku as hk
import jax

from folding.model.evoformer import EvoformerBlockConfig, run_stack
from folding.model.extra_msa import ExtraMsaConfig, extra_msa_features
from folding.model.global_config import GlobalConfig
from folding.model.msa_attention import (
    MSAColumnAttention,
    MSAColumnGlobalAttention,
    MSARowAttentionWithPairBias,
)
from folding.model.multimer.triangle import FusedTriangleMultiplication
from folding.model.outer_product_mean import OuterProductMean
from folding.model.primitives import Linear, dropout_residual
from folding.model.transition import Transition
from folding.model.triangle import TriangleAttention


class MultimerEvoformerIteration(hk.Module):
    """Suppl. Alg. 6 lines 2-10 with the outer product mean first and fused triangles."""

    def __init__(self, config: EvoformerBlockConfig, global_config: GlobalConfig,
                 is_extra_msa: bool, name: str = "evoformer_iteration") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config
        self.is_extra_msa = is_extra_msa

    def __call__(self, msa: jax.Array, pair: jax.Array, msa_mask: jax.Array,
                 pair_mask: jax.Array, key: jax.Array | None = None
                 ) -> tuple[jax.Array, jax.Array]:
        """msa [N, L, c_m], pair [L, L, c_z]; ``key`` enables dropout (else none)."""
        c, gc = self.config, self.global_config
        keys = iter(jax.random.split(key, 9) if key is not None else [None] * 9)

        def add(act, update, rate, shared_axis):
            return dropout_residual(act, update, rate, next(keys), shared_axis)

        update = OuterProductMean(c.outer_product_mean, gc, pair.shape[-1])(msa, msa_mask)
        pair = add(pair, update, c.outer_product_mean.dropout_rate, 0)

        update = MSARowAttentionWithPairBias(c.msa_row_attention_with_pair_bias, gc)(
            msa, msa_mask, pair)
        msa = add(msa, update, c.msa_row_attention_with_pair_bias.dropout_rate, 0)
        if self.is_extra_msa:
            update = MSAColumnGlobalAttention(c.msa_column_attention, gc)(msa, msa_mask)
        else:
            update = MSAColumnAttention(c.msa_column_attention, gc)(msa, msa_mask)
        msa = add(msa, update, c.msa_column_attention.dropout_rate, 1)
        update = Transition(c.msa_transition, gc, name="msa_transition")(msa)
        msa = add(msa, update, c.msa_transition.dropout_rate, 0)

        for name in ("triangle_multiplication_outgoing", "triangle_multiplication_incoming"):
            cfg = getattr(c, name)
            update = FusedTriangleMultiplication(cfg, gc, name=name)(pair, pair_mask)
            pair = add(pair, update, cfg.dropout_rate, 0)
        for name, ending in (("triangle_attention_starting_node", False),
                             ("triangle_attention_ending_node", True)):
            cfg = getattr(c, name)
            update = TriangleAttention(cfg, gc, ending, name=name)(pair, pair_mask)
            pair = add(pair, update, cfg.dropout_rate, 1 if ending else 0)
        update = Transition(c.pair_transition, gc, name="pair_transition")(pair)
        pair = add(pair, update, c.pair_transition.dropout_rate, 0)
        return msa, pair


def multimer_extra_msa_stack(pair: jax.Array, extra_msa: jax.Array,
                             has_deletion: jax.Array, deletion_value: jax.Array,
                             extra_msa_mask: jax.Array, pair_mask: jax.Array,
                             config: ExtraMsaConfig, block_config: EvoformerBlockConfig,
                             global_config: GlobalConfig, key: jax.Array | None = None
                             ) -> jax.Array:
    """Suppl. Alg. 2 lines 14-16 with multimer blocks: the pair updated by the extra MSA.

    Called inside the ``evoformer`` module: creates ``extra_msa_activations`` and the
    stacked ``extra_msa_stack`` blocks.
    """
    dtype = pair.dtype
    features = extra_msa_features(extra_msa, has_deletion, deletion_value).astype(dtype)
    act = Linear(config.channel, name="extra_msa_activations")(features)
    iteration = MultimerEvoformerIteration(block_config, global_config, is_extra_msa=True,
                                           name="extra_msa_stack")
    _, pair = run_stack(iteration, config.num_block, act, pair,
                        extra_msa_mask.astype(dtype), pair_mask, key)
    return pair
