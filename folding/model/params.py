"""Model parameters: the official ``.npz`` files, checked; random ones for untrained runs.

DeepMind publishes one ``params_model_N[_ptm].npz`` per model, each array under a
flat key ``<module path>//<name>`` (e.g.
``alphafold/alphafold_iteration/evoformer/evoformer_iteration/msa_transition/transition1//weights``,
stacked blocks with a leading dimension). Our module tree creates exactly those
paths, so a file is read as is: :func:`load_params` splits the keys and checks them,
key for key and shape for shape, against :func:`parameter_shapes` of the model.
"""

from __future__ import annotations

import functools
import hashlib
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import jax
import numpy as np

from folding.errors import InputError, MissingResourceError
from folding.model.alphafold import NetworkConfig, forward
from folding.model.features import ModelInputs, RecycledState
from folding.model.global_config import GlobalConfig

Params = dict[str, dict[str, np.ndarray]]
#: Module paths whose parameters carry a leading block dimension.
_STACKED = ("/evoformer_iteration/", "/extra_msa_stack/", "/__layer_stack_no_state/",
            "/template_embedding_iteration/")
#: Fan-in scale of the random weights: at 1.0 the untrained network is chaotic (a
#: 1e-6 change of the weights changes its distogram by ~100%); at 0.3 it is smooth.
RANDOM_WEIGHT_SCALE = 0.3


def _dummy_inputs(config: NetworkConfig) -> tuple[ModelInputs, RecycledState]:
    length, rows, extra, templates = 4, 2, 1, 4
    f32, i32 = np.float32, np.int32
    inputs = ModelInputs(
        aatype=np.zeros(length, i32), residue_index=np.arange(length, dtype=i32),
        seq_mask=np.ones(length, f32), target_feat=np.zeros((length, 22), f32),
        msa_feat=np.zeros((rows, length, 49), f32), msa_mask=np.ones((rows, length), f32),
        extra_msa=np.zeros((extra, length), i32),
        extra_has_deletion=np.zeros((extra, length), f32),
        extra_deletion_value=np.zeros((extra, length), f32),
        extra_msa_mask=np.ones((extra, length), f32))
    if config.trunk.template.enabled:
        inputs = ModelInputs(**{
            **{k: getattr(inputs, k) for k in inputs.__dataclass_fields__},
            "template_aatype": np.zeros((templates, length), i32),
            "template_all_atom_positions": np.zeros((templates, length, 37, 3), f32),
            "template_all_atom_masks": np.zeros((templates, length, 37), f32),
            "template_mask": np.ones(templates, f32),
            "template_pseudo_beta": np.zeros((templates, length, 3), f32),
            "template_pseudo_beta_mask": np.zeros((templates, length), f32),
        })
    trunk = config.trunk.embeddings
    return inputs, RecycledState.zeros(length, trunk.msa_channel, trunk.pair_channel)


@functools.lru_cache(maxsize=16)
def parameter_shapes(config: NetworkConfig) -> dict[str, tuple[int, ...]]:
    """Every parameter of the network as ``{"module//name": shape}`` (no allocation)."""
    inputs, prev = _dummy_inputs(config)
    tree = jax.eval_shape(forward(config, GlobalConfig()).init, jax.random.PRNGKey(0),
                          inputs, prev)
    return {f"{module}//{name}": tuple(leaf.shape)
            for module, leaves in tree.items() for name, leaf in leaves.items()}


def nest(flat: Mapping[str, np.ndarray]) -> Params:
    """``{"module//name": array}`` -> Haiku's ``{module: {name: array}}``."""
    params: Params = {}
    for key, value in flat.items():
        module, name = key.split("//", 1)
        params.setdefault(module, {})[name] = value
    return params


