"""Raw input features: reading them and checking them before processing.

Raw features are what AlphaFold's data pipeline (and ``folding features``) writes, under
AlphaFold's names: ``aatype`` one-hot [L, 21], ``residue_index``, ``seq_length``,
``between_segment_residues``, ``msa`` [N, L] in HH-suite residue ids,
``deletion_matrix_int`` [N, L], ``num_alignments``, and for template models
``template_aatype`` one-hot [T, L, 22] (HH-suite order), ``template_all_atom_masks``
[T, L, 37], ``template_all_atom_positions`` [T, L, 37, 3] and ``template_sum_probs``
[T, 1]. String features (``sequence``, ``domain_name``, ``template_domain_names``,
species identifiers) are accepted and ignored.

:class:`RawFeatures` is the checked, re-encoded form the processing works on: residue
ids in AlphaFold's order everywhere, deletions as float32, one row per template.
"""

from __future__ import annotations

import pickle
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from folding.common.alphabet import HHBLITS_TO_AATYPE
from folding.common.atoms import NUM_ATOM37
from folding.errors import InputError

_REQUIRED = ("aatype", "msa")
_TEMPLATE_KEYS = ("template_aatype", "template_all_atom_masks", "template_all_atom_positions")


@dataclass(frozen=True)
class RawFeatures:
    """Checked raw features of one monomer target, in AlphaFold's residue ids.

    ``msa`` row 0 is the query. ``templates_given`` is False when the input had no
    template features at all (then there are zero templates).
    """

    aatype: np.ndarray  # [L] int32, 0-20
    residue_index: np.ndarray  # [L] int32
    between_segment_residues: np.ndarray  # [L] int32
    msa: np.ndarray  # [N, L] int8, 0-21 (int8 keeps deep MSAs small)
    deletion_matrix: np.ndarray  # [N, L] float32
    template_aatype: np.ndarray  # [T, L] int32, 0-21
    template_all_atom_masks: np.ndarray  # [T, L, 37] float32
    template_all_atom_positions: np.ndarray  # [T, L, 37, 3] float32
    template_sum_probs: np.ndarray  # [T, 1] float32
    templates_given: bool = True

    @property
    def num_res(self) -> int:
        return int(self.aatype.shape[0])

    @property
    def num_seq(self) -> int:
        return int(self.msa.shape[0])

    @property
    def num_templates(self) -> int:
        return int(self.template_aatype.shape[0])

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], name: str = "raw features") -> RawFeatures:
        """Check a raw feature dict (AlphaFold's names) and re-encode it.

        Raises :class:`InputError` naming ``name`` and the offending feature.
        """
        if "asym_id" in raw or "entity_id" in raw:
            raise InputError(
                f"{name} are multimer features (asym_id/entity_id); "
                "give monomer features (AlphaFold's monomer data pipeline or `folding features`)"
            )
        missing = [k for k in _REQUIRED if k not in raw]
        if "deletion_matrix_int" not in raw and "deletion_matrix" not in raw:
            missing.append("deletion_matrix_int")
        if missing:
            raise InputError(
                f"{name} lack {', '.join(missing)}; "
                "rebuild them with `folding features` or AlphaFold's data pipeline"
            )
        aatype = np.asarray(raw["aatype"])
        if aatype.ndim == 2:
            if aatype.shape[1] != 21:
                raise InputError(f"{name}: aatype has shape {aatype.shape}, expected [L, 21]")
            aatype = np.argmax(aatype, axis=-1)
        elif aatype.ndim != 1:
            raise InputError(f"{name}: aatype has shape {aatype.shape}, expected [L, 21]")
        aatype = aatype.astype(np.int32)
        num_res = aatype.shape[0]
        if num_res == 0:
            raise InputError(f"{name}: the sequence is empty")
        if aatype.min() < 0 or aatype.max() > 20:
            raise InputError(f"{name}: aatype holds ids outside 0-20 (AlphaFold's residue ids)")
        _check_scalar_per_residue(raw, "seq_length", num_res, name, expected=num_res)

        msa = np.asarray(raw["msa"])
        if msa.ndim != 2 or msa.shape[1] != num_res or msa.shape[0] == 0:
            raise InputError(
                f"{name}: msa has shape {msa.shape}, expected [N >= 1, {num_res}] "
                "(the query first)"
            )
        if msa.min() < 0 or msa.max() >= len(HHBLITS_TO_AATYPE):
            raise InputError(f"{name}: msa holds ids outside 0-21 (HH-suite residue ids)")
        _check_scalar_per_residue(raw, "num_alignments", num_res, name, expected=msa.shape[0])
        deletions = np.asarray(
            raw["deletion_matrix_int"] if "deletion_matrix_int" in raw else raw["deletion_matrix"]
        )
        if deletions.shape != msa.shape:
            raise InputError(
                f"{name}: deletion matrix has shape {deletions.shape}, msa {msa.shape}; "
                "they must match"
            )

        residue_index = np.asarray(raw.get("residue_index", np.arange(num_res)))
        between = np.asarray(raw.get("between_segment_residues", np.zeros(num_res)))
        for key, value in (("residue_index", residue_index), ("between_segment_residues", between)):
            if value.reshape(-1).shape != (num_res,):
                raise InputError(f"{name}: {key} has shape {value.shape}, expected [{num_res}]")

        templates = _templates(raw, num_res, name)
        return cls(
            aatype=aatype,
            residue_index=residue_index.reshape(-1).astype(np.int32),
            between_segment_residues=between.reshape(-1).astype(np.int32),
            msa=HHBLITS_TO_AATYPE.astype(np.int8)[msa],
            deletion_matrix=deletions.astype(np.float32),
            template_aatype=templates[0],
            template_all_atom_masks=templates[1],
            template_all_atom_positions=templates[2],
            template_sum_probs=templates[3],
            templates_given=templates[4],
        )


