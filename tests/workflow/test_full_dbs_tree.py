"""full_dbs for real on a miniature AlphaFold database tree: jackhmmer on UniRef90 and
MGnify, HHblits on BFD + UniRef30 and HHsearch on PDB70 (HH-suite databases built with
HH-suite's own programs from real sequences), template features from real mmCIFs."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from folding.data.parsers.fasta import format_fasta, parse_fasta

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def full_tree(tmp_path_factory, demo_db) -> Path:
    from folding.data.tools.hhblits import build_hhsuite_database

    root = tmp_path_factory.mktemp("full_dbs")
    for name in ("uniref90", "mgnify", "pdb_mmcif"):
        shutil.copytree(demo_db / name, root / name)
    work = tmp_path_factory.mktemp("fasta")
    mgnify = parse_fasta((demo_db / "mgnify" / "mgy_clusters_2022_05.fa").read_text())
    bfd = parse_fasta((demo_db / "small_bfd" /
                       "bfd-first_non_consensus_sequences.fasta").read_text())
    seqres = parse_fasta((demo_db / "pdb_seqres" / "pdb_seqres.txt").read_text())
    (work / "bfd.fasta").write_text(format_fasta(mgnify[:60]))
    (work / "uniref30.fasta").write_text(format_fasta(bfd[:60]))
    # A PDB70 of 30 chains: every lysozyme C of the demo PDB and a few others.
    lysozymes = [r for r in seqres if "KVFERCELAR" in r.sequence]
    others = [r for r in seqres if r not in lysozymes][: 30 - min(len(lysozymes), 20)]
    (work / "pdb70.fasta").write_text(format_fasta(lysozymes[:20] + others))
    build_hhsuite_database(work / "bfd.fasta", root / "bfd" /
                           "bfd_metaclust_clu_complete_id30_c90_final_seq.sorted_opt",
                           threads=2, with_hhm=True)
    build_hhsuite_database(work / "uniref30.fasta", root / "uniref30" / "UniRef30_2021_03",
                           threads=2, with_hhm=True)
    build_hhsuite_database(work / "pdb70.fasta", root / "pdb70" / "pdb70", threads=2,
                           with_hhm=True)
    return root


def test_full_dbs_searches_with_hhblits_and_hhsearch(
    full_tree, run_workflow, fasta_writer, tiny_sequences, tmp_path
):
    inputs = fasta_writer(tmp_path / "in.fasta", {"lyso40": tiny_sequences["lyso40"]})
    out = tmp_path / "out"
    config = {"input": inputs, "output_dir": out, "preset": "full_dbs",
              "database_dir": full_tree, "allow_untrained_params": "true"}
    target = str(out / "lyso40" / "provenance" / "features.json")
    dry = run_workflow("-n", target, config=config)
    assert dry.returncode == 0, dry.output
    assert dry.jobs["msa_jackhmmer"] == 2 and dry.jobs["msa_hhblits"] == 1
    run = run_workflow(target, config=config)
    assert run.returncode == 0, run.output[-4000:]
    msas = out / "lyso40" / "msas"
    assert sorted(p.name for p in msas.iterdir()) == [
        "bfd_uniref_hits.a3m", "mgnify_hits.sto", "pdb_hits.hhr", "sources.json",
        "uniref90_hits.sto"]
    hhr = (msas / "pdb_hits.hhr").read_text()
    assert " 1 " in hhr and "mol:protein" in hhr  # lysozyme chains of the miniature PDB70
    hhblits = json.loads((out / "lyso40" / "provenance" / "msa_bfd_uniref.json").read_text())
    assert hhblits["tools"]["hhblits"].startswith("HHblits")
    assert len(hhblits["databases"]) == 12  # six files of BFD, six of UniRef30
    assert (out / "lyso40" / "features.npz").is_file()
