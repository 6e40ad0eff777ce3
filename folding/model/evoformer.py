"""The Evoformer block (Suppl. Alg. 6) and its stacks.

One :class:`EvoformerIteration` updates the MSA and the pair representations: MSA
row attention with pair bias, MSA column attention (global column attention in the
extra-MSA stack, Suppl. Alg. 18), MSA transition, outer product mean, triangle
multiplication outgoing and incoming, triangle attention around the starting and the
ending node, pair transition; each update added through residual dropout (Suppl.
1.11.6: shared along rows for row-wise layers and along columns for the ending-node
attention). :func:`run_stack` repeats a block with stacked parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import haiku as hk
import jax

from folding.model.attention import AttentionConfig
from folding.model.global_config import GlobalConfig
from folding.model.layer_stack import LayerStack
from folding.model.msa_attention import (
    MSAColumnAttention,
    MSAColumnGlobalAttention,
    MSARowAttentionWithPairBias,
)
from folding.model.outer_product_mean import OuterProductMean, OuterProductMeanConfig
from folding.model.primitives import dropout_residual
from folding.model.transition import Transition, TransitionConfig
from folding.model.triangle import (
    TriangleAttention,
    TriangleMultiplication,
    TriangleMultiplicationConfig,
)


@dataclass(frozen=True)
class EvoformerBlockConfig:
    """One Evoformer block (Suppl. Alg. 6, Table 1 and 1.11.6 for the dropout rates)."""

    msa_row_attention_with_pair_bias: AttentionConfig = field(
        default_factory=lambda: AttentionConfig(num_head=8, dropout_rate=0.15))
    msa_column_attention: AttentionConfig = field(
        default_factory=lambda: AttentionConfig(num_head=8))
    msa_transition: TransitionConfig = field(
        default_factory=lambda: TransitionConfig(num_intermediate_factor=4))
    outer_product_mean: OuterProductMeanConfig = field(
        default_factory=lambda: OuterProductMeanConfig(num_outer_channel=32))
    triangle_multiplication_outgoing: TriangleMultiplicationConfig = field(
        default_factory=lambda: TriangleMultiplicationConfig(outgoing=True))
    triangle_multiplication_incoming: TriangleMultiplicationConfig = field(
        default_factory=lambda: TriangleMultiplicationConfig(outgoing=False))
    triangle_attention_starting_node: AttentionConfig = field(
        default_factory=lambda: AttentionConfig(num_head=4, dropout_rate=0.25))
    triangle_attention_ending_node: AttentionConfig = field(
        default_factory=lambda: AttentionConfig(num_head=4, dropout_rate=0.25))
    pair_transition: TransitionConfig = field(
        default_factory=lambda: TransitionConfig(num_intermediate_factor=4))


class EvoformerIteration(hk.Module):
    """Suppl. Alg. 6 lines 2-10 (and Alg. 18 lines 2-10 with ``is_extra_msa``).

    AlphaFold-Multimer's block is the same with ``outer_product_mean_first`` (the outer
    product mean runs first, from the incoming MSA) and its fused
    ``triangle_multiplication`` (:mod:`folding.model.multimer.evoformer`).
    """

    def __init__(self, config: EvoformerBlockConfig, global_config: GlobalConfig,
                 is_extra_msa: bool, name: str = "evoformer_iteration", *,
                 outer_product_mean_first: bool = False,
                 triangle_multiplication: type[hk.Module] = TriangleMultiplication) -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config
        self.is_extra_msa = is_extra_msa
        self.outer_product_mean_first = outer_product_mean_first
        self.triangle_multiplication = triangle_multiplication

    def __call__(self, msa: jax.Array, pair: jax.Array, msa_mask: jax.Array,
                 pair_mask: jax.Array, key: jax.Array | None = None
                 ) -> tuple[jax.Array, jax.Array]:
        """msa [N, L, c_m], pair [L, L, c_z]; ``key`` enables dropout (else none)."""
        c, gc = self.config, self.global_config
        keys = iter(jax.random.split(key, 9) if key is not None else [None] * 9)

        def add(act, update, rate, shared_axis):
            return dropout_residual(act, update, rate, next(keys), shared_axis)

        def outer_product_mean(pair):
            update = OuterProductMean(c.outer_product_mean, gc, pair.shape[-1])(msa, msa_mask)
            return add(pair, update, c.outer_product_mean.dropout_rate, 0)

        if self.outer_product_mean_first:
            pair = outer_product_mean(pair)
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

        if not self.outer_product_mean_first:
            pair = outer_product_mean(pair)
        for name in ("triangle_multiplication_outgoing", "triangle_multiplication_incoming"):
            cfg = getattr(c, name)
            update = self.triangle_multiplication(cfg, gc, name=name)(pair, pair_mask)
            pair = add(pair, update, cfg.dropout_rate, 0)
        for name, ending in (("triangle_attention_starting_node", False),
                             ("triangle_attention_ending_node", True)):
            cfg = getattr(c, name)
            update = TriangleAttention(cfg, gc, ending, name=name)(pair, pair_mask)
            pair = add(pair, update, cfg.dropout_rate, 1 if ending else 0)
        update = Transition(c.pair_transition, gc, name="pair_transition")(pair)
        pair = add(pair, update, c.pair_transition.dropout_rate, 0)
        return msa, pair


def run_stack(iteration: EvoformerIteration, num_block: int, msa: jax.Array, pair: jax.Array,
              msa_mask: jax.Array, pair_mask: jax.Array, key: jax.Array | None
              ) -> tuple[jax.Array, jax.Array]:
    """Apply ``num_block`` blocks of ``iteration`` (built outside, so its parameters sit
    under its own name with a leading block axis, as in the official files)."""
    keys = jax.random.split(key, num_block) if key is not None else None

    def block(carry, layer_key):
        m, p = carry
        return iteration(m, p, msa_mask, pair_mask, layer_key if keys is not None else None)

    return LayerStack(num_block)(block, (msa, pair), keys)
