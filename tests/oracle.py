"""The reference implementation (PyPI ``alphafold-colabfold``) as a numerical oracle.

Tests and benchmarks only: product code under ``folding/`` never imports ``alphafold``.
Everything here sets the reference up so that its numbers are comparable with ours:

* float32 throughout (``global_config.bfloat16 = False``);
* the official monomer parameter layout (``fuse_projection_weights = False``);
* no float16 cast of the outputs (``alphafold.model.model._cast_result`` bypassed);
* random parameters that are non-zero in every array (the official initialiser leaves
  182 arrays all zero and 67 all one, which would make parity tests vacuous).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest

alphafold = pytest.importorskip("alphafold", reason="the reference is not installed")

import haiku as hk  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from alphafold.model import config as af_config  # noqa: E402
from alphafold.model import modules as af_modules  # noqa: E402

MONOMER_MODELS = tuple(f"model_{i}{s}" for s in ("", "_ptm") for i in range(1, 6))


def _unfuse(cfg: Any) -> None:
    """Switch every triangle multiplication to the unfused (official monomer) weights."""
    for key, value in cfg.items():
        if key == "fuse_projection_weights":
            cfg[key] = False
        elif hasattr(value, "items"):
            _unfuse(value)


def reference_config(model_name: str, num_recycle: int = 0, max_msa_clusters: int | None = None,
                     max_extra_msa: int | None = None) -> Any:
    """The reference's ConfigDict for ``model_name``, set up for float32 parity.

    ``max_msa_clusters``/``max_extra_msa`` shrink the MSA sizes (small parity cases).
    """
    cfg = af_config.model_config(model_name)
    if max_msa_clusters is not None:
        cfg.data.eval.max_msa_clusters = max_msa_clusters
    if max_extra_msa is not None:
        cfg.data.common.max_extra_msa = max_extra_msa
    cfg.model.global_config.bfloat16 = False
    cfg.model.global_config.bfloat16_output = False
    cfg.model.global_config.deterministic = True
    cfg.model.global_config.use_pallas = False
    cfg.model.num_recycle = num_recycle
    cfg.data.common.num_recycle = num_recycle
    cfg.data.eval.num_ensemble = 1
    cfg.model.calc_extended_ptm = False
    cfg.model.use_probs_extended = False
    _unfuse(cfg.model)
    return cfg


def process_features(model_name: str, raw: Mapping[str, np.ndarray], num_recycle: int = 0,
                     seed: int = 0, max_msa_clusters: int | None = None,
                     max_extra_msa: int | None = None) -> dict[str, np.ndarray]:
    """The reference's ``RunModel.process_features`` for ``model_name`` (leading recycle dim)."""
    from alphafold.model import features as af_features

    cfg = reference_config(model_name, num_recycle, max_msa_clusters, max_extra_msa)
    return dict(af_features.np_example_to_features(np_example=dict(raw), config=cfg,
                                                   random_seed=seed))


def _forward(cfg: Any, return_representations: bool = False):
    def forward(batch):
        model = af_modules.AlphaFold_noE(cfg.model)
        return model(batch, is_training=False, return_representations=return_representations)

    return hk.transform(forward)


def first_recycle(processed: Mapping[str, np.ndarray], r: int = 0) -> dict[str, np.ndarray]:
    """Slice ``r`` of the leading recycling dimension, kept as a length-1 leading dim."""
    return {k: np.asarray(v)[r:r + 1] for k, v in processed.items()}


def random_params(model_name: str, processed: Mapping[str, np.ndarray], seed: int = 0,
                  scale: float = 1.0) -> dict[str, dict[str, np.ndarray]]:
    """Random parameters in the official layout, non-zero everywhere.

    Shapes come from the reference's own init; values are fan-in-scaled normals for
    weights and small normals around the init for biases, scales and offsets, so no
    array is constant.
    """
    cfg = reference_config(model_name)
    # Only the shapes of the reference's init are used: trace it, never compile it.
    shapes = jax.eval_shape(_forward(cfg).init, jax.random.PRNGKey(seed),
                            first_recycle(processed))
    return randomize(shapes, seed, scale)


def randomize(shapes: Mapping[str, Mapping[str, Any]], seed: int = 0,
              scale: float = 1.0) -> dict[str, dict[str, np.ndarray]]:
    """Random values, non-zero everywhere, for a Haiku parameter tree (arrays or shapes).

    The rule of :func:`random_params`, for any module's tree (per-module tests).
    """
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, np.ndarray]] = {}
    for module, leaves in shapes.items():
        out[module] = {}
        for name, value in leaves.items():
            shape = value.shape
            if (name == "weights" or name.endswith("_w")) and len(shape) >= 2:
                fan_in = shape[-2] * (shape[-3] if name == "output_w" and len(shape) >= 3 else 1)
                arr = rng.normal(0.0, scale / np.sqrt(fan_in), size=shape)
            elif name == "scale":
                arr = 1.0 + 0.1 * rng.normal(size=shape)
            else:
                arr = 0.1 * rng.normal(size=shape)
            out[module][name] = arr.astype(np.float32)
    return out


@functools.lru_cache(maxsize=8)
def _jitted_apply(model_name: str, return_representations: bool):
    cfg = reference_config(model_name)
    return jax.jit(_forward(cfg, return_representations).apply)


def run_iteration(model_name: str, params: Mapping[str, Any], batch: Mapping[str, np.ndarray],
                  prev: Mapping[str, np.ndarray] | None = None, seed: int = 0,
                  return_representations: bool = False) -> dict[str, Any]:
    """One recycling iteration of the reference in float32, with no output cast.

    ``batch`` is one recycle's slice of processed features (leading dim 1). ``prev``
    holds ``prev_pos`` [L,37,3], ``prev_msa_first_row`` [L,256], ``prev_pair`` [L,L,128]
    (zeros when None). Returns numpy arrays, ``prev`` included.
    """
    apply = _jitted_apply(model_name, return_representations)
    feed = dict(batch)
    if prev is not None:
        feed["prev"] = {k: jnp.asarray(v, jnp.float32) for k, v in prev.items()}
    out = apply(params, jax.random.PRNGKey(seed), feed)
    return jax.tree_util.tree_map(np.asarray, out)


def run_model(model_name: str, params: Mapping[str, Any], processed: Mapping[str, np.ndarray],
              num_recycle: int = 0, seed: int = 0) -> list[dict[str, Any]]:
    """All recycling iterations of the reference; returns each iteration's outputs."""
    results = []
    prev = None
    for r in range(num_recycle + 1):
        result = run_iteration(model_name, params, first_recycle(processed, r), prev, seed)
        prev = result["prev"]
        results.append(result)
    return results
