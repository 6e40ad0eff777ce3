"""Processing against the reference (alphafold-colabfold) on real alignments and templates.

The reference draws its random choices from TensorFlow's Philox stream; we draw ours
from NumPy. To compare everything that is *not* random exactly, the reference is fed our
draws: its NumPy stand-in for TensorFlow (``alphafold.model.tf.np_backend``) is patched
so that its two shuffles (cluster order, extra-MSA choice), its BERT position draw and
its categorical BERT replacement return the values of our :class:`MsaSample`. Then
every processed feature must be equal (ints identical, floats within 1e-6); only
``random_crop_to_size_seed`` (an unused random seed) differs. The random draws
themselves are compared by distribution.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from folding.data.processing import (
    REFERENCE_PADDING,
    MsaSample,
    ProcessingConfig,
    draw_msa_samples,
    process_features,
    processing_config_for,
)

oracle = pytest.importorskip("oracle")
pytestmark = pytest.mark.reference

RANDOM_KEYS = {"random_crop_to_size_seed"}


def _reference_raw(shared: Path, target: str, templates: bool) -> dict[str, np.ndarray]:
    """Raw features built by the reference's own data pipeline from real tool outputs."""
    from alphafold.data import parsers, pipeline
    from alphafold.data import templates as af_templates

    folder = shared / "alignments" / target
    sequence = parsers.parse_fasta((shared / "queries" / f"{target}.fasta").read_text())[0][0]
    msas = []
    for name in ("uniref90_hits.sto", "bfd_uniref_hits.a3m", "mgnify_hits.sto"):
        text = (folder / name).read_text()
        msas.append(parsers.parse_stockholm(text) if name.endswith(".sto") else
                    parsers.parse_a3m(text))
    raw = {
        **pipeline.make_sequence_features(sequence, target, len(sequence)),
        **pipeline.make_msa_features(msas),
    }
    if templates:
        mmcif_dir = shared / "templates" / "pdb_mmcif" / "mmcif_files"
        a3m = parsers.convert_stockholm_to_a3m(
            (folder / "pdb_hits.sto").read_text(), remove_first_row_gaps=False
        )
        hits = parsers.parse_hmmsearch_a3m(sequence, a3m, skip_first=False)
        # the shared template database holds 61 entries: keep the hits it can serve
        hits = [h for h in hits if (mmcif_dir / f"{h.name.split()[0][:4].lower()}.cif").exists()]
        featurizer = af_templates.HmmsearchHitFeaturizer(
            str(mmcif_dir), "2100-01-01", 20, "kalign", None, None
        )
        raw.update(featurizer.get_templates(sequence, hits).features)
    return raw


@pytest.fixture(scope="module")
def lysozyme(shared_data: Path) -> dict[str, np.ndarray]:
    """Human lysozyme P61626 (148 aa, 5339 sequences) with 20 real templates."""
    return _reference_raw(shared_data, "P61626", templates=True)


@pytest.fixture(scope="module")
def small_protein(shared_data: Path) -> dict[str, np.ndarray]:
    """A0A024R1R8 (62 aa), without templates."""
    return _reference_raw(shared_data, "A0A024R1R8", templates=False)


def _full_extra_permutation(sample: MsaSample) -> np.ndarray:
    num_extra = sample.order.size - sample.num_clusters
    rest = np.setdiff1d(np.arange(num_extra), sample.extra_order)
    return np.concatenate([sample.extra_order, rest]).astype(np.int32)


def reference_with_samples(monkeypatch, model_name, raw, samples, num_recycle):
    """The reference's processing with its random draws replaced by ``samples``."""
    from alphafold.model.tf import np_backend

    original_uniform = np_backend.random.uniform

    def current() -> MsaSample:
        return samples[np_backend._ensemble_iter]

    def shuffle(value, seed=None, name=None):
        value = np.asarray(value)
        sample = current()
        if value.size == 0:
            return value
        if value[0] == 1:  # sample_msa: rows 1..N-1 behind the query
            np.testing.assert_array_equal(np.sort(value), np.arange(1, sample.order.size))
            return sample.order[1:].astype(value.dtype)
        # crop_extra_msa: the extra rows
        assert value.size == sample.order.size - sample.num_clusters
        return _full_extra_permutation(sample).astype(value.dtype)

    def uniform(shape, minval=0, maxval=None, dtype=np_backend.float32, seed=None, name=None):
        sample = current()
        if tuple(int(s) for s in shape) == sample.bert_selected.shape and maxval is None:
            return np.where(sample.bert_selected, 0.0, 0.99).astype(np.float32)
        return original_uniform(shape, minval, maxval, dtype, seed, name)

    def categorical(logits, num_samples, dtype=None, seed=None, name=None):
        values = current().bert_values
        assert logits.shape == (values.size, 23)
        return values.reshape(-1, 1).astype(np.int64)

    monkeypatch.setattr(np_backend, "random_shuffle", shuffle)
    monkeypatch.setattr(np_backend.random, "uniform", uniform)
    monkeypatch.setattr(np_backend.random, "categorical", categorical)
    return oracle.process_features(model_name, raw, num_recycle=num_recycle, seed=0)


