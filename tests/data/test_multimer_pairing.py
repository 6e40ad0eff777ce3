"""Species pairing, assembly layout, cropping and merging: known answers and the reference.

The known answers are small hand-made alignments whose pairing can be worked out by hand.
The reference comparison drives AlphaFold's own ``add_assembly_features``,
``feature_processing.pair_and_merge`` and ``pad_msa`` and ours with the same random
chains, built to reach what the real complexes of ``test_multimer_parity.py`` do not:
species with more than 600 rows, MSAs cropped at 2,048 rows, more than 4 templates,
species in some chains only, equal similarities, duplicated rows, and up to four
distinct chains with copies.
"""

from __future__ import annotations

import numpy as np
import pytest

from folding.common.alphabet import HHBLITS_AA_TO_ID
from folding.data.multimer.chain_features import (
    assembly_chain_features,
    convert_monomer_features,
)
from folding.data.multimer.chains import Assembly, entity_letters
from folding.data.multimer.complex_features import complex_features
from folding.data.multimer.merge import block_diagonal
from folding.data.multimer.pairing import drop_unpaired_duplicates, pair_rows

GAP = HHBLITS_AA_TO_ID["-"]


def _ids(rows: list[str]) -> np.ndarray:
    return np.array([[HHBLITS_AA_TO_ID[c] for c in row] for row in rows], dtype=np.int32)


def _species(names: list[str]) -> np.ndarray:
    out = np.empty(len(names), dtype=object)
    out[:] = [n.encode() for n in names]
    return out


def _pairing_chain(rows: list[str], species: list[str]) -> dict:
    return {"msa_all_seq": _ids(rows), "msa_species_identifiers_all_seq": _species(species)}


def test_entity_letters():
    assert [entity_letters(n) for n in (1, 2, 26, 27, 28, 52, 53, 702, 703)] == [
        "A", "B", "Z", "AA", "BA", "ZA", "AB", "ZZ", "AAA"]
    with pytest.raises(ValueError):
        entity_letters(0)


def test_assembly_layout_groups_copies():
    assembly = Assembly.from_sequences(["MKV", "GGSW", "MKV", "PPA", "GGSW"])
    assert [(c.chain_id, c.key, c.asym_id, c.start, c.end) for c in assembly.chains] == [
        ("A", "A_1", 1, 0, 3), ("C", "A_2", 2, 3, 6), ("B", "B_1", 3, 6, 10),
        ("E", "B_2", 4, 10, 14), ("D", "C_1", 5, 14, 17)]
    assert assembly.is_heteromer and assembly.num_entities == 3 and assembly.num_res == 17
    assert [c.chain_id for c in assembly.entity_representatives()] == ["A", "B", "D"]
    assert list(assembly.chain_id_map()) == ["A", "B", "C", "D", "E"]
    assert not Assembly.from_sequences(["MKV", "mkv"]).is_heteromer


def test_pairing_known_answer():
    # Chain 1: query, two HUMAN rows (row 2 closer to the query), one MOUSE row.
    # Chain 2: query, one HUMAN row, one YEAST row. Only HUMAN is shared: the closer
    # human row of chain 1 is paired with chain 2's.
    one = _pairing_chain(["MKVL", "AKVA", "MKVA", "MAAA"], ["", "HUMAN", "HUMAN", "MOUSE"])
    two = _pairing_chain(["GGSW", "GGSA", "GASW"], ["", "HUMAN", "YEAST"])
    np.testing.assert_array_equal(pair_rows([one, two]), [[0, 0], [2, 1]])


def test_pairing_three_chains_orders_by_chains_then_product():
    # HUMAN in all three chains; MOUSE in chains 1 and 3 (chain 2 gets the gap row, -1);
    # YEAST in chains 1 and 2 with two rows each.
    one = _pairing_chain(["MKVL", "MKVA", "MKAA", "AAVL", "MKVV"],
                         ["", "HUMAN", "MOUSE", "YEAST", "YEAST"])
    two = _pairing_chain(["GGSW", "GGSA", "GGAA", "AGSW"], ["", "YEAST", "HUMAN", "YEAST"])
    three = _pairing_chain(["PPAW", "PPAA", "PAAW"], ["", "MOUSE", "HUMAN"])
    paired = pair_rows([one, two, three])
    # All-chain rows first (queries, HUMAN), then the two-chain rows by the absolute
    # product of their indices (-1: the gap row): MOUSE [2, -1, 1] -> 2, then YEAST ranked
    # by similarity to each query (chain 1: row 4, 3/4 identical, before row 3, 2/4; chain
    # 2: rows 1 and 3 tie at 3/4 and keep their order) -> [4, 1, -1] -> 4, [3, 3, -1] -> 9.
    np.testing.assert_array_equal(paired, [[0, 0, 0], [1, 2, 2], [2, -1, 1], [4, 1, -1],
                                           [3, 3, -1]])


