"""Padding processed features to fixed MSA sizes.

AlphaFold pads the cluster centres to ``num_msa_clusters`` rows and the extra MSA to
``max_extra_msa`` rows with zeros (masks included, so padded rows are invisible to the
model). :class:`~folding.data.processing.config.Padding` chooses between those
reference shapes and compact ones; either way every recycling iteration of a target
gets the same shapes, so one compiled model serves all of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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


def stack_padded(arrays: Sequence[np.ndarray], rows: int) -> np.ndarray:
    """``arrays`` (one per recycling iteration) zero-padded to ``rows`` rows and stacked."""
    first = arrays[0]
    stacked = np.zeros((len(arrays), rows, *first.shape[1:]), dtype=first.dtype)
    for index, array in enumerate(arrays):
        if array.shape[0] > rows:
            raise ValueError(f"cannot pad {array.shape[0]} rows down to {rows}")
        stacked[index, : array.shape[0]] = array
    return stacked


def stack_msa_features(
    iterations: Sequence[Mapping[str, np.ndarray]], cluster_rows: int, extra_rows: int
) -> dict[str, np.ndarray]:
    """Per-iteration MSA features padded (clusters, extra MSA) and stacked on a leading axis."""
    stacked = {}
    for key in iterations[0]:
        rows = cluster_rows if key in CLUSTER_FEATURES else extra_rows
        if key not in CLUSTER_FEATURES and key not in EXTRA_FEATURES:
            raise KeyError(f"no padding rule for {key}")
        stacked[key] = stack_padded([iteration[key] for iteration in iterations], rows)
    return stacked
