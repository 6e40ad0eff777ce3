"""Plots: MSA coverage numbers, and PNGs of readable size for one and many models."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from folding.common.alphabet import HHBLITS_AA_TO_ID
from folding.report import plots
from folding.report.ranking import rank_models
from folding.report.results import load_models


def _ids(rows: list[str]) -> np.ndarray:
    return np.array([[HHBLITS_AA_TO_ID[c] for c in row] for row in rows], np.int32)


def test_msa_coverage_counts_identity_and_depth():
    coverage = plots.msa_coverage(_ids(["ACDE", "ACDF", "--DE", "W---"]))
    assert np.allclose(coverage.identity, [1.0, 0.75, 0.5, 0.0])
    assert coverage.depth.tolist() == [3, 2, 3, 3]
    assert coverage.num_sequences == 4 and coverage.length == 4


def _size(png: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(png)).size


def test_plots_of_real_features(target_folder):
    models = load_models(target_folder.path)
    ranking = rank_models(models)
    ranked = [next(m for m in models if m.name == n) for n in ranking.order]
    width, height = _size(plots.plddt_plot(ranked, "pLDDT"))
    assert width > 900 and height > 350
    width, height = _size(plots.pae_plot(ranked, "PAE"))
    assert width > 3 * 300 and height > 300
    with np.load(target_folder.path / "features.npz") as features:
        coverage = plots.msa_coverage(features["msa"])
    assert coverage.num_sequences > 500 and coverage.length == target_folder.length
    assert coverage.identity[0] == 1.0 and coverage.depth.max() <= coverage.num_sequences
    assert _size(plots.msa_coverage_plot(coverage, "MSA"))[0] > 900


def test_pae_plot_lays_out_many_models_and_chain_boundaries(target_folder):
    model = load_models(target_folder.path)[0]
    # A two-chain view of the same arrays, as a multimer result will carry asym_id.
    asym = np.repeat([1, 2], [60, target_folder.length - 60])
    two_chains = type(model)(**{**model.__dict__, "asym_id": asym})
    assert two_chains.chain_starts() == [60]
    png = plots.pae_plot([two_chains] * 7, "seven models")
    width, height = _size(png)
    assert height > 1.6 * _size(plots.pae_plot([two_chains], "one"))[1]
    assert width > 5 * 300
    assert plots.pae_plot([type(model)(**{**model.__dict__, "pae": None})], "none") is None


def test_large_msa_is_subsampled_for_drawing():
    rng = np.random.default_rng(0)
    msa = rng.integers(0, 22, size=(plots.MAX_DRAWN_ROWS * 2 + 3, 50)).astype(np.int32)
    coverage = plots.msa_coverage(msa)
    png = plots.msa_coverage_plot(coverage, "big")
    assert _size(png)[0] > 900
    assert coverage.num_sequences == msa.shape[0] and coverage.depth.max() <= msa.shape[0]
