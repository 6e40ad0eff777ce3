"""Model-input processing: determinism, sampling statistics, clustering, padding, inputs.

Synthetic raw features (random MSAs in HH-suite ids) exercise the pieces; the parity
with the reference on real alignments lives in test_processing_reference.py.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy import stats

from folding.common.alphabet import HHBLITS_TO_AATYPE
from folding.data.features import save_raw_npz
from folding.data.processing import (
    REFERENCE_PADDING,
    MaskedMsaConfig,
    Padding,
    ProcessingConfig,
    RawFeatures,
    draw_msa_sample,
    draw_msa_samples,
    load_raw_features,
    process_features,
    processing_config_for,
)
from folding.data.processing.clustering import assign_to_clusters, summarize_clusters
from folding.data.processing.masked_msa import MASK_TOKEN, draw_bert, msa_profile
from folding.errors import InputError

P_CUTOFF = 1e-4  # fixed seeds: deterministic outcomes, far from the cut-off when right


def synthetic_raw(num_seq: int = 40, num_res: int = 30, num_templates: int = 2, seed: int = 0):
    """A raw feature dict with AlphaFold's names, a random MSA related to the query."""
    rng = np.random.default_rng(seed)
    query = rng.integers(0, 20, size=num_res)  # HH-suite ids of standard residues
    msa = np.tile(query, (num_seq, 1))
    mutate = rng.random(msa.shape) < 0.4
    msa[mutate] = rng.integers(0, 22, size=int(mutate.sum()))  # includes X (20) and gap (21)
    msa[0] = query
    deletions = rng.poisson(0.3, size=msa.shape).astype(np.int32)
    deletions[0] = 0
    aatype = HHBLITS_TO_AATYPE[query]
    raw = {
        "aatype": np.eye(21, dtype=np.int32)[aatype],
        "between_segment_residues": np.zeros(num_res, np.int32),
        "domain_name": np.array([b"synthetic"], dtype=object),
        "residue_index": np.arange(num_res, dtype=np.int32),
        "seq_length": np.full(num_res, num_res, np.int32),
        "sequence": np.array([b"X" * num_res], dtype=object),
        "msa": msa.astype(np.int32),
        "deletion_matrix_int": deletions,
        "num_alignments": np.full(num_res, num_seq, np.int32),
        "msa_species_identifiers": np.array([b""] * num_seq, dtype=object),
    }
    if num_templates:
        template_ids = rng.integers(0, 22, size=(num_templates, num_res))
        raw.update(
            template_aatype=np.eye(22, dtype=np.float32)[template_ids],
            template_all_atom_masks=(rng.random((num_templates, num_res, 37)) < 0.5).astype(
                np.float32
            ),
            template_all_atom_positions=rng.normal(size=(num_templates, num_res, 37, 3)).astype(
                np.float32
            ),
            template_domain_names=np.array([b"1abc_A"] * num_templates, dtype=object),
            template_sequence=np.array([b"A"] * num_templates, dtype=object),
            template_sum_probs=rng.random((num_templates, 1)).astype(np.float32),
        )
    return raw


def chisquare_p(observed, expected):
    """Goodness-of-fit p-value, the expectation rescaled to the observed total."""
    expected = np.asarray(expected, np.float64) + 1e-12
    return stats.chisquare(observed, expected * (np.sum(observed) / expected.sum())).pvalue


SMALL = ProcessingConfig(max_msa_clusters=8, max_extra_msa=10, use_templates=True)


# ---------------------------------------------------------------- determinism and layout


def test_same_seed_same_output_and_iterations_resample():
    raw = synthetic_raw()
    first = process_features(raw, SMALL, seed=3, num_recycle=2)
    again = process_features(raw, SMALL, seed=3, num_recycle=2)
    other = process_features(raw, SMALL, seed=4, num_recycle=2)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key], err_msg=key)
        assert first[key].shape[0] == 3, key
    assert not np.array_equal(first["msa_feat"], other["msa_feat"])
    # every recycling iteration draws its own sample
    assert not np.array_equal(first["msa_feat"][0], first["msa_feat"][1])
    assert not np.array_equal(first["bert_mask"][1], first["bert_mask"][2])
    # iteration r does not depend on how many iterations were asked for
    longer = process_features(raw, SMALL, seed=3, num_recycle=4)
    for key in first:
        np.testing.assert_array_equal(first[key], longer[key][:3], err_msg=key)


