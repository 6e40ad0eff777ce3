"""Multimer model inputs: the raw complex features checked, and one pass's inputs.

The multimer model reads the data pipeline's raw features
(:func:`folding.data.multimer.build_multimer_features`, AlphaFold's multimer
``features.pkl``): there is no separate processing step, because the MSA is sampled
and masked inside each recycling pass (:mod:`folding.model.multimer.sampling`).
:func:`validate_multimer_features` checks every feature the model reads and raises one
clear :class:`~folding.errors.InputError` naming the feature and the file;
:class:`MultimerFeatures` hands out the raw MSA to sample and, given a sample, the
:class:`MultimerInputs` of one pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jax
import numpy as np

from folding.errors import InputError
from folding.model.multimer.sampling import RawMsa, SampledMsa

#: What the model reads: kind ("int", "float" or "id": integral values of any numeric
#: dtype) and axes; L residues, N MSA rows, T template slots.
MULTIMER_FEATURE_SPEC: dict[str, tuple[str, tuple[str | int, ...]]] = {
    "aatype": ("int", ("L",)),
    "residue_index": ("int", ("L",)),
    "asym_id": ("id", ("L",)),
    "entity_id": ("id", ("L",)),
    "sym_id": ("id", ("L",)),
    "seq_mask": ("float", ("L",)),
    "msa": ("int", ("N", "L")),
    "deletion_matrix": ("float", ("N", "L")),
    "msa_mask": ("float", ("N", "L")),
    "cluster_bias_mask": ("float", ("N",)),
    "template_aatype": ("int", ("T", "L")),
    "template_all_atom_positions": ("float", ("T", "L", 37, 3)),
    "template_all_atom_mask": ("float", ("T", "L", 37)),
}
#: Optional: AlphaFold's features carry it; without it every MSA position may be masked.
BERT_MASK = "bert_mask"
_INDEX_LIMITS = {"aatype": 20, "msa": 21, "template_aatype": 21}


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class MultimerInputs:
    """The inputs of one recycling pass: the complex and this pass's MSA sample."""

    aatype: jax.Array                       # [L] int32
    residue_index: jax.Array                # [L] int32, within each chain
    asym_id: jax.Array                      # [L] int32, chain (1-based)
    entity_id: jax.Array                    # [L] int32, distinct sequence (1-based)
    sym_id: jax.Array                       # [L] int32, copy within the entity (1-based)
    seq_mask: jax.Array                     # [L]
    msa: jax.Array                          # [S, L] int32 centres, masked (22 = mask)
    deletion_matrix: jax.Array              # [S, L]
    msa_mask: jax.Array                     # [S, L]
    cluster_profile: jax.Array              # [S, L, 23]
    cluster_deletion_mean: jax.Array        # [S, L]
    extra_msa: jax.Array                    # [E, L] int32
    extra_deletion_matrix: jax.Array        # [E, L]
    extra_msa_mask: jax.Array               # [E, L]
    template_aatype: jax.Array              # [T, L] int32
    template_all_atom_positions: jax.Array  # [T, L, 37, 3]
    template_all_atom_mask: jax.Array       # [T, L, 37]


def _kind_ok(array: np.ndarray, kind: str) -> bool:
    if kind == "int":
        return np.issubdtype(array.dtype, np.integer)
    if kind == "float":
        return np.issubdtype(array.dtype, np.floating)
    numeric = np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    return numeric and bool(np.all(np.isfinite(array)) and np.all(array == np.round(array)))


