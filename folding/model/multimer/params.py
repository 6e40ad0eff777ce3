"""Multimer parameters: the official ``params_model_N_multimer_v3.npz`` files, checked.

The files use the monomer files' flat ``<module path>//<name>`` keys (read and written
with :func:`folding.model.params.nest` / :func:`~folding.model.params.flatten`); our
multimer module tree creates exactly those paths (fused triangle multiplications,
``template_pair_embedding_0..8``, ``~_relative_encoding/position_activations``,
``quat_rigid/rigid``, ...), so a file loads as is after a key-for-key and
shape-for-shape check against :func:`multimer_parameter_shapes`.
"""

from __future__ import annotations

import functools
from pathlib import Path

import jax
import numpy as np

from folding.model.features import RecycledState
from folding.model.global_config import GlobalConfig
from folding.model.multimer.alphafold import MultimerNetworkConfig, multimer_forward
from folding.model.multimer.features import MultimerInputs
from folding.model.params import (
    RANDOM_WEIGHT_SCALE,
    Params,
    check_shapes,
    flatten,
    nest,
    random_params_of_shapes,
    read_parameter_file,
)

#: Module paths whose parameters carry a leading block dimension.
__all__ = ["check_multimer_params", "flatten", "load_multimer_params",
           "multimer_parameter_shapes", "nest", "random_multimer_params"]


def _dummy_inputs(config: MultimerNetworkConfig) -> tuple[MultimerInputs, RecycledState]:
    length, rows, extra, templates = 4, 2, 1, 2
    f32, i32 = np.float32, np.int32
    inputs = MultimerInputs(
        aatype=np.zeros(length, i32), residue_index=np.arange(length, dtype=i32),
        asym_id=np.array([1, 1, 2, 2], i32), entity_id=np.array([1, 1, 2, 2], i32),
        sym_id=np.ones(length, i32), seq_mask=np.ones(length, f32),
        msa=np.zeros((rows, length), i32), deletion_matrix=np.zeros((rows, length), f32),
        msa_mask=np.ones((rows, length), f32),
        cluster_profile=np.zeros((rows, length, 23), f32),
        cluster_deletion_mean=np.zeros((rows, length), f32),
        extra_msa=np.zeros((extra, length), i32),
        extra_deletion_matrix=np.zeros((extra, length), f32),
        extra_msa_mask=np.ones((extra, length), f32),
        template_aatype=np.zeros((templates, length), i32),
        template_all_atom_positions=np.zeros((templates, length, 37, 3), f32),
        template_all_atom_mask=np.zeros((templates, length, 37), f32))
    emb = config.trunk.embeddings
    return inputs, RecycledState.zeros(length, emb.msa_channel, emb.pair_channel)


@functools.lru_cache(maxsize=8)
def multimer_parameter_shapes(config: MultimerNetworkConfig) -> dict[str, tuple[int, ...]]:
    """Every parameter of the network as ``{"module//name": shape}`` (no allocation)."""
    inputs, prev = _dummy_inputs(config)
    tree = jax.eval_shape(multimer_forward(config, GlobalConfig()).init,
                          jax.random.PRNGKey(0), inputs, prev)
    return {f"{module}//{name}": tuple(leaf.shape)
            for module, leaves in tree.items() for name, leaf in leaves.items()}


def check_multimer_params(flat: dict[str, np.ndarray], config: MultimerNetworkConfig,
                          model_name: str, source: str) -> None:
    """Raise one clear :class:`InputError` for a missing, extra or misshapen key."""
    hint = ""
    if any("left_projection" in k for k in flat):
        hint = " (unfused triangle weights: a monomer or multimer v1/v2 file?)"
    check_shapes(flat, multimer_parameter_shapes(config), model_name, source, hint)


def load_multimer_params(path: str | Path, config: MultimerNetworkConfig,
                         model_name: str) -> Params:
    """Read an official multimer parameter file (``params_model_1_multimer_v3.npz``)."""
    return read_parameter_file(
        path, model_name,
        lambda flat, source: check_multimer_params(flat, config, model_name, source))


def random_multimer_params(config: MultimerNetworkConfig, seed: int = 0,
                           scale: float = RANDOM_WEIGHT_SCALE) -> Params:
    """Random parameters in the official layout, non-zero in every array (the rule of
    :func:`folding.model.params.random_params_of_shapes`)."""
    return random_params_of_shapes(multimer_parameter_shapes(config), seed, scale)
