"""MSA clustering: nearest cluster centre and per-cluster summaries (supplement 1.2.7).

Every non-centre sequence (all of them, not only those the extra MSA keeps) joins the
cluster centre it agrees with at the most positions, counting only residues (the 20
standard ones and X): gaps and the mask token never count as agreement, and ties go to
the earlier centre. Each cluster is then summarised by the residue distribution over
its members and its centre (``cluster_profile``, 23 classes) and their mean deletion
count (``cluster_deletion_mean``).

At this stage every row is a real sequence (padding comes later), so no masks enter.
The agreement counts are one matrix product of one-hot encodings, run by JAX on its
default device (the accelerator when there is one) over blocks of extra sequences. The
one-hots are 16-bit floats (bfloat16 on CPU/TPU, float16 on GPU) accumulated in float32:
0 and 1 are exact in both and so are counts up to 2**24, so the assignment is exact.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from folding.data.processing.target import one_hot

#: Residue classes that count as agreement: the 20 standard residues and X.
AGREEMENT_CLASSES = 21
#: Classes of the cluster profile: residues, X, gap and mask token.
MSA_CLASSES = 23
#: Upper bound on the elements of one block's one-hot matrix (extra rows x L x 21).
_BLOCK_ELEMENTS = 1 << 26
#: Block row counts are multiples of this, so close sizes share one compilation.
_BLOCK_ROUNDING = 256


@functools.cache
def _agreement_argmax() -> Any:
    import jax
    import jax.numpy as jnp

    @jax.jit
    def nearest(centres: Any, extra: Any) -> Any:
        dtype = jnp.float16 if jax.default_backend() == "gpu" else jnp.bfloat16
        centre_codes = jax.nn.one_hot(centres, AGREEMENT_CLASSES, dtype=dtype)
        extra_codes = jax.nn.one_hot(extra, AGREEMENT_CLASSES, dtype=dtype)
        agreement = jax.lax.dot_general(
            extra_codes.reshape(extra.shape[0], -1),
            centre_codes.reshape(centres.shape[0], -1),
            (((1,), (1,)), ((), ())),
            preferred_element_type=jnp.float32,
        )
        return jnp.argmax(agreement, axis=1).astype(jnp.int32)

    return nearest


def block_rows(num_extra: int, num_res: int) -> int:
    """Rows per block: balanced blocks within the memory bound, rounded for reuse."""
    limit = max(_BLOCK_ROUNDING, _BLOCK_ELEMENTS // (num_res * AGREEMENT_CLASSES))
    num_blocks = -(-num_extra // limit)
    per_block = -(-num_extra // num_blocks)
    return -(-per_block // _BLOCK_ROUNDING) * _BLOCK_ROUNDING


def assign_to_clusters(centres: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """Index [E] (int32) of the nearest centre [C, L] of each extra sequence [E, L].

    Nearest means most positions where both hold the same residue (ids 0-20); ties
    go to the lowest centre index.
    """
    num_extra, num_res = extra.shape
    assignment = np.zeros(num_extra, dtype=np.int32)
    if num_extra == 0:
        return assignment
    nearest = _agreement_argmax()
    rows = block_rows(num_extra, num_res)
    centre_ids = centres.astype(np.int8)
    extra = extra.astype(np.int8, copy=False)
    for start in range(0, num_extra, rows):
        block = extra[start : start + rows]
        filled = block.shape[0]
        if filled < rows:  # gap rows agree with nothing and are dropped below
            block = np.pad(block, [(0, rows - filled), (0, 0)], constant_values=21)
        assignment[start : start + filled] = np.asarray(nearest(centre_ids, block))[:filled]
    return assignment


def summarize_clusters(
    centres: np.ndarray,
    centre_deletions: np.ndarray,
    extra: np.ndarray,
    extra_deletions: np.ndarray,
    assignment: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``cluster_profile`` [C, L, 23] and ``cluster_deletion_mean`` [C, L], float32.

    Each cluster counts its centre once beside the members assigned to it; the
    denominator carries AlphaFold's 1e-6 (``1e-6 + 1 + members``, in float32 as
    AlphaFold rounds it). The members are visited sorted by cluster, so the per-cluster
    sums run over contiguous rows.
    """
    num_clusters, num_res = centres.shape
    members = np.bincount(assignment, minlength=num_clusters)
    residue_counts = np.zeros((num_clusters, num_res, MSA_CLASSES), dtype=np.int64)
    deletion_sums = np.zeros((num_clusters, num_res), dtype=np.float32)
    filled = np.nonzero(members)[0]
    if filled.size:
        order = np.argsort(assignment, kind="stable")
        starts = (np.cumsum(members) - members)[filled]
        # float32 sums of integer counts, exact below 2**24 as AlphaFold's float32 sums
        deletion_sums[filled] = np.add.reduceat(
            extra_deletions[order].astype(np.float32, copy=False), starts, axis=0
        )
        # (cluster, column, class) cell of every member residue; int32 unless huge
        code_type = np.int32 if residue_counts.size < 2**31 else np.int64
        cluster_base = assignment.astype(code_type) * code_type(num_res * MSA_CLASSES)
        cells = np.arange(num_res, dtype=code_type) * code_type(MSA_CLASSES)
        flat = residue_counts.reshape(-1)
        step = max(1, _BLOCK_ELEMENTS // max(num_res, 1))
        for start in range(0, order.size, step):
            rows = order[start : start + step]
            codes = cluster_base[rows, None] + cells + extra[rows]
            flat += np.bincount(codes.reshape(-1), minlength=flat.size)
    residue_sums = residue_counts.astype(np.float32) + one_hot(centres, MSA_CLASSES)
    deletion_total = deletion_sums.astype(np.float32) + centre_deletions.astype(np.float32)
    denominator = (np.float32(1e-6) + np.float32(1.0)) + members.astype(np.float32)[:, None]
    denominator = np.broadcast_to(denominator, (num_clusters, num_res))
    return residue_sums / denominator[..., None], deletion_total / denominator