def test_without_resampling_every_iteration_is_the_same_sample():
    config = ProcessingConfig(max_msa_clusters=8, max_extra_msa=10, resample_msa_in_recycling=False)
    out = process_features(synthetic_raw(), config, seed=0, num_recycle=2)
    for key, value in out.items():
        assert value.shape[0] == 3
        np.testing.assert_array_equal(value[0], value[2], err_msg=key)


def test_keys_and_dtypes():
    out = process_features(synthetic_raw(), SMALL, seed=0, num_recycle=0)
    int_keys = {
        "aatype", "residue_index", "seq_length", "random_crop_to_size_seed", "extra_msa",
        "true_msa", "residx_atom14_to_atom37", "residx_atom37_to_atom14", "template_aatype",
    }
    for key, value in out.items():
        assert value.dtype == (np.int32 if key in int_keys else np.float32), key
    assert out["msa_feat"].shape[-1] == 49 and out["target_feat"].shape[-1] == 22
    no_templates = process_features(synthetic_raw(), ProcessingConfig(), seed=0, num_recycle=0)
    assert not any(key.startswith("template_") for key in no_templates)


def test_query_is_always_the_first_centre():
    raw = synthetic_raw(num_seq=60)
    query = HHBLITS_TO_AATYPE[raw["msa"][0]]
    for seed in range(5):
        out = process_features(raw, SMALL, seed=seed, num_recycle=3)
        for r in range(4):
            np.testing.assert_array_equal(out["true_msa"][r, 0], query)


# ---------------------------------------------------------------- sampling statistics


def test_each_sequence_becomes_a_centre_equally_often():
    num_seq, clusters, draws = 40, 8, 4000
    msa = np.zeros((num_seq, 5), np.int32)
    profile = msa_profile(msa)
    config = ProcessingConfig(max_msa_clusters=clusters, max_extra_msa=10)
    chosen = np.zeros(num_seq)
    first_centre_slot = np.zeros(num_seq)
    kept_extra = np.zeros(num_seq)
    rng = np.random.default_rng(123)
    for _ in range(draws):
        sample = draw_msa_sample(rng, msa, profile, config)
        assert sample.order[0] == 0
        chosen[sample.cluster_rows] += 1
        first_centre_slot[sample.order[1]] += 1
        kept_extra[sample.extra_rows[sample.extra_order]] += 1
    assert chosen[0] == draws
    # rows 1..N-1: centre with probability (C-1)/(N-1); uniform over rows
    expected = draws * (clusters - 1) / (num_seq - 1)
    assert abs(chosen[1:].mean() - expected) < 1e-9
    assert stats.chisquare(chosen[1:]).pvalue > P_CUTOFF
    assert stats.chisquare(first_centre_slot[1:]).pvalue > P_CUTOFF
    # extra MSA: 10 of the 32 non-centres, each equally likely
    assert kept_extra[0] == 0 and kept_extra.sum() == draws * 10
    assert stats.chisquare(kept_extra[1:]).pvalue > P_CUTOFF
    # and a wrong sampler (always the first rows) is caught by the same test
    biased = np.zeros(num_seq - 1)
    biased[: clusters - 1] = draws
    assert stats.chisquare(biased).pvalue < P_CUTOFF


