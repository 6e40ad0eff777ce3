"""The multimer Evoformer block and the multimer extra-MSA stack.

AlphaFold-Multimer changes two things in the Evoformer block of Suppl. Alg. 6 (and in
the extra-MSA block of Alg. 18, which shares its settings): the outer product mean
runs first, from the incoming MSA, so the MSA and pair updates of a block can run
side by side; and the triangle multiplications use fused weights
(:mod:`folding.model.multimer.triangle`). Every other layer is the monomer's.
"""

from __future__ import annotations

import jax

from folding.model.evoformer import EvoformerBlockConfig, EvoformerIteration, run_stack
from folding.model.extra_msa import ExtraMsaConfig, extra_msa_features
from folding.model.global_config import GlobalConfig
from folding.model.multimer.triangle import FusedTriangleMultiplication
from folding.model.primitives import Linear


def multimer_evoformer_iteration(config: EvoformerBlockConfig, global_config: GlobalConfig,
                                 is_extra_msa: bool, name: str = "evoformer_iteration"
                                 ) -> EvoformerIteration:
    """Suppl. Alg. 6 lines 2-10 with the outer product mean first and fused triangles."""
    return EvoformerIteration(config, global_config, is_extra_msa, name,
                              outer_product_mean_first=True,
                              triangle_multiplication=FusedTriangleMultiplication)


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
    iteration = multimer_evoformer_iteration(block_config, global_config, is_extra_msa=True,
                                             name="extra_msa_stack")
    _, pair = run_stack(iteration, config.num_block, act, pair,
                        extra_msa_mask.astype(dtype), pair_mask, key)
    return pair
