"""Confidence scores from the heads' logits: pLDDT, PAE and pTM.

Plain JAX functions (jit-able, and callable on NumPy arrays; ``np.asarray`` the result):

* pLDDT: the expected lDDT-Ca under the pLDDT head's 50 bins, x100 (Algorithm 29);
* PAE: the expected aligned error under the PAE head's 64 bins (supplement 1.9.7);
* pTM: the expected TM-score of the best-aligned frame (supplement 1.9.7, eq. 40),
  with Yang & Skolnick's d0 (Proteins 57, 702, 2004).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

Array = jax.Array


def plddt(logits: Array) -> Array:
    """Per-residue pLDDT in [0, 100] from logits [..., num_bins] over lDDT in [0, 1]."""
    logits = jnp.asarray(logits, jnp.float32)
    num_bins = logits.shape[-1]
    centers = (jnp.arange(num_bins, dtype=jnp.float32) + 0.5) / num_bins
    return 100.0 * jnp.sum(jax.nn.softmax(logits, axis=-1) * centers, axis=-1)


def bin_centers(breaks: Array) -> Array:
    """Centres of the bins between evenly spaced ``breaks`` [num_bins - 1], plus one more
    bin past the last break (the open-ended bin, represented half a step beyond it)."""
    breaks = jnp.asarray(breaks, jnp.float32)
    step = breaks[1] - breaks[0]
    centers = breaks + step / 2
    return jnp.append(centers, centers[-1] + step)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class AlignedError:
    """Predicted aligned error.

    Attributes:
        probs: [L, L, num_bins] probability of each error bin.
        pae: [L, L] expected error (Angstrom) of residue j when aligned on residue i.
        max_pae: the largest value the expectation can take (the last bin centre).
    """

    probs: Array
    pae: Array
    max_pae: Array


def predicted_aligned_error(logits: Array, breaks: Array) -> AlignedError:
    """PAE from the PAE head's logits [L, L, num_bins] and bin breaks [num_bins - 1]."""
    probs = jax.nn.softmax(jnp.asarray(logits, jnp.float32), axis=-1)
    centers = bin_centers(breaks)
    return AlignedError(probs, jnp.sum(probs * centers, axis=-1), centers[-1])


def tm_score_d0(num_res: Array | float) -> Array:
    """TM-score's length scale d0 = 1.24 (N - 15)^(1/3) - 1.8, with N at least 19."""
    n = jnp.maximum(jnp.asarray(num_res, jnp.float32), 19.0)
    return 1.24 * (n - 15.0) ** (1.0 / 3.0) - 1.8


def expected_tm_term(probs: Array, breaks: Array, residue_weights: Array) -> Array:
    """The TM term 1 / (1 + (e / d0)^2) averaged over the error bins, [..., L], from the
    bin probabilities [..., L, num_bins]; d0 is set by the sum of ``residue_weights``."""
    d0 = tm_score_d0(jnp.sum(residue_weights))
    tm_per_bin = 1.0 / (1.0 + jnp.square(bin_centers(breaks)) / jnp.square(d0))
    return jnp.sum(probs * tm_per_bin, axis=-1)


def predicted_tm_score(logits: Array, breaks: Array, residue_weights: Array | None = None,
                       asym_id: Array | None = None) -> Array:
    """pTM (or, given ``asym_id``, interface pTM) from the PAE head's logits.

    ``residue_weights`` [L] in [0, 1] (e.g. the sequence mask) weight the residues and set
    d0 by their sum. For each aligned frame i, the TM term 1 / (1 + (e / d0)^2) is
    averaged over the error bins and over residues j; the score is the best frame's.
    With ``asym_id`` only pairs from different chains count.
    """
    logits = jnp.asarray(logits, jnp.float32)
    num_res = logits.shape[0]
    weights = (jnp.ones(num_res, jnp.float32) if residue_weights is None
               else jnp.asarray(residue_weights, jnp.float32))
    tm = expected_tm_term(jax.nn.softmax(logits, axis=-1), breaks, weights)  # [L, L]
    chains = None if asym_id is None else jnp.asarray(asym_id)
    pair_mask = None if chains is None else _interface(chains, chains)
    return jnp.max(_frame_terms(tm, weights, weights, pair_mask) * weights)


