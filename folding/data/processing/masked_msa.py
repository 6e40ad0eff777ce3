"""The masked-MSA corruption of the cluster centres (supplement 1.2.7).

A fraction (15%) of the positions of the sampled cluster centres is selected; each
selected residue is replaced by a residue drawn from a four-way mixture: a uniformly
random standard residue (10%), a residue drawn from the MSA profile of its column
(10%), the residue itself (10%) or the mask token (70%). The model sees the corrupted
centres; ``true_msa`` keeps the originals and ``bert_mask`` marks the selection (the
masked-MSA head is trained on them, supplement 1.9.9).

Drawing and applying are separate so that a draw can be replayed exactly (tests feed
the same draw to the reference).
"""

from __future__ import annotations

import numpy as np

from folding.common.alphabet import NUM_RESTYPES
from folding.data.processing.config import MaskedMsaConfig

#: The mask token, one past the gap: MSA one-hots have 23 classes.
MASK_TOKEN = 22
#: Classes of the HHblits-style profile: 20 residues, X and the gap.
PROFILE_CLASSES = 22


def msa_profile(msa: np.ndarray) -> np.ndarray:
    """Column frequencies [L, 22] of an MSA of AlphaFold ids (the 'HHblits profile')."""
    num_seq, num_res = msa.shape
    flat = (np.arange(num_res)[None, :] * PROFILE_CLASSES + msa).reshape(-1)
    counts = np.bincount(flat, minlength=num_res * PROFILE_CLASSES)
    return counts.reshape(num_res, PROFILE_CLASSES).astype(np.float32) / np.float32(num_seq)


def draw_bert(
    rng: np.random.Generator,
    centres: np.ndarray,
    profile: np.ndarray,
    config: MaskedMsaConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the corruption of the centres [C, L]: (selected [C, L] bool, values [C, L] int32).

    ``values`` holds the replacement at selected positions and the original residue
    elsewhere, so ``where(selected, values, centres) == values``.
    """
    selected = rng.random(centres.shape) < config.replace_fraction
    values = centres.astype(np.int32, copy=True)
    rows, cols = np.nonzero(selected)
    count = rows.size
    if count == 0:
        return selected, values
    probs = np.array(
        [config.uniform_prob, config.profile_prob, config.same_prob, config.mask_token_prob]
    )
    kind = rng.choice(4, size=count, p=probs / probs.sum())
    drawn = values[rows, cols]
    uniform = kind == 0
    drawn[uniform] = rng.integers(0, NUM_RESTYPES, size=int(uniform.sum()))
    from_profile = kind == 1
    drawn[from_profile] = _draw_from_columns(rng, profile, cols[from_profile])
    drawn[kind == 3] = MASK_TOKEN
    values[rows, cols] = drawn
    return selected, values


def _draw_from_columns(
    rng: np.random.Generator, profile: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """One residue per entry of ``cols``, drawn from that column's profile."""
    if cols.size == 0:
        return np.zeros(0, dtype=np.int32)
    cdf = np.cumsum(profile.astype(np.float64), axis=-1)[cols]
    u = rng.random(cols.size) * cdf[:, -1]
    drawn = (cdf <= u[:, None]).sum(axis=-1)
    return np.minimum(drawn, PROFILE_CLASSES - 1).astype(np.int32)


def apply_bert(
    centres: np.ndarray, selected: np.ndarray, values: np.ndarray
) -> dict[str, np.ndarray]:
    """The corrupted centres ``msa`` with ``true_msa`` and ``bert_mask``."""
    return {
        "msa": np.where(selected, values, centres).astype(np.int32),
        "true_msa": centres.astype(np.int32),
        "bert_mask": selected.astype(np.float32),
    }