def assert_processed_equal(ours, reference, skip=RANDOM_KEYS):
    assert set(ours) == set(reference), set(ours) ^ set(reference)
    for key, theirs in reference.items():
        mine = ours[key]
        assert mine.shape == theirs.shape, (key, mine.shape, theirs.shape)
        assert mine.dtype == theirs.dtype, (key, mine.dtype, theirs.dtype)
        if key in skip:
            continue
        if np.issubdtype(theirs.dtype, np.integer):
            np.testing.assert_array_equal(mine, theirs, err_msg=key)
        else:
            np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-6, err_msg=key)


@pytest.mark.parametrize("model_name", ["model_1_ptm", "model_4", "model_5"])
def test_same_draws_give_the_reference_features(monkeypatch, lysozyme, model_name):
    config = processing_config_for(model_name)
    samples = draw_msa_samples(lysozyme, config, seed=11, num_recycle=1)
    ours = process_features(lysozyme, config, num_recycle=1, padding=REFERENCE_PADDING,
                            samples=samples)
    reference = reference_with_samples(monkeypatch, model_name, lysozyme, samples, 1)
    assert_processed_equal(ours, reference)


@pytest.mark.parametrize("depth", [1, 30, 700])
def test_same_draws_shallow_and_mid_depth_msas(monkeypatch, small_protein, depth):
    raw = dict(small_protein)
    raw["msa"] = raw["msa"][:depth]
    raw["deletion_matrix_int"] = raw["deletion_matrix_int"][:depth]
    raw["msa_species_identifiers"] = raw["msa_species_identifiers"][:depth]
    raw["num_alignments"] = np.full_like(raw["num_alignments"], raw["msa"].shape[0])
    config = processing_config_for("model_5")
    samples = draw_msa_samples(raw, config, seed=depth, num_recycle=2)
    ours = process_features(raw, config, num_recycle=2, padding=REFERENCE_PADDING,
                            samples=samples)
    reference = reference_with_samples(monkeypatch, "model_5", raw, samples, 2)
    assert_processed_equal(ours, reference)


def test_no_template_hits_placeholder(monkeypatch, small_protein):
    """AlphaFold's featuriser writes one all-zero template when no hit survives."""
    num_res = small_protein["aatype"].shape[0]
    raw = {
        **small_protein,
        "template_aatype": np.zeros((1, num_res, 22), np.float32),
        "template_all_atom_masks": np.zeros((1, num_res, 37), np.float32),
        "template_all_atom_positions": np.zeros((1, num_res, 37, 3), np.float32),
        "template_domain_names": np.array([b""], dtype=object),
        "template_sequence": np.array([b""], dtype=object),
        "template_sum_probs": np.array([0], dtype=np.float32),
    }
    config = processing_config_for("model_2")
    samples = draw_msa_samples(raw, config, seed=0, num_recycle=0)
    ours = process_features(raw, config, num_recycle=0, padding=REFERENCE_PADDING,
                            samples=samples)
    reference = reference_with_samples(monkeypatch, "model_2", raw, samples, 0)
    assert_processed_equal(ours, reference)


@pytest.mark.parametrize("model_name", oracle.MONOMER_MODELS)
def test_data_settings_equal_the_reference_config(model_name):
    cfg = oracle.reference_config(model_name).data
    ours = processing_config_for(model_name)
    assert ours.max_msa_clusters == cfg.eval.max_msa_clusters
    assert ours.max_extra_msa == cfg.common.max_extra_msa
    assert ours.max_templates == cfg.eval.max_templates
    assert ours.use_templates == cfg.common.use_templates
    reduce = cfg.common.reduce_msa_clusters_by_max_templates
    assert ours.reduce_msa_clusters_by_max_templates == reduce
    assert ours.resample_msa_in_recycling == cfg.common.resample_msa_in_recycling
    assert ours.num_recycle == 3 and ProcessingConfig().num_recycle == 3
    assert ours.masked_msa.uniform_prob == cfg.common.masked_msa.uniform_prob
    assert ours.masked_msa.profile_prob == cfg.common.masked_msa.profile_prob
    assert ours.masked_msa.same_prob == cfg.common.masked_msa.same_prob
    assert ours.masked_msa.replace_fraction == cfg.eval.masked_msa_replace_fraction


