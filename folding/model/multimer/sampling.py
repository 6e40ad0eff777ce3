"""MSA sampling and masking inside each recycling pass (AlphaFold-Multimer).

The multimer model draws, for every recycling pass, which MSA rows become cluster
centres and which positions of the centres are masked (the BERT-style corruption of
Suppl. 1.2.7), from the pass's random key; the remaining rows form the extra MSA, and
each centre gets the profile of the extra rows nearest to it (Multimer supplement 2.5).

Random numbers follow the reference exactly, so that a seed gives the same samples:

* ``PRNGKey(seed)``, then per pass ``key, apply_key = split(key)``
  (:func:`recycling_pass_keys`);
* from ``apply_key``: ``split(., 2)[1]`` (the network's first key), ``split(., 2)[1]``
  (the ensemble step), ``_, sample_key, mask_key = split(., 3)`` (:func:`sampling_keys`);
* every random value is drawn from its own key ``fold_in(fold_in(key, i), j) ...`` at its
  index, so padding an array leaves the values of its other entries unchanged
  (:func:`padding_consistent_uniform`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from folding.data.processing.config import MaskedMsaConfig

#: Added inside the logarithms of the Gumbel noise and of the masking probabilities.
_GUMBEL_EPSILON = 1e-6
#: Weight of the sampling logits that keep unmasked rows before masked ones and the
#: rows of ``cluster_bias_mask`` (each chain's query) before all others.
_ROW_PRIORITY = 1e6
#: Classes of the MSA one-hot with the mask token: 20 amino acids, unknown, gap, mask.
NUM_MSA_CLASSES = 23
_MASK_TOKEN = 22


@dataclass(frozen=True)
class MsaSamplingConfig:
    """Cluster centres, extra rows and the masked-MSA corruption of one pass.

    ``num_msa`` rows become cluster centres (the queries always among them); the next
    ``num_extra_msa`` rows of the sampled order form the extra MSA. The official v3
    models use 508 centres and 2048 extra rows (1152 for models 4 and 5).
    """

    num_msa: int = 508
    num_extra_msa: int = 2048
    masked_msa: MaskedMsaConfig = field(default_factory=MaskedMsaConfig)
    use_cluster_profile: bool = True


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class RawMsa:
    """The complex's whole MSA as the data pipeline made it (N rows, L residues)."""

    msa: jax.Array                # [N, L] int, AlphaFold ids (gap = 21)
    deletion_matrix: jax.Array    # [N, L] deletion counts
    msa_mask: jax.Array           # [N, L]
    cluster_bias_mask: jax.Array  # [N] rows always taken as centres first
    bert_mask: jax.Array          # [N, L]


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class SampledMsa:
    """One pass's sample: S cluster centres and E extra rows.

    ``msa`` holds the centres after masking (22 = mask token) and ``true_msa`` before;
    ``bert_mask`` marks the masked positions; ``cluster_profile`` [S, L, 23] and
    ``cluster_deletion_mean`` [S, L] summarise each centre's cluster.
    """

    msa: jax.Array
    true_msa: jax.Array
    deletion_matrix: jax.Array
    msa_mask: jax.Array
    bert_mask: jax.Array
    cluster_profile: jax.Array
    cluster_deletion_mean: jax.Array
    extra_msa: jax.Array
    extra_deletion_matrix: jax.Array
    extra_msa_mask: jax.Array


def recycling_pass_keys(seed: int, num_passes: int) -> list[jax.Array]:
    """The key of each recycling pass: ``key, pass_key = split(key)`` from ``PRNGKey(seed)``."""
    key = jax.random.PRNGKey(seed)
    keys = []
    for _ in range(num_passes):
        key, pass_key = jax.random.split(key)
        keys.append(pass_key)
    return keys


