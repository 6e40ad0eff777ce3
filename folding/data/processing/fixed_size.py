"""Padding processed features to fixed MSA sizes.

AlphaFold pads the cluster centres to ``num_msa_clusters`` rows and the extra MSA to
``max_extra_msa`` rows with zeros (masks included, so padded rows are invisible to the
model). :class:`~folding.data.processing.config.Padding` chooses between those
reference shapes and compact ones; either way every recycling iteration of a target
gets the same shapes, so one compiled model serves all of them.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from folding.data.processing.config import Padding, ProcessingConfig

#: Features with one row per cluster centre.
CLUSTER_FEATURES = ("msa_feat", "msa_mask", "msa_row_mask", "bert_mask", "true_msa")
#: Features with one row per kept extra sequence.
EXTRA_FEATURES = (
    "extra_msa",
    "extra_msa_mask",
    "extra_msa_row_mask",
    "extra_has_deletion",
    "extra_deletion_value",
)


def padded_row_counts(num_seq: int, config: ProcessingConfig, padding: Padding) -> tuple[int, int]:
    """Rows of the cluster and extra-MSA features after padding, for an MSA of ``num_seq`` rows."""
    clusters = min(config.num_msa_clusters, num_seq)
    extra = min(config.max_extra_msa, num_seq - clusters)
    return (
        padding.rows(clusters, config.num_msa_clusters),
        padding.rows(extra, config.max_extra_msa),
    )


def pad_rows(array: np.ndarray, rows: int) -> np.ndarray:
    """``array`` zero-padded along its first axis to ``rows`` rows."""
    missing = rows - array.shape[0]
    if missing < 0:
        raise ValueError(f"cannot pad {array.shape[0]} rows down to {rows}")
    if missing == 0:
        return array
    return np.pad(array, [(0, missing)] + [(0, 0)] * (array.ndim - 1))


def pad_msa_features(
    features: Mapping[str, np.ndarray], cluster_rows: int, extra_rows: int
) -> dict[str, np.ndarray]:
    """Cluster features padded to ``cluster_rows`` and extra-MSA features to ``extra_rows``."""
    padded = dict(features)
    for key in CLUSTER_FEATURES:
        padded[key] = pad_rows(features[key], cluster_rows)
    for key in EXTRA_FEATURES:
        padded[key] = pad_rows(features[key], extra_rows)
    return padded