def test_species_with_more_than_600_rows_is_not_paired():
    many = 601
    one = _pairing_chain(["MKVL"] + ["MKVA"] * many + ["MKAA"],
                         [""] + ["HUMAN"] * many + ["MOUSE"])
    two = _pairing_chain(["GGSW", "GGSA", "GGAA"], ["", "HUMAN", "MOUSE"])
    np.testing.assert_array_equal(pair_rows([one, two]), [[0, 0], [many + 1, 2]])
    one_fewer = _pairing_chain(["MKVL"] + ["MKVA"] * 600, [""] + ["HUMAN"] * 600)
    assert pair_rows([one_fewer, two]).shape == (2, 2)


def test_unpaired_rows_equal_to_paired_rows_are_dropped():
    chain = {"msa": _ids(["MKVL", "MKVA", "AKVA", "MKVA"]),
             "deletion_matrix": np.arange(16, dtype=np.float32).reshape(4, 4),
             "msa_all_seq": _ids(["MKVL", "MKVA", "----"])}
    (out,) = drop_unpaired_duplicates([chain])
    np.testing.assert_array_equal(out["msa"], _ids(["AKVA"]))
    np.testing.assert_array_equal(out["deletion_matrix"], [[8, 9, 10, 11]])
    assert int(out["num_alignments"]) == 1


def test_block_diagonal_pads_outside_the_blocks():
    got = block_diagonal([np.ones((1, 2), np.int32), 2 * np.ones((2, 1), np.int32)], GAP)
    np.testing.assert_array_equal(got, [[1, 1, GAP], [GAP, GAP, 2], [GAP, GAP, 2]])
    assert got.dtype == np.int32


# ------------------------------------------------------------------ against the reference

_LETTERS = "ACDEFGHIKLMNPQRSTVWY"


def _random_monomer(rng, length, rows, pairing_rows, templates, species_pool, big_species):
    """A chain's monomer raw features (as folding.data.features makes them), random."""
    sequence = "".join(rng.choice(list(_LETTERS), length))
    query = np.array([HHBLITS_AA_TO_ID[c] for c in sequence], dtype=np.int32)

    def msa(n):
        # Few residue types per column and many gaps: equal similarities, repeated rows.
        body = np.where(rng.random((n - 1, length)) < 0.3, GAP,
                        np.where(rng.random((n - 1, length)) < 0.6, query,
                                 rng.integers(0, 3, (n - 1, length))))
        return np.concatenate([query[None], body]).astype(np.int32)

    def species(n, big):
        names = [b""] + [rng.choice(species_pool).encode() for _ in range(n - 1)]
        for i in rng.choice(np.arange(1, n), min(big, n - 1), replace=False):
            names[i] = b"BIGSP"
        out = np.empty(n, dtype=object)
        out[:] = names
        return out

    onehot = np.zeros((length, 21), np.int32)
    onehot[np.arange(length), [_LETTERS.index(c) if c in _LETTERS else 20 for c in sequence]] = 1
    template_aatype = np.zeros((templates, length, 22), np.float32)
    template_aatype[:, np.arange(length), rng.integers(0, 22, (templates, length))] = 1
    def encoded(texts):
        out = np.empty(len(texts), dtype=object)
        out[:] = [t.encode() for t in texts]
        return out

    features = {
        "aatype": onehot,
        "between_segment_residues": np.zeros(length, np.int32),
        "domain_name": encoded(["chain"]),
        "residue_index": np.arange(length, dtype=np.int32),
        "seq_length": np.full(length, length, np.int32),
        "sequence": encoded([sequence]),
        "deletion_matrix_int": rng.integers(0, 3, (rows, length)).astype(np.int32),
        "msa": msa(rows),
        "num_alignments": np.full(length, rows, np.int32),
        "msa_species_identifiers": species(rows, 0),
        "template_aatype": template_aatype,
        "template_all_atom_masks": rng.integers(0, 2, (templates, length, 37)).astype(
            np.float32),
        "template_all_atom_positions": rng.normal(size=(templates, length, 37, 3)).astype(
            np.float32),
        "template_domain_names": encoded([f"t{i}" for i in range(templates)]),
        "template_sequence": encoded([sequence] * templates),
        "template_sum_probs": np.zeros((templates, 1), np.float32),
    }
    if pairing_rows:
        features["msa_all_seq"] = msa(pairing_rows)
        features["deletion_matrix_int_all_seq"] = rng.integers(
            0, 3, (pairing_rows, length)).astype(np.int32)
        features["msa_species_identifiers_all_seq"] = species(pairing_rows, big_species)
    return sequence, features


