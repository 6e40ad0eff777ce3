"""Multimer raw features against the reference's multimer DataPipeline on real complexes.

Our :func:`folding.data.multimer.build_multimer_features` and the reference's
``pipeline_multimer.DataPipeline.process`` read the same precomputed searches and the same
template database (each runs its own hmmsearch against ``pdb_seqres.txt``); every feature
must agree: same keys, dtypes and shapes, integers identical, floats within 1e-6. The
complexes and how the reference is run are described in ``tests/multimer_cases.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
from multimer_cases import (
    MAX_TEMPLATE_DATE,
    build_homologue,
    reference_multimer,
    shared_chains,
)

from folding.data.multimer import TemplateSource, build_multimer_features
from folding.data.templates.mmcif import read_mmcif

pytest.importorskip("alphafold", reason="the reference is not installed")
pytestmark = pytest.mark.reference


@pytest.fixture(scope="module")
def chains(shared_data, tmp_path_factory):
    found = shared_chains(shared_data)
    found["homologue"] = build_homologue(shared_data, tmp_path_factory.mktemp("homologue"))
    return found


def _ours(shared, complex_chains):
    templates = shared / "templates"
    return build_multimer_features(
        [c.sequence for c in complex_chains], [c.msa_dir for c in complex_chains],
        TemplateSource(templates / "pdb_mmcif/mmcif_files", MAX_TEMPLATE_DATE,
                       pdb_seqres=templates / "pdb_seqres/pdb_seqres.txt"),
        descriptions=[c.name for c in complex_chains])


def _max_diffs(ours: dict, ref: dict) -> dict[str, float]:
    assert sorted(ours) == sorted(ref)
    diffs = {}
    for key, expected in ref.items():
        expected = np.asarray(expected)
        got = ours[key]
        assert got.dtype == expected.dtype, (key, got.dtype, expected.dtype)
        assert got.shape == expected.shape, (key, got.shape, expected.shape)
        if np.issubdtype(expected.dtype, np.floating):
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6, err_msg=key)
            diffs[key] = float(np.max(np.abs(got - expected), initial=0.0))
        else:
            np.testing.assert_array_equal(got, expected, err_msg=key)
    return diffs


def test_2q2k_sequences_are_the_structure_chains(shared_data, chains):
    entry = read_mmcif(shared_data / "templates/pdb_mmcif/mmcif_files/2q2k.cif")
    assert chains["2q2k_A"].sequence == entry.chains["A"].sequence
    assert chains["2q2k_B"].sequence == entry.chains["B"].sequence
    assert chains["2q2k_A"].sequence == chains["2q2k_B"].sequence  # a homodimer


# The chains of each complex, in input order.
CASES = {
    "monomer": ("A0A024R1R8",),
    "2q2k_homodimer": ("2q2k_A", "2q2k_B"),
    "heterodimer": ("A0A024R1R8", "homologue"),
    "heterotrimer_species_in_two_chains": ("2q2k_A", "A0A024R1R8", "homologue"),
    "A2B_copies_apart": ("A0A024R1R8", "homologue", "A0A024R1R8"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_multimer_features_equal_reference(shared_data, chains, tmp_path, case):
    complex_chains = [chains[name] for name in CASES[case]]
    ref = reference_multimer(shared_data, complex_chains, tmp_path)
    ours = _ours(shared_data, complex_chains)
    diffs = _max_diffs(ours.features, ref)
    print(case, {k: v for k, v in diffs.items() if v}, "msa", ours.features["msa"].shape)
    features = ours.features
    layout = ours.assembly.chains
    # The assembly layout is what the features say, chain by chain.
    for chain in layout:
        span = slice(chain.start, chain.end)
        assert np.all(features["asym_id"][span] == chain.asym_id)
        assert np.all(features["entity_id"][span] == chain.entity_id)
        assert np.all(features["sym_id"][span] == chain.sym_id)
        np.testing.assert_array_equal(features["residue_index"][span],
                                      np.arange(len(chain.sequence)))
    if case == "2q2k_homodimer":
        assert [c.key for c in layout] == ["A_1", "A_2"]
        # Homomers are not paired: the chain's MSA side by side, the query row first.
        half = len(layout[0].sequence)
        rows = int(features["num_alignments"])
        np.testing.assert_array_equal(features["msa"][:rows, :half],
                                      features["msa"][:rows, half:])
        # The structure's own chain is among the templates found by hmmsearch.
        assert ours.searches[0].templates[0].startswith("2q2k_")
    if case == "A2B_copies_apart":
        # Copies are laid out together: A, C (copies of entity 1), then B.
        assert [(c.chain_id, c.key) for c in layout] == [("A", "A_1"), ("C", "A_2"),
                                                         ("B", "B_1")]
    if ours.assembly.is_heteromer:
        # Real pairing happened: many paired rows beyond the queries.
        paired = features["bert_mask"][: int(features["num_alignments"])].all(axis=1)
        assert paired.sum() > 100


def test_reference_fork_keeps_duplicate_uniprot_rows(shared_data, chains, tmp_path):
    """Without the restored deduplication the fork pairs different rows: the wrapper matters."""
    complex_chains = [chains["A0A024R1R8"], chains["homologue"]]
    raw = reference_multimer(shared_data, complex_chains, tmp_path, dedup=False)
    ours = _ours(shared_data, complex_chains).features
    assert raw["msa"].shape != ours["msa"].shape or not np.array_equal(raw["msa"], ours["msa"])
