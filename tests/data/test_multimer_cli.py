"""``folding multimer check`` and ``folding multimer features`` on real searches.

Bad inputs fail with one line naming the input and the fix, exit status 2 (3 for a
missing resource), nothing written, and before any search or parsing starts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from folding.data.features import load_raw_npz
from folding.data.multimer import cli, pipeline
from folding.data.multimer.complex_features import MODEL_FEATURES

PARR = "MGSSHHHHHHSSGLVPGSHMDKKETKHLLKIKKEDYPQIFDFLENVPRGTKTAHIREALRRYIEEIGENP"
A0A024R1R8 = "MSSHEGGKKKALKQPKKQAKEMDEEEKAFKQKQKEEQKKLEVLKAKVVGKGPLATGGIKKSGKK"
P61626 = ("MKALIVLGLVLLSVTVQGKVFERCELARTLKRLGMDGYRGISLANWMCLAKWESGYNTRATNYNAGDRSTDYGIFQINSRYWCND"
          "GKTPGAVNACHLSCSALLQDNIADAVACAKRVVRDPQGIRAWVAWRNRCQNRDVRQYVQGCGV")


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _fasta(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "complex.fasta"
    path.write_text(text)
    return path


def _nothing_written(folder: Path) -> bool:
    return not folder.exists() or not any(folder.iterdir())


def test_check_writes_complexes(shared_data, tmp_path, capsys):
    out = tmp_path / "targets"
    code, _, err = _run(["check", "-i", str(shared_data / "queries" / "H1065.fasta"),
                         "-o", str(out)], capsys)
    assert code == 0, err
    summary = json.loads((out / "targets.json").read_text())
    (entry,) = summary["targets"]
    assert entry["name"] == "H1065" and entry["num_chains"] == 2 and entry["length"] == 225
    written = (out / "H1065.fasta").read_text().splitlines()
    assert written[0].startswith(">H1065 N4-Cytosine") and written[1].count(":") == 1
    code, out_text, _ = _run(["check", "-i", str(shared_data / "queries" / "H1065.fasta")],
                             capsys)
    assert code == 0 and out_text.split("\t")[:4] == ["H1065", "225", "2", "127+98"]


def test_features_homodimer_without_templates(shared_data, tmp_path, capsys):
    fasta = _fasta(tmp_path, f">2q2k ParR copies=2\n{PARR}\n")
    # AlphaFold's layout: one folder per chain id; the second copy's folder is not needed.
    msas = tmp_path / "msas"
    msas.mkdir()
    (msas / "A").symlink_to(shared_data / "alignments" / "2q2k" / "2q2k_A")
    out = tmp_path / "out"
    code, _, err = _run(["features", "--fasta", str(fasta), "--msa-dir", str(msas),
                         "--no-templates", "--output", str(out / "RAW.npz"),
                         "--chains-json", str(out / "chains.json")], capsys)
    assert code == 0, err
    features = load_raw_npz(out / "RAW.npz")
    assert set(features) <= MODEL_FEATURES
    assert features["msa"].shape == (512, 140) and int(features["num_alignments"]) == 20
    assert features["template_aatype"].shape == (4, 140)
    assert not features["template_all_atom_mask"].any()  # no templates: all-zero ones
    np.testing.assert_array_equal(features["asym_id"], np.repeat([1.0, 2.0], 70))
    np.testing.assert_array_equal(features["sym_id"], np.repeat([1.0, 2.0], 70))
    np.testing.assert_array_equal(features["entity_id"], np.ones(140))
    chains = json.loads((out / "chains.json").read_text())
    assert [(c["chain_id"], c["start"], c["end"]) for c in chains["chains"]] == [
        ("A", 0, 70), ("B", 70, 140)]
    assert chains["searches"][0]["msa_rows"] == 20


def test_features_heteromer_with_template_hits_files(shared_data, tmp_path, capsys):
    """A0A024R1R8 (with its pdb_hits.sto) and 2Q2K searched here, paired by species."""
    fasta = _fasta(tmp_path, f">hetero\n{A0A024R1R8}:{PARR}\n")
    code, _, err = _run(["features", "--fasta", str(fasta),
                         "--chain-msa-dir", str(shared_data / "alignments" / "A0A024R1R8"),
                         "--chain-msa-dir", str(shared_data / "alignments" / "2q2k" / "2q2k_A"),
                         "--template-mmcif-dir",
                         str(shared_data / "templates" / "pdb_mmcif" / "mmcif_files"),
                         "--max-template-date", "2022-01-01",
                         "--output", str(tmp_path / "out" / "RAW.npz")], capsys)
    # 2Q2K's folder has no pdb_hits.sto and no pdb_seqres was given: refused before work.
    assert code == 2
    assert err.splitlines()[-1] == (
        f"folding: error: chain B: {shared_data / 'alignments' / '2q2k' / '2q2k_A'} has no "
        "pdb_hits.sto; run `folding templates search --tool hmmsearch`, or give the "
        "pdb_seqres.txt to search")
    assert _nothing_written(tmp_path / "out")
    code, _, err = _run(["features", "--fasta", str(fasta),
                         "--chain-msa-dir", str(shared_data / "alignments" / "A0A024R1R8"),
                         "--chain-msa-dir", str(shared_data / "alignments" / "2q2k" / "2q2k_A"),
                         "--no-templates", "--output", str(tmp_path / "out" / "RAW.npz")],
                        capsys)
    assert code == 0, err
    features = load_raw_npz(tmp_path / "out" / "RAW.npz")
    # No species in common: one paired row (the queries), then the block-diagonal rows.
    assert features["bert_mask"][0].all() and not features["bert_mask"][1].all()
    rows = int(features["num_alignments"])
    gap = 21
    first = features["msa"][1:rows, :64] != gap
    second = features["msa"][1:rows, 64:] != gap
    assert not (first.any(axis=1) & second.any(axis=1)).any()  # never both chains in a row


@pytest.mark.parametrize(("fasta_text", "dirs", "extra", "message", "code"), [
    (f">big\n{PARR}:{PARR}\n", ["2q2k/2q2k_A", "2q2k/2q2k_B"], ["--max-length", "100"],
     "{fasta}: target 'big' has 140 residues in 2 chains, more than the maximum 100; predict "
     "a smaller sub-complex or raise --max-length", 2),
    (f">na\n{PARR}:{PARR}:AGTATAUACUAGTATATACT\n", ["2q2k/2q2k_A"] * 3, [],
     "{fasta}: record 'na' chain 3 looks like RNA (only A, C, G, U, N); this pipeline predicts "
     "protein chains: remove the nucleic-acid chain", 2),
    (f">tri copies=3\n{PARR}\n", ["2q2k/2q2k_A"] * 3, ["--max-chains", "2"],
     "{fasta}: target 'tri' has 3 chains, more than the 2 allowed (--max-chains); predict it "
     "as smaller sub-complexes", 2),
    (f">two\n{PARR}\n>other\n{PARR}\n", ["2q2k/2q2k_A"], [],
     "--fasta {fasta} holds 2 targets; give one complex per file (or --one-complex-per-file)",
     2),
    (f">ab\n{PARR}:{P61626}\n", ["2q2k/2q2k_A", "P61626"], [],
     "chain B: {shared}/alignments/P61626 has no uniprot_hits.sto; run `folding search "
     "--db-name uniprot` for the chain (pairing rows by species needs it)", 2),
    (f">ab\n{PARR}:{A0A024R1R8}\n", ["2q2k/2q2k_A"], [],
     "2 chains but 1 MSA folders; give one folder per chain (copies of a sequence may repeat "
     "the first's)", 2),
    (f">ab\n{PARR}:{A0A024R1R8}\n", ["2q2k/2q2k_A", "missing"], [],
     "chain B: MSA folder {shared}/alignments/missing not found; run the chain's MSA searches "
     "first", 2),
])
def test_bad_complex_fails_before_any_work(shared_data, tmp_path, capsys, monkeypatch,
                                           fasta_text, dirs, extra, message, code):
    def no_search(*args, **kwargs):
        raise AssertionError("a search ran before the inputs were checked")

    monkeypatch.setattr(pipeline, "search_templates", no_search)
    monkeypatch.setattr(pipeline, "read_msas", no_search)
    fasta = _fasta(tmp_path, fasta_text)
    argv = ["features", "--fasta", str(fasta)]
    for folder in dirs:
        argv += ["--chain-msa-dir", str(shared_data / "alignments" / folder)]
    templates = shared_data / "templates"
    argv += ["--template-mmcif-dir", str(templates / "pdb_mmcif" / "mmcif_files"),
             "--max-template-date", "2022-01-01", "--pdb-seqres",
             str(templates / "pdb_seqres" / "pdb_seqres.txt"),
             "--output", str(tmp_path / "out" / "RAW.npz"), *extra]
    got, _, err = _run(argv, capsys)
    assert got == code
    assert err.splitlines()[-1] == "folding: error: " + message.format(
        fasta=fasta, shared=shared_data)
    assert _nothing_written(tmp_path / "out")


def test_bad_options(shared_data, tmp_path, capsys):
    fasta = _fasta(tmp_path, f">x\n{PARR}\n")
    folder = str(shared_data / "alignments" / "2q2k" / "2q2k_A")
    seqres = str(shared_data / "templates" / "pdb_seqres" / "pdb_seqres.txt")
    base = ["features", "--fasta", str(fasta), "--chain-msa-dir", folder, "--output",
            str(tmp_path / "out" / "RAW.npz"), "--pdb-seqres", seqres]
    cases = [
        (base, "templates need --template-mmcif-dir and --max-template-date (or pass "
               "--no-templates)", 2),
        ([*base, "--template-mmcif-dir", str(tmp_path), "--max-template-date", "2022-01-01"],
         f"template mmCIF folder {tmp_path} has no .cif files; give the pdb_mmcif/mmcif_files "
         "folder of the template database", 3),
        ([*base, "--template-mmcif-dir", folder, "--max-template-date", "1 Jan 2022"],
         "--max-template-date '1 Jan 2022' is not a date; give it as YYYY-MM-DD", 2),
        ([*base, "--template-mmcif-dir", folder, "--max-template-date", "2022-01-01",
          "--pdb-seqres", str(tmp_path / "seqres.txt")],
         f"pdb_seqres file {tmp_path / 'seqres.txt'} not found; give the template database's "
         "pdb_seqres/pdb_seqres.txt", 3),
        (["features", "--fasta", str(tmp_path / "none.fasta"), "--chain-msa-dir", folder,
          "--no-templates", "--output", str(tmp_path / "out" / "RAW.npz")],
         f"--fasta {tmp_path / 'none.fasta'} not found; give the complex's FASTA file", 2),
    ]
    for argv, message, code in cases:
        got, _, err = _run(argv, capsys)
        assert (got, err.splitlines()[-1]) == (code, f"folding: error: {message}")
    assert _nothing_written(tmp_path / "out")


def test_alignment_of_another_chain_writes_nothing(shared_data, tmp_path, capsys):
    fasta = _fasta(tmp_path, f">swapped\n{PARR}:{A0A024R1R8}\n")
    code, _, err = _run(["features", "--fasta", str(fasta),
                         "--chain-msa-dir", str(shared_data / "alignments" / "A0A024R1R8"),
                         "--chain-msa-dir", str(shared_data / "alignments" / "2q2k" / "2q2k_A"),
                         "--no-templates", "--output", str(tmp_path / "out" / "RAW.npz")],
                        capsys)
    assert code == 2 and "belongs to another target" in err.splitlines()[-1]
    assert _nothing_written(tmp_path / "out")
