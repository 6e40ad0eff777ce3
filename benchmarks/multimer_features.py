"""Multimer raw features: ours against the reference's multimer DataPipeline, side by side.

For the real complexes of ``tests/multimer_cases.py`` (2Q2K homodimer; A0A024R1R8 with a
homologue searched here; a heterotrimer with 2Q2K; A2B), the reference's
``pipeline_multimer.DataPipeline.process`` (precomputed MSAs, its own hmmbuild +
hmmsearch template search, DeepMind's MSA deduplication restored, mmCIF caches cleared
before each run) against :func:`folding.data.multimer.build_multimer_features` (pyhmmer
template search in process). Also the pairing-and-merging stage alone: the reference's
``feature_processing.pair_and_merge`` + ``pad_msa`` against our ``complex_features`` on
the same per-chain features. Each is timed ``--repeats`` times after a warm-up; medians,
the ratio reference / ours, and the largest difference between the outputs are printed.

Run: ``.venv/bin/python benchmarks/multimer_features.py [--repeats 3]``
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

COMPLEXES = {
    "2q2k homodimer": ("2q2k_A", "2q2k_B"),
    "heterodimer": ("A0A024R1R8", "homologue"),
    "heterotrimer": ("2q2k_A", "A0A024R1R8", "homologue"),
    "A2B": ("A0A024R1R8", "homologue", "A0A024R1R8"),
}


def shared_data() -> Path:
    return Path(os.environ.get("FOLDING_SHARED_DATA", ROOT.parent / "shared" / "data"))


def median_seconds(function: Callable[[], object], repeats: int) -> tuple[float, object]:
    result = function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def max_difference(ours: dict, ref: dict) -> float:
    if sorted(ours) != sorted(ref):
        return float("inf")
    worst = 0.0
    for key, value in ref.items():
        value = np.asarray(value)
        if ours[key].shape != value.shape or ours[key].dtype != value.dtype:
            return float("inf")
        worst = max(worst, float(np.max(np.abs(ours[key].astype(np.float64)
                                               - value.astype(np.float64)), initial=0.0)))
    return worst


def stage_pair(shared: Path, chain_names, chains) -> tuple[Callable, Callable]:
    """The pairing-and-merging stage of both, on the same converted per-chain features."""
    from alphafold.data import feature_processing, pipeline_multimer

    from folding.data.multimer import Assembly, TemplateSource
    from folding.data.multimer.chain_features import assembly_chain_features
    from folding.data.multimer.complex_features import complex_features
    from folding.data.multimer.pipeline import read_entity_features

    members = [chains[n] for n in chain_names]
    assembly = Assembly.from_sequences([c.sequence for c in members])
    templates = shared / "templates"
    source = TemplateSource(templates / "pdb_mmcif/mmcif_files", "2022-01-01",
                            pdb_seqres=templates / "pdb_seqres/pdb_seqres.txt")
    entity, _ = read_entity_features(assembly, [c.msa_dir for c in members], source)

    def reference() -> dict:
        by_id = {}
        for chain in assembly.in_input_order():
            by_id[chain.chain_id] = copy.deepcopy(entity[chain.entity_id])
        merged = feature_processing.pair_and_merge(
            pipeline_multimer.add_assembly_features(by_id))
        return pipeline_multimer.pad_msa(merged, 512)

    def ours() -> dict:
        return complex_features(assembly_chain_features(assembly, entity))

    return reference, ours


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    from multimer_cases import build_homologue, reference_runner, shared_chains

    from folding.data.multimer import TemplateSource, build_multimer_features

    shared = shared_data()
    templates = shared / "templates"
    source = TemplateSource(templates / "pdb_mmcif/mmcif_files", "2022-01-01",
                            pdb_seqres=templates / "pdb_seqres/pdb_seqres.txt")
    print(f"{'what':<30}{'residues':>9}{'MSA rows':>9}{'reference s':>12}{'ours s':>8}"
          f"{'ratio':>7}{'max diff':>10}")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        chains = shared_chains(shared)
        chains["homologue"] = build_homologue(shared, work / "homologue")
        for label, names in COMPLEXES.items():
            members = [chains[n] for n in names]
            case_dir = work / label.replace(" ", "_")
            case_dir.mkdir()
            reference = reference_runner(shared, members, case_dir)

            def ours(members=members):
                return build_multimer_features([c.sequence for c in members],
                                               [c.msa_dir for c in members], source).features

            ref_s, ref_out = median_seconds(reference, args.repeats)
            our_s, our_out = median_seconds(ours, args.repeats)
            diff = max_difference(our_out, ref_out)
            print(f"{'pipeline ' + label:<30}{int(our_out['seq_length']):>9}"
                  f"{int(our_out['num_alignments']):>9}{ref_s:>12.3f}{our_s:>8.3f}"
                  f"{ref_s / our_s:>7.2f}{diff:>10.2g}")
            ref_stage, our_stage = stage_pair(shared, names, chains)
            ref_s, ref_out = median_seconds(ref_stage, args.repeats)
            our_s, our_out = median_seconds(our_stage, args.repeats)
            diff = max_difference(our_out, ref_out)
            print(f"{'  pair+merge ' + label:<30}{'':>9}{'':>9}{ref_s:>12.3f}{our_s:>8.3f}"
                  f"{ref_s / our_s:>7.2f}{diff:>10.2g}")


if __name__ == "__main__":
    main()
