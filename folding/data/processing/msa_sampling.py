"""The random part of MSA processing, drawn once per recycling iteration (supplement 1.2.7, 1.10).

A :class:`MsaSample` is every random choice one recycling iteration makes:

* ``order``: the MSA rows in sampled order, the query (row 0) always first and the
  others uniformly shuffled; the first ``num_clusters`` rows become cluster centres and
  the rest the extra MSA;
* ``bert_selected`` / ``bert_values``: the masked-MSA corruption of the centres
  (:mod:`folding.data.processing.masked_msa`);
* ``extra_order``: which extra sequences the extra MSA stack sees (all of them, or
  ``max_extra_msa`` drawn uniformly), in a random order.

Everything else is a deterministic function of the raw features and the sample
(:mod:`folding.data.processing.pipeline`), so a sample can be stored, replayed, or fed
to another implementation to compare the deterministic parts exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from folding.data.processing.config import ProcessingConfig
from folding.data.processing.masked_msa import draw_bert


@dataclass(frozen=True)
class MsaSample:
    """The random choices of one recycling iteration (see the module docstring)."""

    order: np.ndarray  # [N] int, a permutation of the MSA rows with order[0] == 0
    num_clusters: int
    bert_selected: np.ndarray  # [num_clusters, L] bool
    bert_values: np.ndarray  # [num_clusters, L] int32
    extra_order: np.ndarray  # [E] int, indices into the N - num_clusters extra rows

    @property
    def cluster_rows(self) -> np.ndarray:
        """MSA rows of the cluster centres, in centre order."""
        return self.order[: self.num_clusters]

    @property
    def extra_rows(self) -> np.ndarray:
        """MSA rows of all non-centre sequences (all are assigned to clusters)."""
        return self.order[self.num_clusters :]

    def __post_init__(self) -> None:
        num_seq = self.order.shape[0]
        if not np.array_equal(np.sort(self.order), np.arange(num_seq)) or self.order[0] != 0:
            raise ValueError("order must be a permutation of the MSA rows starting with 0")
        if not 1 <= self.num_clusters <= num_seq:
            raise ValueError(f"num_clusters {self.num_clusters} out of range for {num_seq} rows")
        if self.bert_selected.shape != self.bert_values.shape or (
            self.bert_selected.shape[0] != self.num_clusters
        ):
            raise ValueError("BERT draws must have one row per cluster centre")
        num_extra = num_seq - self.num_clusters
        if self.extra_order.size and (
            self.extra_order.min() < 0 or self.extra_order.max() >= num_extra
        ):
            raise ValueError("extra_order indexes past the extra sequences")


def draw_msa_sample(
    rng: np.random.Generator,
    msa: np.ndarray,
    profile: np.ndarray,
    config: ProcessingConfig,
) -> MsaSample:
    """Draw one iteration's sample for ``msa`` [N, L] (AlphaFold ids) with column ``profile``."""
    num_seq = msa.shape[0]
    order = np.concatenate([[0], 1 + rng.permutation(num_seq - 1)]).astype(np.int64)
    num_clusters = min(config.num_msa_clusters, num_seq)
    selected, values = draw_bert(rng, msa[order[:num_clusters]], profile, config.masked_msa)
    num_extra = num_seq - num_clusters
    extra_order = rng.permutation(num_extra)[: min(config.max_extra_msa, num_extra)]
    return MsaSample(
        order=order,
        num_clusters=num_clusters,
        bert_selected=selected,
        bert_values=values,
        extra_order=extra_order.astype(np.int64),
    )
