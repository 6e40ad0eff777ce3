"""Template features for the model: selection, pseudo-beta atoms and padding.

The featuriser hands over templates best first (by HHsearch/hmmsearch sum of
probabilities); the model takes the first ``max_templates`` of them (at inference
AlphaFold does not subsample templates). Each template contributes its residue types,
atom coordinates and masks, and its pseudo-beta atom (C-beta, C-alpha for glycine),
whose distances feed the template pair features (supplement 1.2.9, Table 1, and
Algorithm 16, template pair stack input).
"""

from __future__ import annotations

import numpy as np

from folding.common.alphabet import RESTYPE_INDEX
from folding.common.atoms import ATOM37_INDEX
from folding.data.processing.raw import RawFeatures

_GLY = RESTYPE_INDEX["G"]
_CA = ATOM37_INDEX["CA"]
_CB = ATOM37_INDEX["CB"]


def pseudo_beta(
    aatype: np.ndarray, positions: np.ndarray, masks: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pseudo-beta position [..., 3] and mask [...]: C-beta, or C-alpha for glycine."""
    is_gly = aatype == _GLY
    coords = np.where(is_gly[..., None], positions[..., _CA, :], positions[..., _CB, :])
    mask = np.where(is_gly, masks[..., _CA], masks[..., _CB])
    return coords.astype(np.float32), mask.astype(np.float32)


def template_features(raw: RawFeatures, max_templates: int) -> dict[str, np.ndarray]:
    """The first ``max_templates`` templates, zero-padded to exactly ``max_templates``.

    ``template_mask`` is 1 for every template the input lists (AlphaFold counts the
    all-zero placeholder template its featuriser writes when no hit survives, too) and
    0 for padding; without any template input all templates are padding.
    """
    kept = min(raw.num_templates, max_templates)
    aatype = raw.template_aatype[:kept]
    positions = raw.template_all_atom_positions[:kept]
    masks = raw.template_all_atom_masks[:kept]
    beta, beta_mask = pseudo_beta(aatype, positions, masks)
    features = {
        "template_aatype": aatype.astype(np.int32),
        "template_all_atom_masks": masks.astype(np.float32),
        "template_all_atom_positions": positions.astype(np.float32),
        "template_mask": np.ones(kept, dtype=np.float32),
        "template_pseudo_beta": beta,
        "template_pseudo_beta_mask": beta_mask,
        "template_sum_probs": raw.template_sum_probs[:kept].astype(np.float32),
    }
    pad = max_templates - kept
    return {
        key: np.pad(value, [(0, pad)] + [(0, 0)] * (value.ndim - 1))
        for key, value in features.items()
    }