def test_bert_replacement_follows_the_mixture():
    rng = np.random.default_rng(7)
    num_res = 12
    # columns dominated by one residue each, so the profile part is recognisable
    column_msa = np.tile(np.arange(num_res) % 20, (50, 1))
    noise = rng.random(column_msa.shape) < 0.3
    column_msa[noise] = rng.integers(0, 22, size=int(noise.sum()))
    profile = msa_profile(column_msa)
    centres = rng.integers(0, 22, size=(400, num_res))
    config = MaskedMsaConfig()
    # observed and expected counts per (column, value) cell
    counts = np.zeros((num_res, 23))
    uniform_part, profile_part, same_part, mask_part = (np.zeros((num_res, 23)) for _ in "1234")
    selected_total = 0
    for _ in range(10):
        selected, values = draw_bert(rng, centres, profile, config)
        assert np.array_equal(values[~selected], centres[~selected])
        selected_total += selected.sum()
        rows, cols = np.nonzero(selected)
        np.add.at(counts, (cols, values[rows, cols]), 1)
        per_column = np.bincount(cols, minlength=num_res)[:, None]
        uniform_part[:, :20] += 0.05 * per_column
        profile_part[:, :22] += per_column * profile
        np.add.at(same_part, (cols, centres[rows, cols]), 1)
        mask_part[:, MASK_TOKEN] += per_column[:, 0]
    fraction = selected_total / (10 * centres.size)
    assert abs(fraction - 0.15) < 4 * np.sqrt(0.15 * 0.85 / (10 * centres.size))
    assert abs(counts[:, MASK_TOKEN].sum() / counts.sum() - 0.7) < 0.02

    def p_value(expected):
        possible = expected > 0
        if counts[~possible].sum():
            return 0.0
        return chisquare_p(counts[possible], expected[possible])

    expected = 0.1 * uniform_part + 0.1 * profile_part + 0.1 * same_part + 0.7 * mask_part
    assert p_value(expected) > P_CUTOFF
    # the same test catches a sampler that skips the profile part or splits differently
    assert p_value(0.1 * uniform_part + 0.2 * same_part + 0.7 * mask_part) < P_CUTOFF
    assert p_value(0.2 * uniform_part + 0.1 * same_part + 0.7 * mask_part) < P_CUTOFF
    assert p_value(0.1 * uniform_part + 0.2 * profile_part + 0.7 * mask_part) < P_CUTOFF


# ---------------------------------------------------------------- clustering


def _naive_assignment(centres, extra):
    agreement = np.array(
        [[np.sum((e == c) & (e < 21)) for c in centres] for e in extra]
    )
    return np.argmax(agreement, axis=1)


@pytest.mark.parametrize("seed", [0, 1])
def test_nearest_centre_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 23, size=(9, 17))  # includes gap (21) and mask token (22)
    extra = np.concatenate([centres[rng.integers(0, 9, 30)], rng.integers(0, 23, (40, 17))])
    noise = rng.random(extra.shape) < 0.3
    extra[noise] = rng.integers(0, 22, size=int(noise.sum()))
    extra[:3] = 21  # all-gap rows tie everywhere: the first centre wins
    np.testing.assert_array_equal(
        assign_to_clusters(centres, extra), _naive_assignment(centres, extra)
    )
    assert (assign_to_clusters(centres, extra)[:3] == 0).all()


def test_cluster_summaries_match_a_direct_computation():
    rng = np.random.default_rng(2)
    centres = rng.integers(0, 23, size=(4, 6))
    extra = rng.integers(0, 22, size=(11, 6))
    centre_del = rng.integers(0, 4, size=centres.shape).astype(np.float32)
    extra_del = rng.integers(0, 4, size=extra.shape).astype(np.float32)
    assignment = assign_to_clusters(centres, extra)
    profile, deletion_mean = summarize_clusters(centres, centre_del, extra, extra_del, assignment)
    for c in range(4):
        members = np.concatenate([centres[c : c + 1], extra[assignment == c]])
        member_del = np.concatenate([centre_del[c : c + 1], extra_del[assignment == c]])
        for col in range(6):
            hist = np.bincount(members[:, col], minlength=23) / (len(members) + 1e-6)
            np.testing.assert_allclose(profile[c, col], hist, atol=1e-6)
            np.testing.assert_allclose(
                deletion_mean[c, col], member_del[:, col].sum() / (len(members) + 1e-6), atol=1e-6
            )


