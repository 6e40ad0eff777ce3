"""hhblits on real HH-suite databases built from real sequences with HH-suite's own tools."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from folding.cli import main
from folding.data.parsers import parse_a3m, parse_fasta
from folding.data.tools import hhblits as hh
from folding.errors import MissingResourceError, ToolError

pytestmark = pytest.mark.skipif(
    shutil.which("hhblits") is None or shutil.which("ffindex_from_fasta") is None,
    reason="HH-suite (hhblits, ffindex) is not installed",
)


@pytest.fixture(scope="module")
def databases(shared_data, tmp_path_factory):
    """Two tiny HH-suite databases: the 45 globins ("BFD") and 40 hemopexin domains."""
    folder = tmp_path_factory.mktemp("hhdb")
    hemopexin = parse_fasta((shared_data / "sequences/hemopexin.faa").read_text())[:40]
    subset = folder / "hemopexin40.fasta"
    subset.write_text("".join(f">{r.description}\n{r.sequence}\n" for r in hemopexin))
    bfd = hh.build_hhsuite_database(shared_data / "sequences/globins45.fa", folder / "globins")
    uniref = hh.build_hhsuite_database(subset, folder / "hemopexin")
    return bfd, uniref


def test_database_layout(databases):
    bfd, _ = databases
    for part in ("a3m", "cs219"):
        index = bfd.parent / f"{bfd.name}_{part}.ffindex"
        assert len(index.read_text().splitlines()) == 45
    hh.check_database(bfd)


def test_hhblits_finds_globins(shared_data, databases, tmp_path):
    out = tmp_path / "out.a3m"
    report = hh.run_hhblits(shared_data / "sequences/HBB_HUMAN", databases, out, threads=2)
    assert report.version.startswith("HHblits 3")
    assert report.command.split()[1:] == hh.hhblits_argv(
        "x", shared_data / "sequences/HBB_HUMAN", databases, out, hh.HHblitsSettings(), 2)[1:]
    msa = parse_a3m(out.read_text())
    hbb = parse_fasta((shared_data / "sequences/HBB_HUMAN").read_text())[0].sequence
    assert msa.query == hbb
    globins = {r.name for r in parse_fasta((shared_data / "sequences/globins45.fa").read_text())}
    hits = {d.split()[0] for d in msa.descriptions[1:]}
    assert len(hits) >= 20 and hits <= globins


def test_search_cli_writes_alphafolds_file(shared_data, databases, tmp_path, capsys):
    out = tmp_path / "msas"
    args = ["search", "--tool", "hhblits", "--query", str(shared_data / "sequences/HBB_HUMAN"),
            "--database", str(databases[0]), "--database", str(databases[1]),
            "--db-name", "bfd_uniref", "--output-dir", str(out), "--threads", "2"]
    assert main(args) == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == [
        "bfd_uniref_hits.a3m", "bfd_uniref_hits.a3m.json"]
    record = json.loads((out / "bfd_uniref_hits.a3m.json").read_text())
    assert record["tool"] == "hhblits" and record["rows"] >= 21
    assert record["databases"] == [str(d) for d in databases]


@pytest.mark.reference
def test_arguments_match_alphafolds_wrapper(shared_data, databases, tmp_path, monkeypatch):
    """The reference's HHBlits wrapper would run exactly our argument list."""
    af_hhblits = pytest.importorskip("alphafold.data.tools.hhblits")
    seen = {}

    class StopError(Exception):
        pass

    def fake_popen(cmd, **kwargs):
        seen["cmd"] = cmd
        raise StopError

    monkeypatch.setattr(af_hhblits.subprocess, "Popen", fake_popen)
    runner = af_hhblits.HHBlits(binary_path="hhblits", databases=[str(d) for d in databases],
                                n_cpu=2)
    with pytest.raises(StopError):
        runner.query(str(shared_data / "sequences/HBB_HUMAN"))
    theirs = seen["cmd"]
    ours = hh.hhblits_argv("hhblits", shared_data / "sequences/HBB_HUMAN", databases,
                           "OUT", hh.HHblitsSettings(), 2)
    out_index = theirs.index("-oa3m") + 1
    assert ours[:out_index] + ours[out_index + 1:] == theirs[:out_index] + theirs[out_index + 1:]


def test_errors(shared_data, databases, tmp_path):
    with pytest.raises(MissingResourceError, match=r"HH-suite database .*nowhere not found"):
        hh.run_hhblits(shared_data / "sequences/HBB_HUMAN", [tmp_path / "nowhere"],
                       tmp_path / "x.a3m")
    broken = tmp_path / "broken"
    (tmp_path / "broken_a3m.ffdata").write_text("")
    with pytest.raises(MissingResourceError, match=r"lacks .*broken_a3m\.ffindex"):
        hh.run_hhblits(shared_data / "sequences/HBB_HUMAN", [broken], tmp_path / "x.a3m")
    bad_query = tmp_path / "q.fasta"
    bad_query.write_text("not a sequence file at all\x00\n")
    with pytest.raises(ToolError, match="hhblits failed with exit status"):
        hh.run_hhblits(bad_query, databases, tmp_path / "x.a3m")
    assert not (tmp_path / "x.a3m").exists()
    with pytest.raises(MissingResourceError, match="/nonexistent/hhblits is not an executable"):
        hh.run_hhblits(shared_data / "sequences/HBB_HUMAN", databases, tmp_path / "x.a3m",
                       binary="/nonexistent/hhblits")


def test_builder_reports_missing_fasta(tmp_path):
    with pytest.raises(MissingResourceError, match=r"FASTA file .*missing\.fa not found"):
        hh.build_hhsuite_database(tmp_path / "missing.fa", tmp_path / "db")
    done = subprocess.run(["hhblits", "-h"], capture_output=True, text=True)
    assert "HHblits" in done.stdout + done.stderr
