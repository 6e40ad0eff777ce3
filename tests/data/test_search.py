"""`folding search`: AlphaFold's file names, truncation and settings; clean failures."""

from __future__ import annotations

import json
import shutil

import pytest

from folding.cli import main
from folding.data.parsers import parse_stockholm, truncate_stockholm
from folding.data.search import OUTPUTS, output_path
from folding.data.tools.jackhmmer import JackhmmerSettings, run_jackhmmer


@pytest.fixture(scope="module")
def hemopexin_query(shared_data, tmp_path_factory):
    path = tmp_path_factory.mktemp("q") / "hpx.fasta"
    path.write_text(">" + (shared_data / "sequences/hemopexin.faa").read_text().split(">")[1])
    return path


def _search(*args: str) -> list[str]:
    return ["search", "--tool", "jackhmmer", *args]


def test_uniref90_file_and_record(shared_data, tmp_path, capsys):
    out = tmp_path / "msas"
    query, db = shared_data / "sequences/HBB_HUMAN", shared_data / "sequences/globins45.fa"
    code = main(_search("--query", str(query), "--database", str(db), "--db-name", "uniref90",
                        "--output-dir", str(out), "--threads", "2"))
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["uniref90_hits.sto", "uniref90_hits.sto.json"]
    text = (out / "uniref90_hits.sto").read_text()
    raw = tmp_path / "raw.sto"
    run_jackhmmer(query, db, raw, JackhmmerSettings())
    assert text == truncate_stockholm(raw, 10_000)  # what AlphaFold writes for uniref90
    record = json.loads((out / "uniref90_hits.sto.json").read_text())
    assert record["rows"] == 46 and record["max_hits"] == 10_000 and record["threads"] == 2
    assert record["settings"]["e_value"] == 1e-4 and record["settings"]["filter_f3"] == 5e-7
    assert record["database_sequences"] == 45
    assert "--F1 0.0005 --F2 5e-05 --F3 5e-07 --incE 0.0001 -E 0.0001" in (
        record["equivalent_command"])


def test_default_and_explicit_truncation(shared_data, hemopexin_query, tmp_path, capsys):
    db = shared_data / "sequences/hemopexin.faa"
    out = tmp_path / "msas"
    for db_name, extra, rows in (("mgnify", [], 501), ("uniref90", ["--max-hits", "10"], 10),
                                 ("small_bfd", [], None)):
        code = main(_search("--query", str(hemopexin_query), "--database", str(db),
                            "--db-name", db_name, "--output-dir", str(out), "--iterations", "2",
                            *extra))
        assert code == 0, capsys.readouterr().err
        msa = parse_stockholm((out / OUTPUTS[db_name].file_name).read_text())
        if rows is None:
            assert len(msa) > 3000  # small_bfd keeps every hit
        else:
            assert len(msa) == rows
    assert output_path(out, "mgnify") == out / "mgnify_hits.sto"


@pytest.mark.reference
@pytest.mark.skipif(shutil.which("jackhmmer") is None, reason="no jackhmmer binary")
def test_same_file_as_alphafolds_jackhmmer_wrapper(shared_data, hemopexin_query, tmp_path):
    """AlphaFold's Jackhmmer wrapper (HMMER binary + truncation) writes exactly our file."""
    af_jackhmmer = pytest.importorskip("alphafold.data.tools.jackhmmer")
    db = tmp_path / "db.fasta"
    db.write_text("".join((shared_data / f"sequences/{n}").read_text()
                          for n in ("globins45.fa", "hemopexin.faa", "adeno_fiber.faa")))
    runner = af_jackhmmer.Jackhmmer(binary_path=shutil.which("jackhmmer"),
                                    database_path=str(db), n_cpu=2)
    theirs = runner.query(str(hemopexin_query), max_sequences=501)[0]["sto"]
    out = tmp_path / "msas"
    assert main(_search("--query", str(hemopexin_query), "--database", str(db), "--db-name",
                        "mgnify", "--output-dir", str(out), "--threads", "2")) == 0
    ours = (out / "mgnify_hits.sto").read_text()
    assert len(parse_stockholm(ours)) > 100
    assert ours == theirs


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--db-name", "bfd_uniref"], 2,
         "--db-name bfd_uniref is searched with hhblits, not jackhmmer; pick the matching --tool"),
        ([], 2, "--tool jackhmmer needs --db-name (e.g. uniref90)"),
        (["--db-name", "uniref90", "--threads", "0"], 2, "--threads must be at least 1, not 0"),
        (["--db-name", "uniref90", "--max-hits", "-5"], 2,
         "--max-hits must be positive (or 0 for all), not -5"),
        (["--db-name", "uniref90", "--database", "{db}"], 2,
         "--tool jackhmmer searches one --database per call"),
    ],
)
def test_bad_options(shared_data, tmp_path, capsys, args, code, message):
    db = shared_data / "sequences/globins45.fa"
    argv = _search("--query", str(shared_data / "sequences/HBB_HUMAN"), "--database", str(db),
                   "--output-dir", str(tmp_path / "o"), *[a.format(db=db) for a in args])
    assert main(argv) == code
    assert capsys.readouterr().err.splitlines()[-1] == f"folding: error: {message}"
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_bad_query_and_database(shared_data, tmp_path, capsys):
    out = tmp_path / "o"
    two = tmp_path / "two.fasta"
    two.write_text(">a\nMKVL\n>b\nMKVL\n")
    db = shared_data / "sequences/globins45.fa"
    assert main(_search("--query", str(two), "--database", str(db), "--db-name", "uniref90",
                        "--output-dir", str(out))) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"folding: error: query {two} must hold exactly one non-empty sequence (it holds 2 "
        "records); give the per-target FASTA 'folding inputs check' writes")
    missing = tmp_path / "uniref90.fasta"
    assert main(_search("--query", str(shared_data / "sequences/HBB_HUMAN"), "--database",
                        str(missing), "--db-name", "uniref90", "--output-dir", str(out))) == 3
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"folding: error: sequence database {missing} not found; build or download it "
        "(folding databases)")
    assert not out.exists() or list(out.iterdir()) == []  # no output, no temporary folder
    assert main(["search", "--tool", "server", "--query", str(two), "--output-dir",
                 str(out)]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        "folding: error: --tool server needs --server-url URL (the MSA server's address)")