def test_msa_feat_channels_follow_the_sample():
    raw = synthetic_raw()
    features = RawFeatures.from_mapping(raw)
    sample = draw_msa_samples(features, SMALL, seed=5, num_recycle=0)[0]
    out = process_features(features, SMALL, num_recycle=0, samples=[sample])
    msa_feat = out["msa_feat"][0, : sample.num_clusters]
    original = features.msa[sample.cluster_rows]
    corrupted = np.where(sample.bert_selected, sample.bert_values, original)
    np.testing.assert_array_equal(np.argmax(msa_feat[..., :23], -1), corrupted)
    deletions = features.deletion_matrix[sample.cluster_rows]
    np.testing.assert_array_equal(msa_feat[..., 23], np.clip(deletions, 0, 1))
    np.testing.assert_allclose(msa_feat[..., 24], np.arctan(deletions / 3) * 2 / np.pi, atol=1e-6)
    np.testing.assert_allclose(msa_feat[..., 25:48].sum(-1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(out["bert_mask"][0, : sample.num_clusters], sample.bert_selected)
    kept = sample.extra_rows[sample.extra_order]
    np.testing.assert_array_equal(out["extra_msa"][0, : kept.size], features.msa[kept])


# ---------------------------------------------------------------- padding


def test_compact_padding_is_reference_padding_truncated():
    raw = synthetic_raw(num_seq=30)
    config = ProcessingConfig(max_msa_clusters=16, max_extra_msa=64)
    compact = process_features(raw, config, seed=1, num_recycle=1, padding=Padding(row_multiple=4))
    full = process_features(raw, config, seed=1, num_recycle=1, padding=REFERENCE_PADDING)
    assert compact["msa_feat"].shape[1] == 16 and full["msa_feat"].shape[1] == 16
    assert compact["extra_msa"].shape[1] == 16  # 14 extra rows rounded up to a multiple of 4
    assert full["extra_msa"].shape[1] == 64
    for key, value in compact.items():
        reference = full[key][:, : value.shape[1]] if key.startswith("extra_") else full[key]
        np.testing.assert_array_equal(value, reference, err_msg=key)
    assert not full["extra_msa_mask"][:, 14:].any() and not full["extra_msa"][:, 14:].any()
    assert compact["extra_msa_row_mask"][:, :14].all()


def test_compact_padding_keeps_one_masked_extra_row():
    raw = synthetic_raw(num_seq=5)
    out = process_features(raw, processing_config_for("model_3"), seed=0, num_recycle=0)
    assert out["msa_feat"].shape[1] == 64 and out["msa_row_mask"][0].sum() == 5
    assert out["extra_msa"].shape[1] == 64 and not out["extra_msa_mask"].any()
    single_row = process_features(raw, processing_config_for("model_3"), seed=0, num_recycle=0,
                                  padding=Padding(row_multiple=1))
    assert single_row["msa_feat"].shape[1] == 5 and single_row["extra_msa"].shape[1] == 1
    assert Padding().rows(0, 5120) == 64 and Padding(row_multiple=1).rows(0, 5120) == 1
    assert Padding().rows(500, 508) == 508 and REFERENCE_PADDING.rows(3, 5120) == 5120


def test_templates_are_the_first_ones_padded_to_four():
    raw = synthetic_raw(num_templates=6)
    out = process_features(raw, SMALL, seed=0, num_recycle=0)
    assert out["template_aatype"].shape == (1, 4, 30)
    np.testing.assert_array_equal(out["template_mask"][0], [1, 1, 1, 1])
    np.testing.assert_array_equal(
        out["template_sum_probs"][0, :, 0], raw["template_sum_probs"][:4, 0]
    )
    two = process_features(synthetic_raw(num_templates=2), SMALL, seed=0, num_recycle=0)
    np.testing.assert_array_equal(two["template_mask"][0], [1, 1, 0, 0])
    assert not two["template_all_atom_positions"][0, 2:].any()
    none = process_features(synthetic_raw(num_templates=0), SMALL, seed=0, num_recycle=0)
    assert not none["template_mask"].any() and none["template_aatype"].shape == (1, 4, 30)


def test_empty_one_dimensional_templates_read_as_none():
    """AlphaFold's features.pkl with no template hits holds (0,)-shaped template arrays."""
    raw = synthetic_raw(num_templates=0)
    raw.update(
        template_aatype=np.zeros((0,), np.float32),
        template_all_atom_masks=np.zeros((0,), np.float32),
        template_all_atom_positions=np.zeros((0,), np.float32),
        template_domain_names=np.zeros((0,), object),
        template_sequence=np.zeros((0,), object),
        template_sum_probs=np.zeros((0,), np.float32),
    )
    out = process_features(raw, SMALL, seed=0, num_recycle=0)
    assert out["template_aatype"].shape == (1, 4, 30) and not out["template_mask"].any()


def test_single_sequence_msa():
    raw = synthetic_raw(num_seq=1)
    out = process_features(raw, processing_config_for("model_1"), seed=0, num_recycle=1,
                           padding=REFERENCE_PADDING)
    assert out["msa_feat"].shape == (2, 508, 30, 49) and out["extra_msa"].shape == (2, 5120, 30)
    assert out["msa_row_mask"][:, 0].all() and not out["msa_row_mask"][:, 1:].any()
    assert not out["extra_msa_row_mask"].any()


# ---------------------------------------------------------------- config and inputs


def test_processing_config_for_models():
    assert processing_config_for("model_1").num_msa_clusters == 508
    assert processing_config_for("model_1_ptm").max_extra_msa == 5120
    assert processing_config_for("model_2").max_extra_msa == 1024
    assert processing_config_for("model_2").use_templates
    assert processing_config_for("model_3").num_msa_clusters == 512
    assert not processing_config_for("model_4_ptm").use_templates
    assert processing_config_for("model_5", num_recycle=1).num_recycle == 1
    with pytest.raises(InputError, match="model_9"):
        processing_config_for("model_9")


def test_load_raw_features_npz_and_pickle(tmp_path):
    raw = synthetic_raw()
    pkl = tmp_path / "features.pkl"
    pkl.write_bytes(pickle.dumps(raw))
    npz = tmp_path / "raw.npz"
    save_raw_npz(npz, raw)  # what `folding features` writes: strings as bytes, no pickle
    for path in (pkl, npz):
        loaded = load_raw_features(path)
        np.testing.assert_array_equal(loaded["msa"], raw["msa"])
        out = process_features(loaded, SMALL, seed=2, num_recycle=0)
        ref = process_features(raw, SMALL, seed=2, num_recycle=0)
        np.testing.assert_array_equal(out["msa_feat"], ref["msa_feat"])


def test_bad_inputs_give_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_raw_features(tmp_path / "missing.pkl")
    garbage = tmp_path / "garbage.pkl"
    garbage.write_bytes(b"not a pickle")
    with pytest.raises(InputError, match="cannot read raw features"):
        load_raw_features(garbage)
    pickled_npz = tmp_path / "objects.npz"
    np.savez(pickled_npz, sequence=np.array([b"AC"], dtype=object))
    with pytest.raises(InputError, match="cannot read raw features"):
        load_raw_features(pickled_npz)
    listed = tmp_path / "list.pkl"
    listed.write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(InputError, match="not a feature dict"):
        load_raw_features(listed)
    raw = synthetic_raw()
    with pytest.raises(InputError, match="lack msa"):
        RawFeatures.from_mapping({k: v for k, v in raw.items() if k != "msa"})
    with pytest.raises(InputError, match="deletion matrix"):
        RawFeatures.from_mapping({**raw, "deletion_matrix_int": raw["deletion_matrix_int"][:3]})
    with pytest.raises(InputError, match="num_alignments"):
        RawFeatures.from_mapping({**raw, "num_alignments": raw["num_alignments"] + 1})
    with pytest.raises(InputError, match="multimer"):
        RawFeatures.from_mapping({**raw, "asym_id": np.zeros(30)})
    with pytest.raises(InputError, match="template_all_atom_positions"):
        RawFeatures.from_mapping(
            {k: v for k, v in raw.items() if k != "template_all_atom_positions"}
        )


def test_folding_features_output_is_processed(shared_data, tmp_path):
    """RAW.npz as `folding features` builds it from real alignments, no templates given."""
    from folding.data.features import find_msa_files, raw_features, read_msas

    folder = shared_data / "alignments" / "A0A024R1R8"
    fasta = (shared_data / "queries" / "A0A024R1R8.fasta").read_text().splitlines()
    sequence = "".join(line.strip() for line in fasta[1:])
    raw = raw_features(sequence, "A0A024R1R8", read_msas(find_msa_files(folder), sequence), {})
    path = tmp_path / "RAW.npz"
    save_raw_npz(path, raw)
    for model in ("model_1_ptm", "model_4"):
        out = process_features(load_raw_features(path), processing_config_for(model), seed=0,
                               num_recycle=1)
        num_seq = raw["msa"].shape[0]
        assert out["msa_row_mask"][0].sum() == min(num_seq, 508 if model == "model_1_ptm" else 512)
        assert out["extra_msa_row_mask"][0].sum() == num_seq - out["msa_row_mask"][0].sum()
        assert out["target_feat"].shape == (2, len(sequence), 22)
        if model == "model_1_ptm":
            assert out["template_mask"].shape == (2, 4) and not out["template_mask"].any()