def _interface(row_asym: Array, asym_id: Array) -> Array:
    """[R, L]: which residue pairs belong to different chains."""
    return row_asym[:, None] != asym_id[None, :]


def _frame_terms(tm: Array, row_weights: Array, residue_weights: Array,
                 pair_mask: Array | None = None) -> Array:
    """Per aligned frame [R]: the TM terms [R, L] averaged over the residues, weighted by
    ``residue_weights`` and restricted to ``pair_mask`` [R, L] when given."""
    pair_weights = row_weights[:, None] * residue_weights[None, :]
    if pair_mask is not None:
        tm = tm * pair_mask
        pair_weights = pair_weights * pair_mask
    normalized = pair_weights / (1e-8 + jnp.sum(pair_weights, axis=-1, keepdims=True))
    return jnp.sum(tm * normalized, axis=-1)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class AlignedErrorSummary:
    """PAE [L, L] (Angstrom), the largest value it can take, pTM and, for a complex,
    ipTM (None otherwise)."""

    pae: Array
    max_pae: Array
    ptm: Array
    iptm: Array | None = None


def aligned_error_rows(logits: Array, breaks: Array, row_weights: Array,
                       residue_weights: Array, row_asym: Array | None = None,
                       asym_id: Array | None = None) -> tuple[Array, Array, Array | None]:
    """For a block of aligned frames: their PAE rows [R, L], pTM terms [R] and, given the
    chains (``row_asym`` [R] of the frames, ``asym_id`` [L] of all residues), ipTM terms
    [R] (else None).

    ``logits`` [R, L, num_bins] are the PAE head's for R frames, ``row_weights`` [R]
    those frames' residue weights and ``residue_weights`` [L] all of them. The pTM
    (ipTM) of :func:`predicted_tm_score` is the maximum over all frames of the terms
    times their weights.
    """
    probs = jax.nn.softmax(jnp.asarray(logits, jnp.float32), axis=-1)
    pae = jnp.sum(probs * bin_centers(breaks), axis=-1)
    tm = expected_tm_term(probs, breaks, residue_weights)
    ptm_terms = _frame_terms(tm, row_weights, residue_weights)
    if asym_id is None or row_asym is None:
        return pae, ptm_terms, None
    return pae, ptm_terms, _frame_terms(tm, row_weights, residue_weights,
                                        _interface(row_asym, asym_id))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class ConfidenceMetrics:
    """The confidences of one prediction.

    Attributes:
        plddt: [L] per-residue pLDDT (0-100).
        mean_plddt: pLDDT averaged over the residues in the mask.
        aligned_error: PAE, or None for models without the PAE head.
        ptm: pTM, or None for models without the PAE head.
    """

    plddt: Array
    mean_plddt: Array
    aligned_error: AlignedError | None = None
    ptm: Array | None = None


def confidence_metrics(plddt_logits: Array, seq_mask: Array,
                       aligned_error_logits: Array | None = None,
                       aligned_error_breaks: Array | None = None) -> ConfidenceMetrics:
    """pLDDT, its masked mean and, when the PAE head's outputs are given, PAE and pTM
    (weighted by ``seq_mask``), as AlphaFold reports them."""
    per_residue = plddt(plddt_logits)
    mask = jnp.asarray(seq_mask, jnp.float32)
    mean = jnp.sum(per_residue * mask) / jnp.sum(mask)
    if aligned_error_logits is None:
        return ConfidenceMetrics(per_residue, mean)
    if aligned_error_breaks is None:
        raise ValueError("aligned_error_breaks are needed with aligned_error_logits")
    return ConfidenceMetrics(
        per_residue, mean,
        predicted_aligned_error(aligned_error_logits, aligned_error_breaks),
        predicted_tm_score(aligned_error_logits, aligned_error_breaks, mask))
