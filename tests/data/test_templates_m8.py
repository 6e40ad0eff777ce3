"""Templates for ColabFold-style inputs, on the real P61626 ColabFold server result.

* ``pdb70.m8`` is read; its first 20 hit lines name exactly the 20 entries of the
  server's ``templates_101/``.
* ColabFold's template search (hhsearch of the joined A3Ms against those templates) finds
  the 20 lysozymes, with the server's HH-suite database or with one built from a local
  mmCIF folder, and ``folding templates featurise --hits pdb70.m8`` turns them into
  templates; the hits equal the reference's ``HHSearch`` wrapper on the same input.
* Template search from A3M MSAs: hhsearch takes the joined A3M; hmmsearch takes it
  converted to Stockholm with a ``#=GC RF`` line, and finds the lysozymes of the
  template database's ``pdb_seqres.txt``.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pytest

from folding.data.features import load_raw_npz
from folding.data.parsers.a3m import a3m_to_stockholm, concatenate_a3m, parse_a3m
from folding.data.parsers.stockholm import parse_stockholm
from folding.data.templates.hits import parse_hhr, parse_hmmsearch_sto
from folding.data.templates.m8 import build_template_database, parse_m8, read_m8, template_ids
from folding.data.templates.search import search_m8_templates
from folding.errors import InputError

FOLDER = "alignments/P61626_colabfold"
ENV = "bfd.mgnify30.metaeuk30.smag30.a3m"
SEQRES = "templates/pdb_seqres/pdb_seqres.txt"
MMCIFS = "templates/pdb_mmcif/mmcif_files"
#: Lysozyme C entries of the template database (human, hen, mutants).
LYSOZYMES = {"133l", "1cj6", "1ckd", "1di3", "1gb5", "1gb7", "1gb8", "1gfr", "1i1z", "1i20",
             "1i22", "1lhh", "1lhl", "1tdy", "1ubz", "1wqn", "1wqo", "1yan", "3lhm", "3ln2",
             "1aki", "2axd"}


def _needs(*programs: str) -> None:
    for program in programs:
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed")


def _msas(shared_data):
    return [shared_data / FOLDER / "uniref.a3m", shared_data / FOLDER / ENV]


def test_m8_and_the_templates_it_names(shared_data):
    hits = read_m8(shared_data / FOLDER / "pdb70.m8")
    assert len(hits) == 293 and {h.query for h in hits} == {"101"}
    first = hits[0]
    assert (first.target, first.identity, first.alignment_length) == ("3lhm_A", 0.984, 130)
    assert (first.query_start, first.query_end, first.target_start, first.target_end) == \
        (19, 148, 1, 130)
    assert first.evalue == pytest.approx(1.659e-62) and first.cigar == "130M"
    ids = template_ids(hits)
    cifs = {p.stem for p in (shared_data / FOLDER / "templates_101").glob("*.cif")}
    assert len(ids) == 20 and {i.split("_")[0] for i in ids} == cifs
    assert template_ids(hits, "102") == ()
    assert read_m8(shared_data / "alignments/A0A024R1R8_colabfold/pdb70.m8") == []


def test_bad_m8_is_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="line 2: 3 columns, an m8 hit line has 12 or 13"):
        parse_m8("101\t1abc_A\t0.5\t10\t1\t0\t1\t10\t1\t10\t1e-5\t30\n101 x 1\n", "x.m8")
    with pytest.raises(InputError, match=r"x\.m8 line 1: could not convert"):
        parse_m8("101\t1abc_A\tzero\t10\t1\t0\t1\t10\t1\t10\t1e-5\t30\n", "x.m8")
    with pytest.raises(InputError, match=r"not found; give ColabFold's pdb70\.m8"):
        read_m8(tmp_path / "pdb70.m8")


def test_a3m_to_stockholm_keeps_rows_and_deletions():
    a3m = ">q desc\nMKVALA\n>h1 x\nMaaKVAcLA\n>h2\n-K-VLAgg\n>q\nMKVALA\n\x00"
    sto = a3m_to_stockholm(a3m)
    lines = sto.splitlines()
    assert lines[0] == "# STOCKHOLM 1.0" and lines[-1] == "//"
    rf = next(line for line in lines if line.startswith("#=GC RF")).split()[-1]
    assert rf == "x..xxx.xx.."
    assert next(line for line in lines if line.startswith("h1 ")).split()[-1] == "MaaKVAcLA--"
    assert next(line for line in lines if line.startswith("h2 ")).split()[-1] == "---K-V-LAgg"
    assert "#=GS h1 DE x" in lines and any(line.startswith("q_3 ") for line in lines)
    ours, reference = parse_stockholm(sto), parse_a3m(a3m)
    assert ours.sequences == reference.sequences
    assert np.array_equal(ours.deletion_matrix, reference.deletion_matrix)


def test_a3m_to_stockholm_on_the_real_msas(shared_data):
    a3m = concatenate_a3m([p.read_text() for p in _msas(shared_data)])
    assert a3m.count(">") == 3922 + 1245 and "\x00" not in a3m
    msa = parse_stockholm(a3m_to_stockholm(a3m, 600))
    reference = parse_a3m(a3m).truncate(600)
    assert msa.sequences == reference.sequences
    assert np.array_equal(msa.deletion_matrix, reference.deletion_matrix)


@pytest.mark.parametrize("server_database", [True, False])
def test_m8_search_finds_the_lysozymes(shared_data, tmp_path, server_database):
    _needs("hhsearch")
    mmcifs = shared_data / (f"{FOLDER}/templates_101" if server_database else MMCIFS)
    result = search_m8_templates(shared_data / FOLDER / "pdb70.m8", _msas(shared_data),
                                 mmcifs, cpus=2)
    hits = parse_hhr(result.text)
    assert result.tool == "hhsearch" and result.version and len(result.templates) == 20
    assert result.num_hits == len(hits) >= 20
    assert {hit.name[:4] for hit in hits} <= LYSOZYMES
    assert all(hit.sum_probs > 100 and hit.aligned_cols >= 129 for hit in hits)
    if not server_database:  # every protein chain of the named entries: 1i22 has four
        assert {hit.name.split()[0] for hit in hits} >= {"1i22_A", "1i22_B", "1i22_C", "1i22_D"}


def test_built_database_lists_every_protein_chain(shared_data, tmp_path):
    names = build_template_database(shared_data / MMCIFS, ["1i22_B", "3lhm_A", "9xyz_A"],
                                    tmp_path / "pdb70")
    assert names == ("1i22_A", "1i22_B", "1i22_C", "1i22_D", "3lhm_A")
    index = (tmp_path / "pdb70_a3m.ffindex").read_text().splitlines()
    data = (tmp_path / "pdb70_a3m.ffdata").read_bytes()
    name, offset, length = index[-1].split("\t")
    record = data[int(offset):int(offset) + int(length)]
    assert name == "3lhm_A" and record.startswith(b">3lhm_A\nKVFERCELARTLKRLGMDGYRG")
    assert record.endswith(b"\n\0") and (tmp_path / "pdb70_cs219.ffdata").stat().st_size == 0


@pytest.mark.reference
def test_m8_search_equals_the_reference_hhsearch(shared_data):
    _needs("hhsearch")
    af_hhsearch = pytest.importorskip("alphafold.data.tools.hhsearch")
    database = shared_data / FOLDER / "templates_101"
    ours = search_m8_templates(shared_data / FOLDER / "pdb70.m8", _msas(shared_data), database)
    a3m = "".join(p.read_text().replace("\x00", "") for p in _msas(shared_data))
    reference = af_hhsearch.HHSearch(binary_path=shutil.which("hhsearch"),
                                     databases=[str(database / "pdb70")]).query(a3m)
    assert parse_hhr(ours.text) == parse_hhr(reference)


def test_featurise_m8_with_a_local_pdb(shared_data, tmp_path, venv_bin):
    _needs("hhsearch")
    m8 = str(shared_data / FOLDER / "pdb70.m8")
    output, summary = tmp_path / "t.npz", tmp_path / "t.json"
    msas = [arg for path in _msas(shared_data) for arg in ("--msa", str(path))]
    done = subprocess.run(
        [str(venv_bin / "folding"), "templates", "featurise", "--fasta",
         str(shared_data / "queries/P61626.fasta"), "--hits", m8,
         *msas, "--mmcif-dir", str(shared_data / MMCIFS), "--max-template-date", "2100-01-01",
         "--output", str(output), "--summary", str(summary)],
        capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    raw = load_raw_npz(output)
    names = [n.decode() for n in raw["template_domain_names"]]
    assert len(names) == 20 and {n[:4] for n in names} <= LYSOZYMES
    assert json.loads(summary.read_text())["search"] == "hhsearch"
    missing = subprocess.run(
        [str(venv_bin / "folding"), "templates", "featurise", "--fasta",
         str(shared_data / "queries/P61626.fasta"), "--hits", m8,
         "--mmcif-dir", str(shared_data / MMCIFS), "--max-template-date", "2100-01-01",
         "--output", str(tmp_path / "u.npz")], capture_output=True, text=True, check=False)
    assert missing.returncode == 2 and "give the A3M files" in missing.stderr
    assert not (tmp_path / "u.npz").exists()


@pytest.mark.parametrize("tool", ["hmmsearch", "hhsearch"])
def test_template_search_from_a3m_msas(shared_data, tmp_path, venv_bin, tool):
    _needs("hhsearch" if tool == "hhsearch" else "hmmbuild")
    database = shared_data / (SEQRES if tool == "hmmsearch" else f"{FOLDER}/templates_101/pdb70")
    output = tmp_path / ("pdb_hits.sto" if tool == "hmmsearch" else "pdb_hits.hhr")
    msas = [arg for path in _msas(shared_data) for arg in ("--msa", str(path))]
    done = subprocess.run([str(venv_bin / "folding"), "templates", "search", *msas, "--tool",
                           tool, "--database", str(database), "--output", str(output)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    text = output.read_text()
    query = parse_a3m((shared_data / FOLDER / "uniref.a3m").read_text()).query
    hits = parse_hmmsearch_sto(text, query) if tool == "hmmsearch" else parse_hhr(text)
    assert len(hits) >= 20 and {hit.name[:4] for hit in hits} <= LYSOZYMES
    record = json.loads(output.with_name(output.name + ".json").read_text())
    assert record["hits"] == len(hits) and ENV in record["query_msa"]


def test_mixed_msa_formats_are_refused(shared_data, tmp_path, venv_bin):
    done = subprocess.run([str(venv_bin / "folding"), "templates", "search", "--msa",
                           str(shared_data / "alignments/P61626/uniref90_hits.sto"), "--msa",
                           str(shared_data / FOLDER / "uniref.a3m"), "--tool", "hmmsearch",
                           "--database", str(shared_data / SEQRES), "--output",
                           str(tmp_path / "pdb_hits.sto")], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 2 and "give one Stockholm" in done.stderr
    assert not (tmp_path / "pdb_hits.sto").exists()
