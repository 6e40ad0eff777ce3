"""Raw features -> the model's processed features, in NumPy (no TensorFlow).

This is AlphaFold's input pipeline for monomer models at inference (supplement 1.2.7
MSA clustering and masking, 1.2.9 features, 1.10 recycling): per-residue target
features, the top templates with their pseudo-beta atoms, and for every recycling
iteration an independently drawn MSA sample (cluster centres, masked MSA, nearest
cluster summaries, extra MSA), padded to fixed sizes. The result has AlphaFold's keys,
dtypes and, with reference padding, its shapes, with a leading dimension of
``num_recycle + 1``: recycling iteration ``r`` reads slice ``r``.

The random choices are drawn from NumPy's PCG64 seeded by ``seed`` (a different stream
from AlphaFold's TensorFlow Philox: same distributions, different draws). Iteration
``r`` uses its own child stream, so its sample does not depend on ``num_recycle`` and
the output is the same for the same seed on every machine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from folding.data.processing.config import COMPACT_PADDING, Padding, ProcessingConfig
from folding.data.processing.fixed_size import padded_row_counts, stack_msa_features
from folding.data.processing.masked_msa import msa_profile
from folding.data.processing.msa_features import sampled_msa_features
from folding.data.processing.msa_sampling import MsaSample, draw_msa_sample
from folding.data.processing.raw import RawFeatures
from folding.data.processing.target import target_features
from folding.data.processing.templates import template_features

_CROP_SEED_STREAM = 0
_SAMPLE_STREAM = 1


def _rng(seed: int, *stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=stream))


def as_raw_features(raw: Mapping[str, Any] | RawFeatures) -> RawFeatures:
    """``raw`` checked and re-encoded (a :class:`RawFeatures` passes through)."""
    return raw if isinstance(raw, RawFeatures) else RawFeatures.from_mapping(raw)


def draw_msa_samples(
    raw: Mapping[str, Any] | RawFeatures,
    config: ProcessingConfig,
    seed: int,
    num_recycle: int | None = None,
) -> list[MsaSample]:
    """The MSA samples of every recycling iteration (one shared sample without resampling)."""
    features = as_raw_features(raw)
    num_recycle = config.num_recycle if num_recycle is None else num_recycle
    profile = msa_profile(features.msa)
    if not config.resample_msa_in_recycling:
        return [draw_msa_sample(_rng(seed, _SAMPLE_STREAM, 0), features.msa, profile, config)]
    return [
        draw_msa_sample(_rng(seed, _SAMPLE_STREAM, r), features.msa, profile, config)
        for r in range(num_recycle + 1)
    ]


def process_features(
    raw: Mapping[str, Any] | RawFeatures,
    config: ProcessingConfig,
    seed: int = 0,
    num_recycle: int | None = None,
    padding: Padding = COMPACT_PADDING,
    samples: Sequence[MsaSample] | None = None,
) -> dict[str, np.ndarray]:
    """Processed features of one model for all recycling iterations.

    ``raw`` is a raw feature dict (AlphaFold's names, e.g. from
    :func:`~folding.data.processing.raw.load_raw_features`) or :class:`RawFeatures`.
    ``num_recycle`` defaults to ``config.num_recycle``; every array gets a leading
    dimension of ``num_recycle + 1``. With ``config.resample_msa_in_recycling`` each
    iteration has its own sample, otherwise all slices are the same sample (AlphaFold
    then returns a single slice; we repeat it so that slice ``r`` is always iteration
    ``r``).

    ``padding`` defaults to compact padding, which changes no prediction and saves
    most of the MSA work for shallow alignments; pass
    :data:`~folding.data.processing.config.REFERENCE_PADDING` for AlphaFold's exact
    shapes. ``samples`` replays given draws (one per iteration, or one shared) instead
    of drawing from ``seed``.
    """
    features = as_raw_features(raw)
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    num_recycle = config.num_recycle if num_recycle is None else num_recycle
    num_iterations = num_recycle + 1
    if samples is None:
        samples = draw_msa_samples(features, config, seed, num_recycle)
    if len(samples) not in (1, num_iterations):
        raise ValueError(f"got {len(samples)} MSA samples for {num_iterations} iterations")

    fixed = target_features(features)
    if config.use_templates:
        fixed.update(template_features(features, config.max_templates))
    crop_seed = _rng(seed, _CROP_SEED_STREAM).integers(
        np.iinfo(np.int32).min, np.iinfo(np.int32).max, size=2, dtype=np.int32
    )
    fixed["random_crop_to_size_seed"] = crop_seed

    cluster_rows, extra_rows = padded_row_counts(features.num_seq, config, padding)
    per_sample = [sampled_msa_features(features, sample) for sample in samples]
    iterations = per_sample * num_iterations if len(per_sample) == 1 else per_sample
    processed = {
        key: np.repeat(value[None], num_iterations, axis=0) for key, value in fixed.items()
    }
    processed.update(stack_msa_features(iterations, cluster_rows, extra_rows))
    return processed
