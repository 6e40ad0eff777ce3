"""Template search for real: hmmsearch against pdb_seqres, hhsearch against a PDB70.

* The query prepared from ``uniref90_hits.sto`` equals the reference's preparation.
* hmmsearch in process (pyhmmer) writes what the HMMER programs write (all but the
  ``#=GF AU`` line naming the program), and what the reference's ``Hmmsearch`` wrapper
  returns, on the real UniRef90 alignments of the three targets.
* P61626 (human lysozyme) against the template database's ``pdb_seqres.txt`` finds the
  lysozyme entries, and ``folding templates featurise`` turns them into templates.
* hhsearch against the real PDB70 (ffindex) of ``P61626_colabfold/templates_101`` finds
  the 20 lysozymes it holds, as the reference's ``HHSearch`` wrapper does.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from folding.data.features import load_raw_npz
from folding.data.parsers.stockholm import stockholm_to_a3m
from folding.data.templates.hits import parse_hhr, parse_hmmsearch_sto
from folding.data.templates.search import template_query
from folding.data.tools.hmmsearch import Hmmsearch, HmmsearchPrograms

TARGETS = ("A0A024R1R8", "P61626", "openfold_short")
SEQRES = "templates/pdb_seqres/pdb_seqres.txt"
PDB70 = "alignments/P61626_colabfold/templates_101/pdb70"


def _without_author(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if not line.startswith("#=GF AU"))


def _needs(*programs: str) -> None:
    for program in programs:
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed")


@pytest.mark.reference
def test_query_preparation_equals_reference(shared_data):
    af_parsers = pytest.importorskip("alphafold.data.parsers")
    path = shared_data / "alignments/P61626/uniref90_hits.sto"
    ours = template_query(path)
    ref = af_parsers.truncate_stockholm_msa(str(path), 10_000)
    ref = af_parsers.remove_empty_columns_from_stockholm_msa(
        af_parsers.deduplicate_stockholm_msa(ref))
    assert ours == ref
    assert stockholm_to_a3m(ours) == af_parsers.convert_stockholm_to_a3m(ref)


@pytest.mark.parametrize("target", TARGETS)
def test_pyhmmer_equals_hmmer_programs(shared_data, target):
    _needs("hmmbuild", "hmmsearch")
    query = template_query(shared_data / "alignments" / target / "uniref90_hits.sto")
    in_process = Hmmsearch.locate(shared_data / SEQRES).search(query)
    programs = HmmsearchPrograms.locate(shared_data / SEQRES).search(query)
    assert _without_author(in_process) == _without_author(programs)
    assert "#=GF AU" in programs and "#=GF AU" not in in_process


@pytest.mark.reference
@pytest.mark.parametrize("target", TARGETS)
def test_hmmsearch_equals_reference_wrapper(shared_data, target):
    _needs("hmmbuild", "hmmsearch")
    af_hmmsearch = pytest.importorskip("alphafold.data.tools.hmmsearch")
    query = template_query(shared_data / "alignments" / target / "uniref90_hits.sto")
    ref = af_hmmsearch.Hmmsearch(binary_path=shutil.which("hmmsearch"),
                                 hmmbuild_binary_path=shutil.which("hmmbuild"),
                                 database_path=str(shared_data / SEQRES)).query(query)
    ours = Hmmsearch.locate(shared_data / SEQRES).search(query)
    assert _without_author(ours) == _without_author(ref)


def test_lysozyme_search_and_featurisation(shared_data, tmp_path, venv_bin):
    """The real search check: P61626 finds and featurises the lysozyme entries."""
    folding = str(venv_bin / "folding")
    hits = tmp_path / "pdb_hits.sto"
    subprocess.run([folding, "templates", "search", "--msa",
                    str(shared_data / "alignments/P61626/uniref90_hits.sto"), "--tool",
                    "hmmsearch", "--database", str(shared_data / SEQRES), "--output",
                    str(hits)], check=True, capture_output=True)
    record = json.loads((tmp_path / "pdb_hits.sto.json").read_text())
    assert record["tool"] == "hmmsearch" and record["hits"] == 27
    query = "".join((shared_data / "queries/P61626.fasta").read_text().splitlines()[1:])
    found = parse_hmmsearch_sto(hits.read_text(), query)
    lysozymes = {"133l", "1lhl", "1lhh", "1tdy", "3lhm", "1i22", "1di3", "1i20", "1i1z",
                 "1ckd", "1cj6", "1gb5", "1gb7", "1gb8", "1gfr", "1ubz", "1wqn", "1wqo",
                 "1yan", "3ln2", "1aki"}
    assert lysozymes <= {hit.name[:4] for hit in found}
    assert found[0].name[:4] in lysozymes and found[0].aligned_cols >= 129

    features = tmp_path / "templates.npz"
    summary = tmp_path / "templates.json"
    done = subprocess.run([folding, "templates", "featurise", "--fasta",
                           str(shared_data / "queries/P61626.fasta"), "--hits", str(hits),
                           "--mmcif-dir", str(shared_data / "templates/pdb_mmcif/mmcif_files"),
                           "--max-template-date", "2022-01-01", "--output", str(features),
                           "--summary", str(summary)], check=True, capture_output=True,
                          text=True)
    assert done.stdout.startswith("20 templates: ")
    raw = load_raw_npz(features)
    names = [name.decode() for name in raw["template_domain_names"]]
    assert len(names) == 20 and {name[:4] for name in names} <= lysozymes
    # Human lysozymes cover the mature chain (query residues 19-148) with all backbone atoms.
    masks = raw["template_all_atom_masks"]
    assert masks.shape == (20, 148, 37) and masks[:, 18:, :4].mean() > 0.95
    assert not masks[:, :18].any()
    report = json.loads(summary.read_text())
    assert len(report["templates"]) == 20 and report["search"] == "hmmsearch"
    assert all(s["kind"] in {"prefilter", "warning", "error"} for s in report["skipped"])


@pytest.mark.reference
def test_hhsearch_on_a_real_pdb70(shared_data, tmp_path, venv_bin):
    _needs("hhsearch")
    af_hhsearch = pytest.importorskip("alphafold.data.tools.hhsearch")
    msa = shared_data / "alignments/P61626/uniref90_hits.sto"
    hits = tmp_path / "pdb_hits.hhr"
    subprocess.run([str(venv_bin / "folding"), "templates", "search", "--msa", str(msa),
                    "--tool", "hhsearch", "--database", str(shared_data / PDB70),
                    "--output", str(hits)], check=True, capture_output=True)
    ours = parse_hhr(hits.read_text())
    a3m = stockholm_to_a3m(template_query(msa))
    ref = af_hhsearch.HHSearch(binary_path=shutil.which("hhsearch"),
                               databases=[str(shared_data / PDB70)]).query(a3m)
    assert ours == parse_hhr(ref)
    assert len(ours) == 20 and all(hit.sum_probs > 100 for hit in ours)
    features = tmp_path / "t.npz"
    subprocess.run([str(venv_bin / "folding"), "templates", "featurise", "--fasta",
                    str(shared_data / "queries/P61626.fasta"), "--hits", str(hits),
                    "--mmcif-dir", str(shared_data / "alignments/P61626_colabfold/templates_101"),
                    "--max-template-date", "2022-01-01", "--output", str(features)],
                   check=True, capture_output=True)
    raw = load_raw_npz(features)
    assert raw["template_aatype"].shape == (20, 148, 22)
    assert np.all(raw["template_sum_probs"][:, 0] > 100)


@pytest.mark.parametrize("argv, status, message", [
    (["--tool", "hmmsearch", "--database", "{tmp}/missing.txt"], 3, "database"),
    (["--tool", "hhsearch", "--database", "{tmp}/pdb70"], 3, "HH-suite database"),
])
def test_search_errors_are_one_line_without_output(shared_data, tmp_path, venv_bin, argv,
                                                   status, message):
    output = tmp_path / "out" / "pdb_hits.sto"
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    done = subprocess.run(
        [str(venv_bin / "folding"), "templates", "search", "--msa",
         str(shared_data / "alignments/P61626/uniref90_hits.sto"), *argv, "--output",
         str(output)], capture_output=True, text=True, check=False)
    assert done.returncode == status, done.stderr
    assert message in done.stderr and done.stderr.count("\n") == 1
    assert not output.exists()


def test_featurise_errors(shared_data, tmp_path, venv_bin):
    base = [str(venv_bin / "folding"), "templates", "featurise", "--fasta",
            str(shared_data / "queries/P61626.fasta"), "--hits",
            str(shared_data / "alignments/P61626/pdb_hits.sto"), "--output",
            str(tmp_path / "t.npz")]
    bad_date = subprocess.run([*base, "--mmcif-dir", str(shared_data / "templates"),
                               "--max-template-date", "01/02/2021"],
                              capture_output=True, text=True, check=False)
    assert bad_date.returncode == 2 and "YYYY-MM-DD" in bad_date.stderr
    no_cifs = subprocess.run([*base, "--mmcif-dir", str(tmp_path), "--max-template-date",
                              "2021-01-01"], capture_output=True, text=True, check=False)
    assert no_cifs.returncode == 3 and "no .cif files" in no_cifs.stderr
    assert not (tmp_path / "t.npz").exists()
