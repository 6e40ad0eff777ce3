"""Raw features and template search: ours against the reference's, side by side.

Features: for each real target (AlphaFold's own MSA outputs and template hits in the
shared data), the reference's ``DataPipeline(use_precomputed_msas=True)`` (template
search replayed from the precomputed hit file, hits without an mmCIF left out, MSA
deduplication restored as in ``tests/data/test_features_parity.py``) against our
in-process equivalent of ``folding features`` (query, MSAs, template featurisation,
assembly). The reference's mmCIF caches are cleared before each of its runs, so both
parse every template file every time.

Template search: the hmmsearch template search of each target's UniRef90 alignment
against the 141-chain ``pdb_seqres.txt``: the reference's ``Hmmsearch`` wrapper
(hmmbuild + hmmsearch programs) against ours in process (pyhmmer).

Each is timed ``--repeats`` times after one warm-up; medians and the ratio
reference / ours are printed.

Run: ``.venv/bin/python benchmarks/features.py [--repeats 3]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "P61626": ("alignments/P61626", "templates/pdb_mmcif/mmcif_files", "pdb_hits.sto", {}),
    "A0A024R1R8": ("alignments/A0A024R1R8", "templates/pdb_mmcif/mmcif_files", "pdb_hits.hhr",
                   {}),
    "openfold_short": ("alignments/openfold_short", "alignments/openfold_short_mmcifs",
                       "pdb70_hits.hhr", {"bfd_uniclust_hits.a3m": "bfd_uniref_hits.a3m"}),
}
DATE = "2022-01-01"


def shared_data() -> Path:
    return Path(os.environ.get("FOLDING_SHARED_DATA", ROOT.parent / "shared" / "data"))


def reference_pipeline(target: str, workdir: Path) -> Callable[[], dict]:
    from alphafold.data import mmcif_parsing, parsers, pipeline, templates
    from alphafold.data.tools import hmmsearch

    data = shared_data()
    folder, mmcif, hit_name, renames = TARGETS[target]
    msa_dir = workdir / target
    shutil.copytree(data / folder, msa_dir)
    for old, new in renames.items():
        shutil.copy(msa_dir / old, msa_dir / new)
    for path in msa_dir.iterdir():
        path.chmod(0o644)
    dummy = workdir / "db"
    dummy.write_text("")
    (workdir / "db_a3m.ffdata").write_text("")
    mmcif_dir = data / mmcif
    hit_text = (msa_dir / hit_name).read_text()
    is_hhr = hit_name.endswith(".hhr")

    class Replay:
        input_format = "a3m" if is_hhr else "sto"
        output_format = "hhr" if is_hhr else "sto"

        def query(self, _msa):
            return hit_text

        def get_template_hits(self, output_string, input_sequence):
            hits = (parsers.parse_hhr(output_string) if is_hhr else
                    hmmsearch.Hmmsearch.get_template_hits(self, output_string, input_sequence))
            return [h for h in hits if (mmcif_dir / f"{h.name[:4].lower()}.cif").exists()]

    featurizer = (templates.HhsearchHitFeaturizer if is_hhr else
                  templates.HmmsearchHitFeaturizer)(
        mmcif_dir=str(mmcif_dir), max_template_date=DATE, max_hits=20,
        kalign_binary_path=shutil.which("kalign"), release_dates_path=None,
        obsolete_pdbs_path=None)
    runner = pipeline.DataPipeline(
        jackhmmer_binary_path="jackhmmer", hhblits_binary_path="hhblits",
        uniref90_database_path=str(dummy), mgnify_database_path=str(dummy),
        bfd_database_path=str(dummy), uniref30_database_path=str(dummy),
        small_bfd_database_path=None, template_searcher=Replay(),
        template_featurizer=featurizer, use_small_bfd=False, use_precomputed_msas=True)
    original = pipeline.make_msa_features

    def deduplicated(msas):
        seen: set[str] = set()
        kept = []
        for msa in msas:
            rows = [i for i, s in enumerate(msa.sequences) if not (s in seen or seen.add(s))]
            if rows:
                kept.append(parsers.Msa([msa.sequences[i] for i in rows],
                                        [msa.deletion_matrix[i] for i in rows],
                                        [msa.descriptions[i] for i in rows]))
        return original(kept)

    def run() -> dict:
        mmcif_parsing.parse.cache_clear()
        templates._read_file.cache_clear()
        pipeline.make_msa_features = deduplicated
        try:
            return runner.process(str(data / "queries" / f"{target}.fasta"), str(msa_dir))
        finally:
            pipeline.make_msa_features = original

    return run


def our_pipeline(target: str) -> Callable[[], dict]:
    from folding.data.features import find_msa_files, find_template_hits, raw_features, read_msas
    from folding.data.templates.cli import featurise_hits, read_query

    data = shared_data()
    folder, mmcif, _, _ = TARGETS[target]

    def run() -> dict:
        description, sequence = read_query(data / "queries" / f"{target}.fasta")
        msas = read_msas(find_msa_files(data / folder), sequence)
        hits = find_template_hits(data / folder)
        templates = featurise_hits(hits, sequence, data / mmcif, DATE).raw_features()
        return raw_features(sequence, description, msas, templates)

    return run


def search_pair(target: str) -> tuple[Callable[[], str], Callable[[], str]]:
    from alphafold.data.tools import hmmsearch

    from folding.data.templates.search import template_query
    from folding.data.tools.hmmsearch import Hmmsearch

    data = shared_data()
    database = data / "templates/pdb_seqres/pdb_seqres.txt"
    query = template_query(data / TARGETS[target][0] / "uniref90_hits.sto")
    reference = hmmsearch.Hmmsearch(binary_path=shutil.which("hmmsearch"),
                                    hmmbuild_binary_path=shutil.which("hmmbuild"),
                                    database_path=str(database))
    ours = Hmmsearch.locate(database, cpus=2)
    return (lambda: reference.query(query)), (lambda: ours.search(query))


def median_seconds(function: Callable[[], object], repeats: int) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import logging

    logging.disable(logging.WARNING)
    print(f"{'what':<34}{'reference s':>12}{'ours s':>10}{'ratio':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for target in TARGETS:
            ref = median_seconds(reference_pipeline(target, Path(folder)), args.repeats)
            ours = median_seconds(our_pipeline(target), args.repeats)
            print(f"{'features ' + target:<34}{ref:>12.2f}{ours:>10.2f}{ref / ours:>8.2f}")
    for target in TARGETS:
        reference, ours = search_pair(target)
        ref, mine = median_seconds(reference, args.repeats), median_seconds(ours, args.repeats)
        print(f"{'hmmsearch ' + target:<34}{ref:>12.3f}{mine:>10.3f}{ref / mine:>8.2f}")


if __name__ == "__main__":
    main()
