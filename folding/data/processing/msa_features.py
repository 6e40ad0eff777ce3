"""MSA features of one recycling iteration, given its sample (supplement 1.2.7, 1.2.9 Table 1).

From the raw MSA and a :class:`~folding.data.processing.msa_sampling.MsaSample` this
builds what the model reads: ``msa_feat`` (49 channels per centre position: the
one-hot corrupted residue (23), has-deletion, the deletion value
``2/pi * arctan(d/3)``, the cluster profile (23) and the transformed cluster deletion
mean), the BERT targets, and the extra MSA with its deletion features. Nothing here is
random: the same sample gives the same features.
"""

from __future__ import annotations

import numpy as np

from folding.data.processing.clustering import (
    MSA_CLASSES,
    assign_to_clusters,
    summarize_clusters,
)
from folding.data.processing.masked_msa import apply_bert
from folding.data.processing.msa_sampling import MsaSample
from folding.data.processing.raw import RawFeatures
from folding.data.processing.target import one_hot


def deletion_value(deletions: np.ndarray) -> np.ndarray:
    """Deletion counts squashed into [0, 1): 2/pi * arctan(d / 3) (Table 1)."""
    return np.arctan(deletions.astype(np.float32) / 3.0) * (2.0 / np.pi)


def has_deletion(deletions: np.ndarray) -> np.ndarray:
    """1 where at least one residue was deleted before this position, else 0."""
    return np.clip(deletions.astype(np.float32), 0.0, 1.0)


def sampled_msa_features(raw: RawFeatures, sample: MsaSample) -> dict[str, np.ndarray]:
    """Unpadded MSA features: [C, ...] for centres, [E, ...] for the kept extra sequences."""
    centre_rows = sample.cluster_rows
    extra_rows = sample.extra_rows
    true_centres = raw.msa[centre_rows]
    centre_deletions = raw.deletion_matrix[centre_rows]
    centre_mask = np.ones(true_centres.shape, dtype=np.float32)
    bert = apply_bert(true_centres, sample.bert_selected, sample.bert_values)
    centres = bert["msa"]

    extra = raw.msa[extra_rows]
    extra_deletions = raw.deletion_matrix[extra_rows]
    assignment = assign_to_clusters(centres, extra)
    profile, deletion_mean = summarize_clusters(
        centres, centre_deletions, extra, extra_deletions, assignment
    )
    msa_feat = np.concatenate(
        [
            one_hot(centres, MSA_CLASSES),
            has_deletion(centre_deletions)[..., None],
            deletion_value(centre_deletions)[..., None],
            profile,
            deletion_value(deletion_mean)[..., None],
        ],
        axis=-1,
    )
    kept = sample.extra_order
    kept_deletions = extra_deletions[kept]
    return {
        "msa_feat": msa_feat,
        "msa_mask": centre_mask,
        "msa_row_mask": np.ones(centres.shape[0], dtype=np.float32),
        "bert_mask": bert["bert_mask"],
        "true_msa": bert["true_msa"],
        "extra_msa": extra[kept].astype(np.int32),
        "extra_msa_mask": np.ones((kept.shape[0], raw.num_res), dtype=np.float32),
        "extra_msa_row_mask": np.ones(kept.shape[0], dtype=np.float32),
        "extra_has_deletion": has_deletion(kept_deletions),
        "extra_deletion_value": deletion_value(kept_deletions),
    }
