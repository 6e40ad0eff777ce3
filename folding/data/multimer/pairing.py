"""MSA pairing by species (AlphaFold-Multimer, supplement 7.3.1 "MSA pairing").

For a heteromer, each distinct chain's UniProt alignment (``*_all_seq`` features) is
split by UniProt species mnemonic (``msa_species_identifiers_all_seq``, from the row
descriptions). For every species that at least two chains have, rows are paired across
chains: within each chain the species' rows are ranked by identity to that chain's query
(the fraction of query columns with the query's residue), and the i-th best rows of the
chains form the i-th paired row, for as many rows as the chain with fewest has; a chain
without the species contributes an all-gap row. Species with more than
:data:`MAX_ROWS_PER_SPECIES` rows in any chain are left out. The query rows are the first
paired row.

The paired rows are ordered by the number of chains they pair (all chains first), then
by the product of their row indices in the chains' alignments (a proxy for E-value: the
alignments are sorted best first). Ties keep the order of AlphaFold's sort, which uses
NumPy's default (quicksort) argsort; ties among equally similar rows of one species are
broken the same way as the pandas ``sort_values`` call of AlphaFold's code, so the result
is the same row for row.

Unpaired rows that repeat a paired row of the same chain are then dropped
(:func:`drop_unpaired_duplicates`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from folding.common.alphabet import GAP_INDEX
from folding.data.features import FeatureDict

#: A species with more rows than this in any chain is not paired.
MAX_ROWS_PER_SPECIES = 600
#: The MSA features (rows x residues); ``*_all_seq`` variants hold the pairing alignment.
MSA_FEATURES = ("msa", "msa_mask", "deletion_matrix", "deletion_matrix_int")
#: Values of the extra row a chain contributes where it has no row of a species.
MSA_PAD_VALUES: dict[str, float] = {
    "msa": GAP_INDEX, "msa_mask": 1, "deletion_matrix": 0, "deletion_matrix_int": 0,
}


def _rows_by_species(species: np.ndarray) -> dict[bytes, np.ndarray]:
    """Row indices of each species identifier, in row order."""
    groups: dict[bytes, list[int]] = {}
    for row, name in enumerate(species):
        groups.setdefault(bytes(name), []).append(row)
    return {name: np.asarray(rows, dtype=np.int64) for name, rows in groups.items()}


def _rank_by_similarity(rows: np.ndarray, similarity: np.ndarray) -> np.ndarray:
    """``rows`` sorted by decreasing ``similarity``, ties broken as AlphaFold's sort does.

    AlphaFold sorts with pandas' ``sort_values(ascending=False)``: the values are reversed,
    argsorted ascending with NumPy's default (unstable) quicksort, and the order reversed.
    """
    values = similarity[rows]
    order = values[::-1].argsort(kind="quicksort")
    return rows[::-1][order][::-1]


def query_similarity(msa: np.ndarray) -> np.ndarray:
    """The fraction of the query's columns where each row has the query's residue."""
    query = msa[0]
    return np.sum(query[None] == msa, axis=-1) / float(len(query))


def pair_rows(chains: Sequence[FeatureDict]) -> np.ndarray:
    """Paired row indices, ``[num_paired, num_chains]``, into each chain's pairing MSA.

    Index -1 means "no row of this species" (the gap row appended by
    :func:`paired_chain_features`). Row 0 pairs the queries.
    """
    num_chains = len(chains)
    species_rows = [_rows_by_species(c["msa_species_identifiers_all_seq"]) for c in chains]
    similarity = [query_similarity(c["msa_all_seq"]) for c in chains]
    all_species = sorted(set().union(*species_rows) - {b""})
    by_count: dict[int, list[np.ndarray]] = {n: [] for n in range(num_chains + 1)}
    by_count[num_chains].append(np.zeros(num_chains, dtype=np.int64))
    for name in all_species:
        present = [rows.get(name) for rows in species_rows]
        found = [rows for rows in present if rows is not None]
        if len(found) <= 1 or any(len(rows) > MAX_ROWS_PER_SPECIES for rows in found):
            continue
        take = min(len(rows) for rows in found)
        columns = []
        for chain, rows in enumerate(present):
            if rows is None:
                columns.append(np.full(take, -1, dtype=np.int64))
            else:
                columns.append(_rank_by_similarity(rows, similarity[chain])[:take])
        by_count[len(found)].extend(np.stack(columns, axis=1))
    ordered = []
    for count in sorted(by_count, reverse=True):
        if not by_count[count]:
            continue
        paired = np.stack(by_count[count])
        product = np.abs(np.prod(paired, axis=1))
        ordered.append(paired[np.argsort(product)])
    return np.concatenate(ordered)


def _with_gap_row(name: str, value: np.ndarray) -> np.ndarray:
    """``value`` with one more row: the value a chain without a paired row contributes."""
    base = name[: -len("_all_seq")]
    if base in MSA_PAD_VALUES:
        pad = np.full((1, value.shape[1]), MSA_PAD_VALUES[base], dtype=value.dtype)
    elif base == "msa_species_identifiers":
        pad = np.array([b""], dtype=object)
    else:
        return value
    return np.concatenate([value, pad], axis=0)


def paired_chain_features(chains: Sequence[FeatureDict]) -> list[FeatureDict]:
    """The chains with their ``*_all_seq`` features reduced to the paired rows, in order.

    Also sets ``num_alignments_all_seq`` (the number of paired rows). With a single chain
    nothing is paired and the chains are returned unchanged.
    """
    if len(chains) < 2:
        return [dict(c) for c in chains]
    paired = pair_rows(chains)
    out = []
    for index, chain in enumerate(chains):
        new = {k: v for k, v in chain.items() if "_all_seq" not in k}
        for name, value in chain.items():
            if name.endswith("_all_seq"):
                new[name] = _with_gap_row(name, value)[paired[:, index]]
        new["num_alignments_all_seq"] = np.asarray(len(paired))
        out.append(new)
    return out


def drop_unpaired_duplicates(chains: Sequence[FeatureDict]) -> list[FeatureDict]:
    """Drop each chain's unpaired MSA rows that equal one of its paired rows.

    The query row is always paired, so it leaves the unpaired block too. Only the MSA
    features (:data:`MSA_FEATURES`) lose rows; ``num_alignments`` is updated.
    """
    out = []
    for chain in chains:
        new = dict(chain)
        paired = {row.tobytes() for row in np.ascontiguousarray(chain["msa_all_seq"])}
        msa = np.ascontiguousarray(chain["msa"])
        keep = [i for i, row in enumerate(msa) if row.tobytes() not in paired]
        for name in MSA_FEATURES:
            if name in new:
                new[name] = new[name][keep]
        new["num_alignments"] = np.array(new["msa"].shape[0], dtype=np.int32)
        out.append(new)
    return out