def validate_multimer_features(features: Mapping[str, np.ndarray],
                               source: str = "features") -> dict[str, np.ndarray]:
    """Check the features the multimer model reads; return int32/float32 arrays.

    Raises :class:`InputError` naming ``source`` and the feature for a missing feature,
    a wrong dtype, inconsistent shapes, non-finite values or out-of-range ids.
    """
    if "asym_id" not in features and "aatype" in features:
        raise InputError(f"{source}: these are not multimer features (no 'asym_id'); build "
                         "them with `folding multimer features` or give a monomer model name")
    sizes: dict[str, tuple[int, str]] = {}
    out: dict[str, np.ndarray] = {}
    for name, (kind, axes) in MULTIMER_FEATURE_SPEC.items():
        if name not in features:
            raise InputError(f"{source}: feature {name!r} is missing; give raw multimer "
                             "features as made by `folding multimer features`")
        array = np.asarray(features[name])
        if not _kind_ok(array, kind):
            expected = {"int": "an integer", "float": "a floating-point",
                        "id": "a numeric type with whole values"}[kind]
            raise InputError(f"{source}: feature {name!r} has dtype {array.dtype} or values "
                             f"that are not {expected} type")
        if array.ndim != len(axes):
            raise InputError(f"{source}: feature {name!r} has shape {array.shape}, expected "
                             f"{len(axes)} axes ({', '.join(map(str, axes))})")
        for axis, (size, symbol) in enumerate(zip(array.shape, axes, strict=True)):
            if isinstance(symbol, int):
                if size != symbol:
                    raise InputError(f"{source}: feature {name!r} has shape {array.shape}, "
                                     f"expected {symbol} along axis {axis}")
            elif symbol in sizes and sizes[symbol][0] != size:
                raise InputError(f"{source}: feature {name!r} has shape {array.shape}, which "
                                 f"disagrees with {sizes[symbol][1]!r} on the {symbol} axis "
                                 f"({size} vs {sizes[symbol][0]})")
            else:
                sizes.setdefault(symbol, (size, name))
        if kind == "float":
            if not np.all(np.isfinite(array)):
                raise InputError(f"{source}: feature {name!r} holds non-finite values")
            out[name] = array.astype(np.float32)
        else:
            limit = _INDEX_LIMITS.get(name)
            if limit is not None and array.size and (array.min() < 0 or array.max() > limit):
                raise InputError(f"{source}: feature {name!r} has values outside 0..{limit}")
            out[name] = array.astype(np.int32)
    if sizes["L"][0] < 1 or sizes["N"][0] < 1 or sizes["T"][0] < 1:
        raise InputError(f"{source}: features hold no residues, no MSA row or no template "
                         "slot (a complex without templates has one empty slot)")
    if out["asym_id"].min() < 1:
        raise InputError(f"{source}: feature 'asym_id' must number chains from 1")
    bert = features.get(BERT_MASK)
    if bert is not None and np.shape(bert) == out["msa"].shape:
        out[BERT_MASK] = np.asarray(bert, np.float32)
    else:
        out[BERT_MASK] = out["msa_mask"].copy()
    return out


@dataclass(frozen=True)
class MultimerFeatures:
    """Validated raw multimer features."""

    arrays: dict[str, np.ndarray]

    @property
    def num_res(self) -> int:
        return int(self.arrays["aatype"].shape[0])

    @property
    def asym_id(self) -> np.ndarray:
        return self.arrays["asym_id"]

    @property
    def num_chains(self) -> int:
        return int(np.unique(self.arrays["asym_id"]).size)

    def raw_msa(self) -> RawMsa:
        a = self.arrays
        return RawMsa(msa=a["msa"], deletion_matrix=a["deletion_matrix"],
                      msa_mask=a["msa_mask"], cluster_bias_mask=a["cluster_bias_mask"],
                      bert_mask=a[BERT_MASK])

    def inputs(self, sample: SampledMsa) -> MultimerInputs:
        """The inputs of one pass from its MSA sample."""
        a = self.arrays
        return MultimerInputs(
            aatype=a["aatype"], residue_index=a["residue_index"], asym_id=a["asym_id"],
            entity_id=a["entity_id"], sym_id=a["sym_id"], seq_mask=a["seq_mask"],
            msa=sample.msa, deletion_matrix=sample.deletion_matrix, msa_mask=sample.msa_mask,
            cluster_profile=sample.cluster_profile,
            cluster_deletion_mean=sample.cluster_deletion_mean, extra_msa=sample.extra_msa,
            extra_deletion_matrix=sample.extra_deletion_matrix,
            extra_msa_mask=sample.extra_msa_mask, template_aatype=a["template_aatype"],
            template_all_atom_positions=a["template_all_atom_positions"],
            template_all_atom_mask=a["template_all_atom_mask"])


def load_multimer_features(path: str | Path) -> MultimerFeatures:
    """Read and validate raw multimer features (``.npz`` or AlphaFold's ``features.pkl``)."""
    from folding.data.processing.raw import load_raw_features

    path = Path(path)
    if not path.is_file():
        raise InputError(f"features file {path} does not exist")
    raw = load_raw_features(path)
    return MultimerFeatures(validate_multimer_features(raw, str(path)))