def _check_scalar_per_residue(
    raw: Mapping[str, Any], key: str, num_res: int, name: str, expected: int
) -> None:
    """``seq_length`` and ``num_alignments`` repeat one number once per residue."""
    if key not in raw:
        return
    value = np.asarray(raw[key]).reshape(-1)
    if value.size == 0 or int(value[0]) != expected:
        raise InputError(
            f"{name}: {key} says {value[:1].tolist()}, but the features hold {expected}; "
            "the file is inconsistent, rebuild it"
        )


def _templates(
    raw: Mapping[str, Any], num_res: int, name: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, bool]:
    present = [k for k in _TEMPLATE_KEYS if k in raw]
    if not present:
        return (
            np.zeros((0, num_res), np.int32),
            np.zeros((0, num_res, NUM_ATOM37), np.float32),
            np.zeros((0, num_res, NUM_ATOM37, 3), np.float32),
            np.zeros((0, 1), np.float32),
            False,
        )
    if len(present) != len(_TEMPLATE_KEYS):
        missing = sorted(set(_TEMPLATE_KEYS) - set(present))
        raise InputError(f"{name} have some template features but lack {', '.join(missing)}")
    onehot = np.asarray(raw["template_aatype"])
    if onehot.size == 0:
        # No hits: AlphaFold's own features.pkl (and ours) then hold empty 1-D template
        # arrays; the reference reads that as zero templates (later padded, mask 0).
        return (
            np.zeros((0, num_res), np.int32),
            np.zeros((0, num_res, NUM_ATOM37), np.float32),
            np.zeros((0, num_res, NUM_ATOM37, 3), np.float32),
            np.zeros((0, 1), np.float32),
            True,
        )
    num_templates = onehot.shape[0]
    masks = np.asarray(raw["template_all_atom_masks"], dtype=np.float32)
    positions = np.asarray(raw["template_all_atom_positions"], dtype=np.float32)
    if masks.ndim == 4 and masks.shape[-1] == 1:
        masks = masks[..., 0]
    expected = {
        "template_aatype": ((num_templates, num_res, 22), onehot.shape),
        "template_all_atom_masks": ((num_templates, num_res, NUM_ATOM37), masks.shape),
        "template_all_atom_positions": ((num_templates, num_res, NUM_ATOM37, 3), positions.shape),
    }
    for key, (want, got) in expected.items():
        if tuple(got) != want:
            raise InputError(f"{name}: {key} has shape {tuple(got)}, expected {want}")
    if "template_sum_probs" in raw:
        sum_probs = np.asarray(raw["template_sum_probs"], dtype=np.float32).reshape(-1, 1)
    else:
        sum_probs = np.zeros((num_templates, 1), np.float32)
    if sum_probs.shape[0] != num_templates:
        raise InputError(
            f"{name}: template_sum_probs has {sum_probs.shape[0]} rows "
            f"for {num_templates} templates"
        )
    # One-hot in HH-suite order -> AlphaFold ids (an all-zero row reads as the first id).
    aatype = HHBLITS_TO_AATYPE[np.argmax(onehot, axis=-1)].astype(np.int32)
    return aatype, masks, positions, sum_probs, True


def load_raw_features(path: str | Path) -> dict[str, np.ndarray]:
    """Read raw features from ``folding features``' ``.npz`` or AlphaFold's ``features.pkl``.

    The ``.npz`` is read without pickle (:func:`folding.data.features.load_raw_npz`).
    ``features.pkl`` is a Python pickle, as AlphaFold writes it: unpickling can run code,
    so load only files you trust.
    """
    from folding.data.features import load_raw_npz

    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"raw features file {path} not found; give the output of `folding features`"
        )
    try:
        if zipfile.is_zipfile(path):
            features: Any = load_raw_npz(path)
        else:
            with path.open("rb") as handle:
                features = pickle.load(handle)
    except Exception as error:  # a corrupt pickle can raise almost anything
        raise InputError(
            f"cannot read raw features from {path} ({error.__class__.__name__}: {error}); "
            "give an .npz from `folding features` or AlphaFold's features.pkl"
        ) from error
    if not isinstance(features, Mapping):
        raise InputError(
            f"{path} holds a {type(features).__name__}, not a feature dict; "
            "give an .npz from `folding features` or AlphaFold's features.pkl"
        )
    return {str(key): np.asarray(value) for key, value in features.items()}
