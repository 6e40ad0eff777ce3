"""Processed model inputs: names, dtypes and shapes checked, one recycling slice at a time.

Processed features are what AlphaFold's ``RunModel.process_features`` returns (and
what :mod:`folding.data.processing` makes): arrays under the reference's names with a
leading recycling dimension of ``num_recycle + 1`` (iteration r reads slice r).
:func:`validate_processed` checks every feature the model reads and raises one clear
:class:`~folding.errors.InputError` naming the feature and the file;
:class:`ProcessedFeatures` hands out :class:`ModelInputs`, one per iteration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import jax
import numpy as np

from folding.errors import InputError

#: What the model reads: dtype kind ("int" or "float") and axes. R recycling slices,
#: L residues, N cluster rows, E extra-MSA rows, T templates; numbers are fixed sizes.
FEATURE_SPEC: dict[str, tuple[str, tuple[str | int, ...]]] = {
    "aatype": ("int", ("R", "L")),
    "residue_index": ("int", ("R", "L")),
    "seq_mask": ("float", ("R", "L")),
    "target_feat": ("float", ("R", "L", 22)),
    "msa_feat": ("float", ("R", "N", "L", 49)),
    "msa_mask": ("float", ("R", "N", "L")),
    "extra_msa": ("int", ("R", "E", "L")),
    "extra_has_deletion": ("float", ("R", "E", "L")),
    "extra_deletion_value": ("float", ("R", "E", "L")),
    "extra_msa_mask": ("float", ("R", "E", "L")),
}
TEMPLATE_SPEC: dict[str, tuple[str, tuple[str | int, ...]]] = {
    "template_aatype": ("int", ("R", "T", "L")),
    "template_all_atom_positions": ("float", ("R", "T", "L", 37, 3)),
    "template_all_atom_masks": ("float", ("R", "T", "L", 37)),
    "template_mask": ("float", ("R", "T")),
    "template_pseudo_beta": ("float", ("R", "T", "L", 3)),
    "template_pseudo_beta_mask": ("float", ("R", "T", "L")),
}
#: Largest valid index of the integer features (residue types with unknown and gap).
_INDEX_LIMITS = {"aatype": 21, "extra_msa": 23, "template_aatype": 22}


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class ModelInputs:
    """The features of one recycling iteration (no leading recycling axis)."""

    aatype: jax.Array                  # [L] int32
    residue_index: jax.Array           # [L] int32
    seq_mask: jax.Array                # [L]
    target_feat: jax.Array             # [L, 22]
    msa_feat: jax.Array                # [N, L, 49]
    msa_mask: jax.Array                # [N, L]
    extra_msa: jax.Array               # [E, L] int32
    extra_has_deletion: jax.Array      # [E, L]
    extra_deletion_value: jax.Array    # [E, L]
    extra_msa_mask: jax.Array          # [E, L]
    template_aatype: jax.Array | None = None              # [T, L] int32
    template_all_atom_positions: jax.Array | None = None  # [T, L, 37, 3]
    template_all_atom_masks: jax.Array | None = None      # [T, L, 37]
    template_mask: jax.Array | None = None                # [T]
    template_pseudo_beta: jax.Array | None = None         # [T, L, 3]
    template_pseudo_beta_mask: jax.Array | None = None    # [T, L]

    def template_features(self) -> dict[str, jax.Array]:
        """The ``template_*`` features by name (all present when templates are used)."""
        return {name: getattr(self, name) for name in TEMPLATE_SPEC}


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class RecycledState:
    """What one iteration hands the next (Suppl. Alg. 2 lines 6 and 20-22)."""

    prev_pos: jax.Array            # [L, 37, 3] atom37 positions
    prev_msa_first_row: jax.Array  # [L, c_m]
    prev_pair: jax.Array           # [L, L, c_z]

    @staticmethod
    def zeros(num_res: int, msa_channel: int = 256, pair_channel: int = 128,
              pair_dtype: Any = np.float32) -> RecycledState:
        """The state before the first iteration: all zeros. The pair is in the trunk's
        dtype (:attr:`GlobalConfig.compute_dtype`), which is what an iteration returns."""
        return RecycledState(np.zeros((num_res, 37, 3), np.float32),
                             np.zeros((num_res, msa_channel), np.float32),
                             np.zeros((num_res, num_res, pair_channel), pair_dtype))


def _kind(array: np.ndarray) -> str | None:
    if np.issubdtype(array.dtype, np.integer):
        return "int"
    if np.issubdtype(array.dtype, np.floating):
        return "float"
    return None


def validate_processed(features: Mapping[str, np.ndarray], use_templates: bool,
                       source: str = "features") -> dict[str, np.ndarray]:
    """Check the features the model reads; return them as int32/float32 arrays.

    Raises :class:`InputError` naming ``source`` and the feature for a missing
    feature, a wrong dtype kind, an inconsistent shape, a non-finite value or an
    out-of-range residue index.
    """
    spec = dict(FEATURE_SPEC)
    if use_templates:
        spec.update(TEMPLATE_SPEC)
    sizes: dict[str, tuple[int, str]] = {}
    out: dict[str, np.ndarray] = {}
    for name, (kind, axes) in spec.items():
        if name not in features:
            hint = " (this model uses templates)" if name in TEMPLATE_SPEC else ""
            raise InputError(f"{source}: feature {name!r} is missing{hint}; give processed "
                             "features as made by `folding features` / AlphaFold's "
                             "RunModel.process_features")
        array = np.asarray(features[name])
        if _kind(array) != kind:
            raise InputError(f"{source}: feature {name!r} has dtype {array.dtype}, expected "
                             f"{'an integer' if kind == 'int' else 'a floating-point'} type")
        if array.ndim != len(axes):
            raise InputError(f"{source}: feature {name!r} has shape {array.shape}, expected "
                             f"{len(axes)} axes ({', '.join(map(str, axes))})")
        for axis, (size, symbol) in enumerate(zip(array.shape, axes, strict=True)):
            if isinstance(symbol, int):
                if size != symbol:
                    raise InputError(f"{source}: feature {name!r} has shape {array.shape}, "
                                     f"expected {symbol} along axis {axis}")
            elif symbol in sizes and sizes[symbol][0] != size:
                other = sizes[symbol][1]
                raise InputError(f"{source}: feature {name!r} has shape {array.shape}, which "
                                 f"disagrees with {other!r} on the {symbol} axis "
                                 f"({size} vs {sizes[symbol][0]})")
            else:
                sizes.setdefault(symbol, (size, name))
        if kind == "float":
            if not np.all(np.isfinite(array)):
                raise InputError(f"{source}: feature {name!r} holds non-finite values "
                                 "(NaN or infinity)")
            out[name] = array.astype(np.float32, copy=False)
        else:
            limit = _INDEX_LIMITS.get(name)
            if limit is not None and array.size and (array.min() < 0 or array.max() > limit):
                raise InputError(f"{source}: feature {name!r} has values outside 0..{limit}")
            out[name] = array.astype(np.int32, copy=False)
    if sizes["L"][0] < 1 or sizes["R"][0] < 1:
        raise InputError(f"{source}: features hold no residues or no recycling slice")
    return out


def _last_live_row(mask: np.ndarray) -> int:
    """1 + the last row index with any unmasked entry over all slices (at least 1)."""
    live = np.nonzero(mask.reshape(mask.shape[0], mask.shape[1], -1).any(axis=(0, 2)))[0]
    return max(1, int(live[-1]) + 1) if live.size else 1


@dataclass(frozen=True)
class ProcessedFeatures:
    """Validated processed features with their leading recycling axis."""

    arrays: dict[str, np.ndarray]
    use_templates: bool

    @property
    def num_slices(self) -> int:
        """num_recycle + 1: the recycling iterations these features allow."""
        return int(self.arrays["aatype"].shape[0])

    @property
    def num_res(self) -> int:
        return int(self.arrays["aatype"].shape[1])

    def trimmed(self) -> ProcessedFeatures:
        """The same features without trailing fully-masked MSA and extra-MSA rows.

        Masked rows never reach an unmasked output (attention masks them as keys, the
        outer product mean multiplies them by zero), so predictions are unchanged.
        """
        arrays = dict(self.arrays)
        keep = _last_live_row(arrays["msa_mask"])
        for name in ("msa_feat", "msa_mask"):
            arrays[name] = arrays[name][:, :keep]
        keep = _last_live_row(arrays["extra_msa_mask"])
        for name in ("extra_msa", "extra_has_deletion", "extra_deletion_value",
                     "extra_msa_mask"):
            arrays[name] = arrays[name][:, :keep]
        return ProcessedFeatures(arrays, self.use_templates)

    def inputs(self, r: int) -> ModelInputs:
        """The inputs of recycling iteration ``r`` (slice ``r``)."""
        if not 0 <= r < self.num_slices:
            raise InputError(f"recycling iteration {r} needs {r + 1} feature slices, the "
                             f"features hold {self.num_slices}; process them with "
                             f"num_recycle >= {r}")
        names = [f.name for f in fields(ModelInputs)]
        return ModelInputs(**{n: self.arrays[n][r] for n in names if n in self.arrays
                              and (self.use_templates or n not in TEMPLATE_SPEC)})


def load_processed(path: str | Path, use_templates: bool) -> ProcessedFeatures:
    """Read and validate a processed-features ``.npz``; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"features file {path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError) as error:
        raise InputError(f"{path} is not a readable .npz file of processed features "
                         f"({error})") from None
    return ProcessedFeatures(validate_processed(arrays, use_templates, str(path)),
                             use_templates)
