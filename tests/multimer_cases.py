"""Real complexes for the multimer tests, and the reference's multimer pipeline run on them.

* **2Q2K**: the ParR homodimer; both chains' AlphaFold search outputs (with
  ``uniprot_hits.sto``) are in ``alignments/2q2k``, its structure in the template folder.
  Its sequence is the first row of ``uniref90_hits.sto``.
* **A0A024R1R8**: AlphaFold's own outputs for a 62-residue human protein, with 2,269
  UniProt hits from 938 species.
* **A homologue of A0A024R1R8** (the 9HYPO hit ``A0A9P4XE22``, 65 residues, 56 % identical):
  its searches are run here for real, with jackhmmer (pyhmmer, ``folding.data.search``)
  against a database of A0A024R1R8's UniProt hit sequences under their UniProt names. Its
  UniProt alignment therefore shares hundreds of species with A0A024R1R8's: pairing by
  species is exercised in depth (species with many rows, ranking by similarity, species
  in two of three chains).

The reference (``alphafold.data.pipeline_multimer.DataPipeline``, precomputed MSAs) is run
as ``tests/data/test_features_parity.py`` runs its monomer pipeline, with DeepMind's MSA
deduplication restored (the fork comments it out, also for the UniProt alignment); it runs
its template search (hmmbuild + hmmsearch programs against ``pdb_seqres.txt``) itself.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from folding.data.parsers import read_msa, stockholm_rows, stockholm_to_a3m
from folding.data.search import search_jackhmmer

MAX_TEMPLATE_DATE = "2022-01-01"
HOMOLOGUE_ROW = 1000  # row of A0A024R1R8's uniprot_hits.sto used as the homologue


@dataclass(frozen=True)
class ChainData:
    """A chain of a test complex: its sequence and its search folder."""

    name: str
    sequence: str
    msa_dir: Path


def first_row_sequence(msa_dir: Path) -> str:
    return read_msa(msa_dir / "uniref90_hits.sto", 1).query


def shared_chains(shared: Path) -> dict[str, ChainData]:
    """The chains whose searches AlphaFold ran (2q2k_A, 2q2k_B, A0A024R1R8)."""
    chains = {}
    for name, folder in (("2q2k_A", "alignments/2q2k/2q2k_A"),
                         ("2q2k_B", "alignments/2q2k/2q2k_B"),
                         ("A0A024R1R8", "alignments/A0A024R1R8")):
        msa_dir = shared / folder
        chains[name] = ChainData(name, first_row_sequence(msa_dir), msa_dir)
    return chains


def build_homologue(shared: Path, workdir: Path) -> ChainData:
    """Search A0A024R1R8's homologue against A0A024R1R8's UniProt hits (real jackhmmer runs)."""
    hits = stockholm_rows((shared / "alignments/A0A024R1R8/uniprot_hits.sto").read_text())
    names = list(hits)
    records = {}
    for name, row in list(hits.items())[1:]:
        entry = name.partition("/")[0]
        records.setdefault(entry, row.replace("-", "").replace(".", "").upper())
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "uniprot_subset.fasta"
    database.write_text("".join(f">{n}\n{s}\n" for n, s in records.items()))
    sequence = records[names[HOMOLOGUE_ROW].partition("/")[0]]
    query = workdir / "homologue.fasta"
    query.write_text(f">homologue\n{sequence}\n")
    msa_dir = workdir / "homologue"
    for db_name in ("uniref90", "mgnify", "uniprot"):
        search_jackhmmer(query, database, db_name, msa_dir, threads=1)
    uniref90 = (msa_dir / "uniref90_hits.sto").read_text()
    (msa_dir / "bfd_uniref_hits.a3m").write_text(stockholm_to_a3m(uniref90))
    return ChainData("homologue", sequence, msa_dir)


def deepmind_dedup(original):
    """``make_msa_features`` dropping, before the fork's loop, the rows DeepMind's drops."""
    from alphafold.data import parsers as af_parsers

    def make_msa_features(msas):
        seen: set[str] = set()
        kept = []
        for msa in msas:
            rows = [i for i, s in enumerate(msa.sequences) if not (s in seen or seen.add(s))]
            if rows:
                kept.append(af_parsers.Msa([msa.sequences[i] for i in rows],
                                           [msa.deletion_matrix[i] for i in rows],
                                           [msa.descriptions[i] for i in rows]))
        return original(kept)

    return make_msa_features


def reference_runner(shared: Path, chains: list[ChainData], workdir: Path,
                     dedup: bool = True) -> Callable[[], dict]:
    """A function running the reference's multimer ``DataPipeline.process`` on ``chains``.

    The set-up (the chains' folders copied under AlphaFold's names, the pipelines built) is
    done once; each call clears the reference's mmCIF caches and runs ``process``.
    """
    from alphafold.data import mmcif_parsing
    from alphafold.data import pipeline as af_pipeline
    from alphafold.data import pipeline_multimer as af_multimer
    from alphafold.data import templates as af_templates
    from alphafold.data.tools import hmmsearch as af_hmmsearch

    msa_root = workdir / "ref_msas"
    for chain_id, chain in zip("ABCDEFGH", chains, strict=False):
        folder = msa_root / chain_id
        shutil.copytree(chain.msa_dir, folder)
        for path in folder.iterdir():
            path.chmod(0o644)
        if (folder / "bfd_uniclust_hits.a3m").exists():
            shutil.copy(folder / "bfd_uniclust_hits.a3m", folder / "bfd_uniref_hits.a3m")
        (folder / "pdb_hits.sto").unlink(missing_ok=True)  # the reference searches again
    dummy = workdir / "db"
    dummy.write_text("")
    (workdir / "db_a3m.ffdata").write_text("")
    templates = shared / "templates"
    searcher = af_hmmsearch.Hmmsearch(
        binary_path=shutil.which("hmmsearch"), hmmbuild_binary_path=shutil.which("hmmbuild"),
        database_path=str(templates / "pdb_seqres/pdb_seqres.txt"))
    featurizer = af_templates.HmmsearchHitFeaturizer(
        mmcif_dir=str(templates / "pdb_mmcif/mmcif_files"),
        max_template_date=MAX_TEMPLATE_DATE, max_hits=20,
        kalign_binary_path=shutil.which("kalign"), release_dates_path=None,
        obsolete_pdbs_path=str(templates / "pdb_mmcif/obsolete.dat"))
    monomer = af_pipeline.DataPipeline(
        jackhmmer_binary_path="jackhmmer", hhblits_binary_path="hhblits",
        uniref90_database_path=str(dummy), mgnify_database_path=str(dummy),
        bfd_database_path=str(dummy), uniref30_database_path=str(dummy),
        small_bfd_database_path=None, template_searcher=searcher,
        template_featurizer=featurizer, use_small_bfd=False, use_precomputed_msas=True)
    multimer = af_multimer.DataPipeline(
        monomer_data_pipeline=monomer, jackhmmer_binary_path="jackhmmer",
        uniprot_database_path=str(dummy), use_precomputed_msas=True)
    fasta = workdir / "complex.fasta"
    fasta.write_text("".join(f">{c.name}\n{c.sequence}\n" for c in chains))
    original = af_pipeline.make_msa_features

    def run() -> dict:
        mmcif_parsing.parse.cache_clear()
        af_templates._read_file.cache_clear()
        if dedup:
            af_pipeline.make_msa_features = deepmind_dedup(original)
        try:
            return multimer.process(str(fasta), str(msa_root))
        finally:
            af_pipeline.make_msa_features = original

    return run


def reference_multimer(shared: Path, chains: list[ChainData], workdir: Path,
                       dedup: bool = True) -> dict:
    """The reference's multimer ``DataPipeline.process`` on ``chains`` (precomputed MSAs)."""
    return reference_runner(shared, chains, workdir, dedup)()