def sampling_keys(pass_key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(sample_key, mask_key) of a pass, derived as the reference network derives them."""
    network_key = jax.random.split(pass_key, 2)[1]
    ensemble_key = jax.random.split(network_key, 2)[1]
    _, sample_key, mask_key = jax.random.split(ensemble_key, 3)
    return sample_key, mask_key


def padding_consistent_uniform(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Uniform [0, 1) values, the one at index (i, j, ...) drawn from
    ``fold_in(fold_in(key, i), j) ...``: independent of the array's size."""
    if not shape:
        return jax.random.uniform(key, (), jnp.float32, 0.0, 1.0)

    def at(index):
        return padding_consistent_uniform(jax.random.fold_in(key, index), shape[1:])

    return jax.vmap(at)(jnp.arange(shape[0]))


def gumbel_noise(key: jax.Array, shape: tuple[int, ...]) -> jax.Array:
    """Standard Gumbel noise, padding-consistent."""
    uniform = padding_consistent_uniform(key, shape)
    return -jnp.log(-jnp.log(uniform + _GUMBEL_EPSILON) + _GUMBEL_EPSILON)


def msa_profile(msa: jax.Array, msa_mask: jax.Array) -> jax.Array:
    """[L, 22]: the frequency of each residue type (with gap) in each column."""
    one_hot = jax.nn.one_hot(msa, 22)
    mask = msa_mask[..., None].astype(jnp.float32)
    return jnp.sum(mask * one_hot, axis=0) / (jnp.sum(mask, axis=0) + 1e-10)


def sampled_row_order(key: jax.Array, msa_mask: jax.Array,
                      cluster_bias_mask: jax.Array) -> jax.Array:
    """A random order of the MSA rows: biased rows first, rows with no residue last.

    Gumbel-top-k sampling without replacement (uniform among the unbiased live rows):
    the rows sorted by ``priority + Gumbel noise``, descending.
    """
    has_residue = jnp.clip(jnp.sum(msa_mask, axis=-1), 0.0, 1.0)
    logits = (has_residue - 1.0) * _ROW_PRIORITY
    logits = logits + cluster_bias_mask.astype(jnp.float32) * _ROW_PRIORITY
    scores = logits + gumbel_noise(key, logits.shape)
    rows = jax.lax.broadcasted_iota(jnp.int32, scores.shape, 0)
    _, ascending = jax.lax.sort_key_val(scores, rows, dimension=-1, is_stable=False)
    return ascending[::-1]


def mask_msa(msa: jax.Array, msa_mask: jax.Array, profile: jax.Array, key: jax.Array,
             config: MaskedMsaConfig) -> tuple[jax.Array, jax.Array]:
    """Suppl. 1.2.7 masked-MSA corruption of the centres: (corrupted msa, masked positions).

    Each position is selected with probability ``replace_fraction``; a selected one
    becomes a uniform amino acid, a draw from its column profile, stays, or becomes the
    mask token, with the config's probabilities.
    """
    _, position_key, replacement_key = jax.random.split(key, 3)
    uniform_aa = jnp.array([0.05] * 20 + [0.0, 0.0], jnp.float32)
    probs = (config.uniform_prob * uniform_aa + config.profile_prob * profile
             + config.same_prob * jax.nn.one_hot(msa, 22))
    probs = jnp.concatenate(
        [probs, jnp.full((*probs.shape[:-1], 1), config.mask_token_prob, probs.dtype)], -1)
    selected = padding_consistent_uniform(position_key, msa.shape) < config.replace_fraction
    selected = selected.astype(jnp.float32) * msa_mask
    logits = jnp.log(probs + _GUMBEL_EPSILON)
    replacement = jnp.argmax(logits + gumbel_noise(replacement_key, logits.shape), axis=-1)
    corrupted = jnp.where(selected > 0, replacement.astype(msa.dtype), msa)
    corrupted = (corrupted * (msa_mask > 0)).astype(jnp.int32)
    return corrupted, selected


def cluster_profiles(msa: jax.Array, msa_mask: jax.Array, deletion_matrix: jax.Array,
                     extra_msa: jax.Array, extra_mask: jax.Array,
                     extra_deletion_matrix: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Each centre's profile [S, L, 23] and mean deletions [S, L] over its cluster.

    Every extra row is assigned to the centres it agrees with most (a softmax of
    1000 x the number of identical residues, gaps and mask tokens not counted); a cluster
    is its centre plus its assigned rows.
    """
    weights = jnp.array([1.0] * 21 + [0.0, 0.0], jnp.float32)
    centres = msa_mask[..., None] * jax.nn.one_hot(msa, NUM_MSA_CLASSES)
    extras = extra_mask[..., None] * jax.nn.one_hot(extra_msa, NUM_MSA_CLASSES)
    agreement = jnp.einsum("erc,src->se", extras, weights * centres)  # [S, E]
    assignment = jax.nn.softmax(1e3 * agreement, axis=0)
    assignment = assignment * jnp.einsum("sr,er->se", msa_mask, extra_mask)
    count = jnp.sum(assignment, axis=-1) + 1.0
    profile = (jnp.einsum("se,erc->src", assignment, extras) + centres) / count[:, None, None]
    deletions = jnp.einsum("se,er->sr", assignment, extra_mask * extra_deletion_matrix)
    deletion_mean = (deletions + deletion_matrix) / count[:, None]
    return profile, deletion_mean


def sample_msa(raw: RawMsa, sample_key: jax.Array, mask_key: jax.Array,
               config: MsaSamplingConfig) -> SampledMsa:
    """One pass's centres (masked), extra rows and cluster profiles (jit-able).

    The cluster profiles use every non-centre row; the extra MSA keeps the first
    ``num_extra_msa`` of them.
    """
    profile = msa_profile(raw.msa, raw.msa_mask)
    order = sampled_row_order(sample_key, raw.msa_mask, raw.cluster_bias_mask)
    centres, rest = order[:config.num_msa], order[config.num_msa:]
    msa, msa_mask = raw.msa[centres], raw.msa_mask[centres]
    deletion_matrix = raw.deletion_matrix[centres]
    extra_msa, extra_mask = raw.msa[rest], raw.msa_mask[rest]
    extra_deletions = raw.deletion_matrix[rest]
    corrupted, selected = mask_msa(msa, msa_mask, profile, mask_key, config.masked_msa)
    if config.use_cluster_profile:
        cluster_profile, deletion_mean = cluster_profiles(
            corrupted, msa_mask, deletion_matrix, extra_msa, extra_mask, extra_deletions)
    else:
        cluster_profile = jax.nn.one_hot(corrupted, NUM_MSA_CLASSES)
        deletion_mean = deletion_matrix
    keep = config.num_extra_msa
    return SampledMsa(
        msa=corrupted, true_msa=msa, deletion_matrix=deletion_matrix, msa_mask=msa_mask,
        bert_mask=raw.bert_mask[centres] * selected, cluster_profile=cluster_profile,
        cluster_deletion_mean=deletion_mean, extra_msa=extra_msa[:keep],
        extra_deletion_matrix=extra_deletions[:keep], extra_msa_mask=extra_mask[:keep])


def live_rows(mask: np.ndarray) -> int:
    """1 + the index of the last row with any unmasked entry (at least 1)."""
    live = np.flatnonzero(np.asarray(mask).any(axis=-1))
    return int(live[-1]) + 1 if live.size else 1


def trim_sample(sample: SampledMsa) -> SampledMsa:
    """The sample without its trailing fully masked centres and extra rows.

    Unmasked rows come first in the sampled order, so the rows dropped are padding:
    masked rows never reach an unmasked output and the predictions are unchanged (up
    to float rounding). One extra row is kept if all are masked.
    """
    centres = live_rows(sample.msa_mask)
    extra = live_rows(sample.extra_msa_mask)
    arrays = {}
    for name in ("msa", "true_msa", "deletion_matrix", "msa_mask", "bert_mask",
                 "cluster_profile", "cluster_deletion_mean"):
        arrays[name] = np.asarray(getattr(sample, name))[:centres]
    for name in ("extra_msa", "extra_deletion_matrix", "extra_msa_mask"):
        value = np.asarray(getattr(sample, name))
        if value.shape[0] == 0:  # fewer rows than centres: one masked extra row
            value = np.zeros((1, *value.shape[1:]), value.dtype)
        arrays[name] = value[:extra]
    return SampledMsa(**arrays)
