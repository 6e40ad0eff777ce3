"""MMseqs2 as colabfold_search runs it, on ColabFold-layout databases built from real sequences."""

from __future__ import annotations

import json
import shutil

import pytest

from folding.cli import main
from folding.data.parsers import parse_a3m, parse_fasta, split_a3m_queries
from folding.data.tools import mmseqs as mm
from folding.errors import MissingResourceError

pytestmark = pytest.mark.skipif(shutil.which("mmseqs") is None, reason="mmseqs is not installed")


def _write(path, records):
    path.write_text("".join(f">{r.description}\n{r.sequence}\n" for r in records))
    return path


@pytest.fixture(scope="module")
def databases(shared_data, tmp_path_factory):
    """'UniRef30': 20 globins + 150 hemopexin domains; 'env': 25 other globins + 50 fibers."""
    folder = tmp_path_factory.mktemp("mmdb")
    seqs = shared_data / "sequences"
    globins = parse_fasta((seqs / "globins45.fa").read_text())
    hemopexin = parse_fasta((seqs / "hemopexin.faa").read_text())[:150]
    fibers = parse_fasta((seqs / "adeno_fiber.faa").read_text())[:50]
    uniref = mm.build_colabfold_database(_write(folder / "u.fasta", globins[:20] + hemopexin),
                                         folder / "uniref_db", threads=2)
    env = mm.build_colabfold_database(_write(folder / "e.fasta", globins[20:] + fibers),
                                      folder / "env_db", threads=2)
    return uniref, env, {g.name for g in globins[:20]}, {g.name for g in globins[20:]}


@pytest.mark.slow  # building the two databases takes 20-40 s on 2 cores
def test_colabfold_search_both_databases(shared_data, databases, tmp_path):
    uniref, env, uniref_globins, env_globins = databases
    report = mm.run_colabfold_search(shared_data / "sequences/HBB_HUMAN", uniref, env,
                                     tmp_path, threads=2)
    assert report.version.startswith("MMseqs2 ")
    assert any(" expandaln " in c for c in report.commands)
    hbb = parse_fasta((shared_data / "sequences/HBB_HUMAN").read_text())[0].sequence
    text = report.uniref_a3m.read_text()
    assert text.endswith("\x00") and len(split_a3m_queries(text)) == 1  # ColabFold's format
    for path, expected in ((report.uniref_a3m, uniref_globins), (report.env_a3m, env_globins)):
        msa = parse_a3m(path.read_text())
        assert msa.query == hbb
        hits = {d.split()[0] for d in msa.descriptions[1:]}
        assert hits and hits <= expected  # only globins, and only this database's
        assert len(hits) >= len(expected) // 2


@pytest.mark.slow
def test_search_cli_mmseqs2(shared_data, databases, tmp_path, capsys):
    uniref, env, _, _ = databases
    out = tmp_path / "msas"
    code = main(["search", "--tool", "mmseqs2", "--query", str(shared_data / "queries/ubq.fasta"),
                 "--database", str(uniref), "--env-database", str(env), "--output-dir", str(out),
                 "--threads", "2"])
    assert code == 0, capsys.readouterr().err
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["uniref.a3m", "uniref.a3m.json", mm.ENV_A3M, mm.ENV_A3M + ".json"])
    record = json.loads((out / "uniref.a3m.json").read_text())
    assert record["tool"] == "mmseqs2" and record["rows"] >= 1  # ubiquitin: query only
    assert record["databases"] == {"uniref": str(uniref), "env": str(env)}


def test_incomplete_database(shared_data, tmp_path, capsys):
    with pytest.raises(MissingResourceError, match="is incomplete"):
        mm.run_colabfold_search(shared_data / "sequences/HBB_HUMAN", tmp_path / "nothing", None,
                                tmp_path / "w")
    code = main(["search", "--tool", "mmseqs2", "--query", str(shared_data / "sequences/HBB_HUMAN"),
                 "--database", str(tmp_path / "nothing"), "--output-dir", str(tmp_path / "o")])
    assert code == 3
    assert capsys.readouterr().err.startswith(f"folding: error: MMseqs2 database {tmp_path}")
    assert not any((tmp_path / "o").glob("*.a3m"))
