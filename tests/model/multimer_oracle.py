"""The reference's AlphaFold-Multimer as a numerical oracle, and multimer test inputs.

Tests and benchmarks only. The reference (``alphafold.model.modules_multimer``) is set
up for float32 parity as ``tests/oracle.py`` sets up the monomer: no bfloat16, no
float16 output cast, deterministic; the multimer v3 layout keeps its fused triangle
weights (the official multimer files are fused). Its ``AlphaFold`` module needs the
previous pass's state in the batch (``prev``; zeros at the start), and
``RunModel.predict`` starts from ``all_atom_positions`` as the previous positions.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

pytest.importorskip("alphafold", reason="the reference is not installed")

import haiku as hk
import jax
import jax.numpy as jnp
from alphafold.model import config as af_config
from alphafold.model import model as af_model
from alphafold.model import modules_multimer
from oracle import randomize

#: Fan-in scale of the random test weights (see tests/model/model_cases.py).
WEIGHT_SCALE = 0.3


def reference_config(model_name: str = "model_1_multimer_v3", num_recycle: int = 0,
                     num_msa: int | None = None, num_extra_msa: int | None = None,
                     early_stop_tolerance: float = 0.0) -> Any:
    """The reference's multimer ConfigDict set up for float32 parity."""
    cfg = af_config.model_config(model_name)
    gc = cfg.model.global_config
    gc.bfloat16 = False
    gc.bfloat16_output = False
    gc.deterministic = True
    gc.use_pallas = False
    cfg.model.calc_extended_ptm = False
    cfg.model.use_probs_extended = False
    cfg.model.num_recycle = num_recycle
    cfg.model.recycle_early_stop_tolerance = early_stop_tolerance
    evo = cfg.model.embeddings_and_evoformer
    if num_msa is not None:
        evo.num_msa = num_msa
    if num_extra_msa is not None:
        evo.num_extra_msa = num_extra_msa
    return cfg


def zero_prev(num_res: int) -> dict[str, np.ndarray]:
    return {"prev_pos": np.zeros((num_res, 37, 3), np.float32),
            "prev_msa_first_row": np.zeros((num_res, 256), np.float32),
            "prev_pair": np.zeros((num_res, num_res, 128), np.float32)}


def _transform(cfg: Any) -> hk.Transformed:
    def forward(batch):
        return modules_multimer.AlphaFold(cfg.model)(batch, is_training=False,
                                                     return_representations=True)
    return hk.transform(forward)


def model_inputs(raw: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The raw features the reference's jit takes (no strings)."""
    return {k: np.asarray(v) for k, v in raw.items() if np.asarray(v).dtype.kind not in "SUO"}


def random_params(cfg: Any, raw: Mapping[str, np.ndarray], seed: int = 0,
                  scale: float = WEIGHT_SCALE) -> dict[str, dict[str, np.ndarray]]:
    """Random parameters in the official multimer layout, non-zero everywhere."""
    batch = {**model_inputs(raw), "prev": zero_prev(len(raw["aatype"]))}
    shapes = jax.eval_shape(_transform(cfg).init, jax.random.PRNGKey(0), batch)
    return randomize(shapes, seed, scale)


@functools.lru_cache(maxsize=4)
def _jitted(cfg_key: tuple) -> Any:
    return jax.jit(_transform(reference_config(*cfg_key)).apply)


def run_pass(cfg_key: tuple, params: Any, raw: Mapping[str, np.ndarray],
             prev: Mapping[str, np.ndarray], pass_key: jax.Array) -> dict[str, Any]:
    """One pass of the reference (float32, no cast) with the apply key ``pass_key``."""
    batch = {**model_inputs(raw),
             "prev": {k: jnp.asarray(v, jnp.float32) for k, v in prev.items()}}
    return jax.tree_util.tree_map(np.asarray, _jitted(cfg_key)(params, pass_key, batch))


def run_model(cfg_key: tuple, params: Any, raw: Mapping[str, np.ndarray], seed: int
              ) -> list[dict[str, Any]]:
    """The reference's own ``RunModel.predict`` (float16 output cast bypassed).

    Returns every pass's outputs, each with the state it hands the next pass (``prev``:
    positions, first MSA row and pair, from ``return_representations``).
    """
    passes: list[dict[str, Any]] = []

    def collect(result, _):
        result = jax.tree_util.tree_map(np.asarray, result)
        result["prev"] = {
            "prev_pos": result["structure_module"]["final_atom_positions"],
            "prev_msa_first_row": result["representations"]["single"],
            "prev_pair": result["representations"]["pair"]}
        passes.append(result)

    original = af_model._cast_result
    af_model._cast_result = lambda result: result
    try:
        runner = af_model.RunModel(reference_config(*cfg_key), params)
        runner.predict(model_inputs(raw), random_seed=seed, return_representations=True,
                       callback=collect)
    finally:
        af_model._cast_result = original
    return passes


def max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
