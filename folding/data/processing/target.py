"""Per-residue features of the target sequence (supplement 1.2.9, Table 1).

These are deterministic: the same in every recycling iteration and equal to
AlphaFold's. ``target_feat`` is the domain-break flag followed by the one-hot residue
type (22 channels); the atom14/atom37 tables say which atoms each residue has and
where they sit in the two layouts (supplement 1.2.1).
"""

from __future__ import annotations

import numpy as np

from folding.common.alphabet import NUM_RESTYPES
from folding.common.atoms import (
    ATOM14_MASK,
    ATOM14_TO_ATOM37,
    ATOM37_TO_ATOM14,
    STANDARD_ATOM37_MASK,
)
from folding.data.processing.raw import RawFeatures


def one_hot(ids: np.ndarray, depth: int) -> np.ndarray:
    """float32 one-hot of integer ids; ids outside [0, depth) give all-zero rows."""
    ids = np.asarray(ids)
    out = np.zeros((*ids.shape, depth), dtype=np.float32)
    valid = (ids >= 0) & (ids < depth)
    index = np.nonzero(valid)
    out[(*index, ids[index])] = 1.0
    return out


def target_features(raw: RawFeatures) -> dict[str, np.ndarray]:
    """The per-residue features that do not depend on the MSA sample."""
    aatype = raw.aatype
    has_break = np.clip(raw.between_segment_residues.astype(np.float32), 0.0, 1.0)
    return {
        "aatype": aatype.astype(np.int32),
        "residue_index": raw.residue_index.astype(np.int32),
        "seq_length": np.asarray(raw.num_res, dtype=np.int32),
        "is_distillation": np.asarray(0.0, dtype=np.float32),
        "seq_mask": np.ones(raw.num_res, dtype=np.float32),
        "target_feat": np.concatenate(
            [has_break[:, None], one_hot(aatype, NUM_RESTYPES + 1)], axis=-1
        ),
        "atom14_atom_exists": ATOM14_MASK[aatype].astype(np.float32),
        "residx_atom14_to_atom37": ATOM14_TO_ATOM37[aatype].astype(np.int32),
        "residx_atom37_to_atom14": ATOM37_TO_ATOM14[aatype].astype(np.int32),
        "atom37_atom_exists": STANDARD_ATOM37_MASK[aatype].astype(np.float32),
    }