# (seed, per distinct chain: (length, MSA rows, pairing rows, templates, rows of BIGSP),
#  chain order as indices of the distinct chains)
RANDOM_CASES = [
    (0, [(9, 40, 120, 2, 0), (7, 30, 90, 1, 0)], [0, 1]),
    (1, [(6, 2600, 3000, 6, 700), (8, 300, 2500, 1, 650)], [0, 1, 0]),
    (2, [(5, 50, 400, 1, 0), (6, 60, 300, 5, 0), (7, 70, 200, 3, 0)], [2, 0, 1, 1]),
    (3, [(4, 900, 1200, 1, 20), (5, 10, 700, 2, 601), (3, 20, 30, 1, 0),
         (6, 5, 2, 4, 0)], [0, 1, 2, 3, 0]),
    (4, [(12, 700, 1, 3, 0)], [0, 0, 0]),  # a homotrimer: no pairing
    (5, [(10, 3000, 1, 7, 0)], [0]),  # a monomer through the multimer pipeline
    # A chain in few species: many of its paired rows are all gaps, which do not count
    # against its unpaired rows (2,500, cropped).
    (6, [(5, 2500, 6, 1, 0), (6, 100, 1500, 1, 0), (7, 100, 1500, 2, 0)], [0, 1, 2]),
]


@pytest.mark.reference
@pytest.mark.parametrize(("seed", "distinct", "order"), RANDOM_CASES)
def test_random_complexes_equal_reference(seed, distinct, order):
    pytest.importorskip("alphafold", reason="the reference is not installed")
    from alphafold.data import feature_processing as af_processing
    from alphafold.data import pipeline_multimer as af_multimer

    rng = np.random.default_rng(seed)
    pool = [f"SP{i}" for i in range(25)]
    heteromer = len(distinct) > 1
    made = [_random_monomer(rng, length, rows, pairing if heteromer else 0, templates, pool,
                            big)
            for length, rows, pairing, templates, big in distinct]
    sequences = [made[i][0] for i in order]
    # The reference: convert each distinct chain once, copy it per chain, as its pipeline.
    ref_chains = {}
    converted = {}
    for index, entity in enumerate(order):
        chain_id = "ABCDEFGH"[index]
        if entity not in converted:
            converted[entity] = af_multimer.convert_monomer_features(
                {k: v.copy() for k, v in made[entity][1].items()}, chain_id)
            ref_chains[chain_id] = converted[entity]
        else:
            ref_chains[chain_id] = {k: np.array(v, copy=True)
                                    for k, v in converted[entity].items()}
    ref = af_multimer.pad_msa(af_processing.pair_and_merge(
        af_multimer.add_assembly_features(ref_chains)), 512)
    # Ours.
    assembly = Assembly.from_sequences(sequences)
    entity_features = {}
    for chain in assembly.entity_representatives():
        entity = order["ABCDEFGH".index(chain.chain_id)]
        entity_features[chain.entity_id] = convert_monomer_features(made[entity][1],
                                                                    chain.chain_id)
    ours = complex_features(assembly_chain_features(assembly, entity_features))
    assert sorted(ours) == sorted(ref)
    for key, expected in ref.items():
        expected = np.asarray(expected)
        assert ours[key].dtype == expected.dtype, key
        np.testing.assert_array_equal(ours[key], expected, err_msg=key)
    rows = int(ours["num_alignments"])
    paired = int(ours["bert_mask"][:rows].all(axis=1).sum()) if heteromer else 0
    if heteromer:
        assert paired > 1  # pairs beyond the queries
    if seed in (1, 6):  # the crop is reached: the first chain keeps fewer than 2,048 rows
        first = assembly.chains[0]
        unpaired = ours["bert_mask"][paired:rows, first.start:first.end].all(axis=1).sum()
        assert 1000 < unpaired < 2048