def flatten(params: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Haiku's nested parameters -> the official flat ``module//name`` keys."""
    return {f"{module}//{name}": value for module, leaves in params.items()
            for name, value in leaves.items()}


def check_shapes(flat: Mapping[str, np.ndarray], expected: Mapping[str, tuple[int, ...]],
                 model_name: str, source: str, missing_hint: str = "") -> None:
    """Raise one clear :class:`InputError` for a key of ``flat`` missing from, extra to
    or misshapen against ``expected`` (``missing_hint`` follows a missing key)."""
    missing = sorted(set(expected) - set(flat))
    extra = sorted(set(flat) - set(expected))
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise InputError(f"{source}: parameter {missing[0]!r} is missing{more}{missing_hint}: "
                         f"this is not a parameter file of {model_name}")
    if extra:
        more = f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""
        raise InputError(f"{source}: unexpected parameter {extra[0]!r}{more}: this is not a "
                         f"parameter file of {model_name}")
    for key, shape in expected.items():
        got = tuple(np.shape(flat[key]))
        if got != shape:
            raise InputError(f"{source}: parameter {key!r} has shape {got}, {model_name} "
                             f"expects {shape}")


def check_params(flat: Mapping[str, np.ndarray], config: NetworkConfig, model_name: str,
                 source: str) -> None:
    """Raise one clear :class:`InputError` for a missing, extra or misshapen key."""
    check_shapes(flat, parameter_shapes(config), model_name, source)


def read_parameter_file(path: str | Path, model_name: str,
                        check: Callable[[Mapping[str, np.ndarray], str], None]) -> Params:
    """Read an official ``.npz`` parameter file: ``check(flat, source)`` checks its keys
    and shapes, then every array must be finite floating point (read as float32)."""
    path = Path(path)
    if not path.is_file():
        raise MissingResourceError(f"parameter file {path} not found; download the AlphaFold "
                                   "parameters or run with --untrained-params")
    try:
        with np.load(path, allow_pickle=False) as data:
            flat = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as error:
        raise InputError(f"{path} is not a readable .npz parameter file (truncated or another "
                         f"format: {error})") from None
    check(flat, str(path))
    for key, value in flat.items():
        if not np.issubdtype(value.dtype, np.floating):
            raise InputError(f"{path}: parameter {key!r} has dtype {value.dtype}, expected "
                             "floating point")
        if not np.all(np.isfinite(value)):
            raise InputError(f"{path}: parameter {key!r} holds non-finite values")
        flat[key] = value.astype(np.float32, copy=False)
    return nest(flat)


def load_params(path: str | Path, config: NetworkConfig, model_name: str) -> Params:
    """Read an official parameter file (``params_model_1_ptm.npz``), checked."""
    return read_parameter_file(
        path, model_name, lambda flat, source: check_params(flat, config, model_name, source))


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file (the identity of a parameter file in the outputs)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _fan_in(name: str, shape: tuple[int, ...]) -> int:
    if name in ("query_w", "key_w", "value_w", "gating_w", "feat_2d_weights"):
        return shape[0]
    if name == "output_w" and len(shape) == 3:
        return shape[0] * shape[1]
    return int(np.prod(shape[:-1])) if len(shape) >= 2 else 1


def random_params(config: NetworkConfig, seed: int = 0,
                  scale: float = RANDOM_WEIGHT_SCALE) -> Params:
    """Random parameters in the official layout, non-zero in every array
    (:func:`random_params_of_shapes` of the network's parameter shapes)."""
    return random_params_of_shapes(parameter_shapes(config), seed, scale)


def random_params_of_shapes(shapes: dict[str, tuple[int, ...]], seed: int = 0,
                            scale: float = RANDOM_WEIGHT_SCALE) -> Params:
    """Random parameters of these shapes (``module//name`` keys), non-zero everywhere.

    Weight matrices are normals with standard deviation ``scale / sqrt(fan_in)``; layer
    norm scales are 1 + 0.1 N(0, 1); biases, offsets and weight vectors of scalar inputs
    are 0.1 N(0, 1). Generated from the shapes in about a second (no Haiku
    initialisation), in the order of the parameters' paths, so that the same seed gives
    the same values whatever order the model creates its layers in.
    """
    rng = np.random.default_rng(seed)
    flat: dict[str, np.ndarray] = {}
    for key, shape in sorted(shapes.items()):
        module, name = key.split("//", 1)
        layer_shape = shape[1:] if any(s in module + "/" for s in _STACKED) else shape
        if len(layer_shape) >= 2 and (name == "weights" or name.endswith("_w")
                                      or name == "feat_2d_weights"):
            std = scale / np.sqrt(_fan_in(name, layer_shape))
            flat[key] = (rng.standard_normal(shape, np.float32) * np.float32(std))
        elif name == "scale":
            flat[key] = 1.0 + 0.1 * rng.standard_normal(shape, np.float32)
        else:
            flat[key] = 0.1 * rng.standard_normal(shape, np.float32)
    return nest(flat)
