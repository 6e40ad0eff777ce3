"""The extra-MSA stack: the unclustered sequences' contribution to the pair (Suppl. Alg. 18).

The sequences not chosen as cluster centres are embedded from their residue types
and deletion features (Suppl. Alg. 2 lines 14-15, 25 features -> c_e = 64) and run
through four Evoformer-like blocks whose column attention is global (Alg. 19); only
the pair representation leaves the stack.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from folding.model.evoformer import EvoformerBlockConfig, EvoformerIteration, run_stack
from folding.model.global_config import GlobalConfig
from folding.model.primitives import Linear


@dataclass(frozen=True)
class ExtraMsaConfig:
    """Suppl. Alg. 18: four blocks over c_e = 64 channels."""

    num_block: int = 4
    channel: int = 64


def extra_msa_features(extra_msa: jax.Array, has_deletion: jax.Array,
                       deletion_value: jax.Array) -> jax.Array:
    """[N_extra, L, 25]: one-hot residue type (23 with gap and mask) and deletion features."""
    return jnp.concatenate([
        jax.nn.one_hot(extra_msa, 23),
        has_deletion[..., None],
        deletion_value[..., None],
    ], axis=-1)


def extra_msa_stack(pair: jax.Array, extra_msa: jax.Array, has_deletion: jax.Array,
                    deletion_value: jax.Array, extra_msa_mask: jax.Array, pair_mask: jax.Array,
                    config: ExtraMsaConfig, block_config: EvoformerBlockConfig,
                    global_config: GlobalConfig, key: jax.Array | None = None) -> jax.Array:
    """Suppl. Alg. 2 lines 14-16: the pair [L, L, c_z] updated by the extra MSA.

    Called inside the ``evoformer`` module: creates ``extra_msa_activations`` and the
    stacked ``extra_msa_stack`` blocks.
    """
    dtype = pair.dtype
    features = extra_msa_features(extra_msa, has_deletion, deletion_value).astype(dtype)
    act = Linear(config.channel, name="extra_msa_activations")(features)
    iteration = EvoformerIteration(block_config, global_config, is_extra_msa=True,
                                   name="extra_msa_stack")
    _, pair = run_stack(iteration, config.num_block, act, pair,
                        extra_msa_mask.astype(dtype), pair_mask, key)
    return pair