def test_random_draws_are_distributed_like_the_reference(small_protein):
    """Ours and the reference's own RNG: BERT fractions and replacement kinds agree."""
    raw = dict(small_protein)
    depth = 60
    for key in ("msa", "deletion_matrix_int"):
        raw[key] = raw[key][:depth]
    raw["num_alignments"] = np.full_like(raw["num_alignments"], depth)
    config = processing_config_for("model_5")

    def tallies(out):
        selected = out["bert_mask"] > 0
        shown = np.argmax(out["msa_feat"][..., :23], axis=-1)
        true = out["true_msa"]
        return np.array([
            selected.sum(),
            (selected & (shown == 22)).sum(),
            (selected & (shown == true)).sum(),
            out["msa_row_mask"].sum(),
        ], dtype=np.float64)

    seeds = range(4)
    theirs = sum(tallies(oracle.process_features("model_5", raw, num_recycle=3, seed=s))
                 for s in seeds)
    mine = sum(tallies(process_features(raw, config, seed=s, num_recycle=3,
                                        padding=REFERENCE_PADDING)) for s in seeds)
    positions = 4 * 4 * depth * raw["aatype"].shape[0]
    for tally in (theirs, mine):
        assert tally[3] == 4 * 4 * depth  # every sequence is a centre at this depth
        assert abs(tally[0] / positions - 0.15) < 4 * np.sqrt(0.15 * 0.85 / positions)
        assert abs(tally[1] / tally[0] - 0.7) < 4 * np.sqrt(0.7 * 0.3 / tally[0])
    # same-as-before share: 0.1 + 0.1 * profile + 0.1 * uniform hits; both agree
    share = theirs[2] / theirs[0], mine[2] / mine[0]
    assert abs(share[0] - share[1]) < 4 * np.sqrt(0.2 * 0.8 * (1 / theirs[0] + 1 / mine[0]))


def test_alphafold_features_pkl_is_accepted(tmp_path, small_protein):
    """run_alphafold.py pickles the data pipeline's dict as features.pkl (protocol 4)."""
    import pickle

    from folding.data.processing import load_raw_features

    path = tmp_path / "features.pkl"
    path.write_bytes(pickle.dumps(small_protein, protocol=4))
    config = processing_config_for("model_3_ptm")
    loaded = process_features(load_raw_features(path), config, seed=5, num_recycle=1)
    direct = process_features(small_protein, config, seed=5, num_recycle=1)
    assert set(loaded) == set(direct)
    for key in direct:
        np.testing.assert_array_equal(loaded[key], direct[key], err_msg=key)


@pytest.mark.slow
def test_padding_rows_do_not_change_the_reference_model_outputs(small_protein):
    """Padded rows are masked: the reference model predicts the same with more of them.

    Parameters are scaled down (0.1) so that the random model is well conditioned: with
    unit-scale random weights a 1e-5 change of one input already moves the outputs by
    as much as the outputs themselves, which would test nothing.
    """
    import jax

    from folding.data.processing.fixed_size import stack_msa_features

    model_name = "model_5_ptm"
    raw = dict(small_protein)
    for key in ("msa", "deletion_matrix_int"):
        raw[key] = raw[key][:100]
    raw["num_alignments"] = np.full_like(raw["num_alignments"], 100)
    # 64 real centres and 36 real extra sequences, so both kinds of rows get padding
    config = ProcessingConfig(max_msa_clusters=64, max_extra_msa=1024)
    compact = process_features(raw, config, seed=3, num_recycle=0)
    assert compact["msa_feat"].shape[1] == 64 and compact["extra_msa"].shape[1] == 64
    padded = dict(compact)
    msa_keys = [k for k in compact if k.startswith(("msa_", "bert_", "true_", "extra_"))]
    padded.update(stack_msa_features([{k: compact[k][0] for k in msa_keys}], 160, 300))
    assert padded["extra_msa_row_mask"].sum() == compact["extra_msa_row_mask"].sum() == 36

    params = oracle.random_params(model_name, compact, scale=0.1)
    ours = oracle.run_model(model_name, params, compact)[0]
    theirs = oracle.run_model(model_name, params, padded)[0]
    checked = []
    for path, value in jax.tree_util.tree_leaves_with_path(theirs):
        name = jax.tree_util.keystr(path)
        mine = dict(jax.tree_util.tree_leaves_with_path(ours))[path]
        if "masked_msa" in name:  # one row per (padded) centre
            mine, value = mine[:64], value[:64]
        if "prev" in name or mine.shape != value.shape:
            continue
        scale = max(1.0, float(np.abs(value).max()))
        np.testing.assert_allclose(mine, value, rtol=0, atol=1e-4 * scale, err_msg=name)
        checked.append(name)
    assert any("final_atom_positions" in n for n in checked)
    assert any("distogram" in n for n in checked) and any("plddt" in n for n in checked)
