"""jackhmmer through pyhmmer: known answers on real data, and the HMMER binary's own output."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from folding.data.parsers import parse_stockholm, stockholm_rows
from folding.data.tools import jackhmmer as jh
from folding.data.tools import sequence_db
from folding.errors import InputError, MissingResourceError

NEEDS_BINARY = pytest.mark.skipif(shutil.which("jackhmmer") is None,
                                  reason="HMMER's jackhmmer binary is not installed")


def _names(path) -> set[str]:
    return set(stockholm_rows(path.read_text()))


def _alignment_lines(path) -> list[str]:
    """The file without its #=GF lines (they name the program that wrote it)."""
    return [line for line in path.read_text().splitlines() if not line.startswith("#=GF")]


@pytest.fixture(scope="module")
def hbb_query(shared_data):
    return shared_data / "sequences/HBB_HUMAN"


@pytest.fixture(scope="module")
def luxc_query(shared_data, tmp_path_factory):
    text = (shared_data / "sequences/LuxC.faa").read_text()
    records = [">" + r for r in text.split(">") if r]
    path = tmp_path_factory.mktemp("luxc") / "p12748.fasta"
    path.write_text(next(r for r in records if "P12748" in r.splitlines()[0]))
    return path


def test_hbb_human_finds_all_45_globins(shared_data, hbb_query, tmp_path):
    out = tmp_path / "hbb.sto"
    report = jh.run_jackhmmer(hbb_query, shared_data / "sequences/globins45.fa", out, threads=2)
    globins = {line[1:].split()[0] for line in
               (shared_data / "sequences/globins45.fa").read_text().splitlines()
               if line.startswith(">")}
    hits = {name.split("/")[0] for name in _names(out) - {"HBB_HUMAN"}}  # minus the query row
    assert len(globins) == 45 and hits == globins
    assert report.iterations[0].included == 45 and report.database_sequences == 45
    msa = parse_stockholm(out.read_text())
    assert len(msa) == 46 and msa.descriptions[0] == "HBB_HUMAN"
    assert {d.split("/")[0] for d in msa.descriptions[1:]} == globins


def test_luxc_iterations_match_hmmers_own(shared_data, luxc_query, tmp_path):
    """Three iterations against the proteome give the hits of HMMER's p12748-{1,2,3}.sto."""
    prefix = tmp_path / "chk"
    report = jh.run_jackhmmer(
        luxc_query, shared_data / "sequences/proteome_938293.faa", tmp_path / "final.sto",
        jh.JackhmmerSettings(iterations=3), threads=2, checkpoint_prefix=prefix,
    )
    assert [it.number for it in report.iterations] == [1, 2, 3]
    for n in (1, 2, 3):
        ours = _names(tmp_path / f"chk-{n}.sto")
        theirs = _names(shared_data / f"alignments/LuxC_jackhmmer/p12748-{n}.sto")
        assert ours == theirs, f"iteration {n}"
    assert _names(tmp_path / "final.sto") == _names(tmp_path / "chk-3.sto")


def test_threads_and_ranges_do_not_change_the_result(shared_data, monkeypatch, tmp_path):
    """One thread on the whole file == two threads over many byte ranges, each iteration."""
    query = tmp_path / "q.fasta"
    lines = (shared_data / "sequences/hemopexin.faa").read_text().split(">")[1]
    query.write_text(">" + lines)
    db = shared_data / "sequences/hemopexin.faa"
    settings = jh.JackhmmerSettings(iterations=2)
    jh.run_jackhmmer(query, db, tmp_path / "one.sto", settings, threads=1)
    monkeypatch.setattr(sequence_db, "MAX_RANGE_BYTES", 10_000)  # about 30 ranges
    report = jh.run_jackhmmer(query, db, tmp_path / "two.sto", settings, threads=2)
    assert report.database_sequences == 4188
    assert report.iterations[-1].included > 100
    assert (tmp_path / "one.sto").read_bytes() == (tmp_path / "two.sto").read_bytes()


@NEEDS_BINARY
def test_same_alignment_as_the_hmmer_binary(shared_data, tmp_path):
    query = tmp_path / "q.fasta"
    query.write_text(">" + (shared_data / "sequences/hemopexin.faa").read_text().split(">")[1])
    db = tmp_path / "db.fasta"
    db.write_text("".join((shared_data / f"sequences/{n}").read_text()
                          for n in ("globins45.fa", "hemopexin.faa", "adeno_fiber.faa")))
    settings = jh.JackhmmerSettings()
    ours = tmp_path / "ours.sto"
    jh.run_jackhmmer(query, db, ours, settings, threads=2)
    theirs = tmp_path / "theirs.sto"
    subprocess.run(["jackhmmer", "-o", "/dev/null", "-A", str(theirs), "--noali",
                    *settings.jackhmmer_argv(2), str(query), str(db)], check=True)
    assert len(_names(theirs)) > 100
    assert _alignment_lines(ours) == _alignment_lines(theirs)


@pytest.mark.reference
def test_alphafold_reads_our_stockholm(shared_data, hbb_query, tmp_path):
    parsers = pytest.importorskip("alphafold.data.parsers")
    out = tmp_path / "hbb.sto"
    jh.run_jackhmmer(hbb_query, shared_data / "sequences/globins45.fa", out)
    theirs = parsers.parse_stockholm(out.read_text())
    ours = parse_stockholm(out.read_text())
    assert list(theirs.sequences) == list(ours.sequences) and len(ours) == 46
    assert [list(r) for r in theirs.deletion_matrix] == ours.deletion_matrix.tolist()


def test_errors(shared_data, tmp_path, hbb_query):
    out = tmp_path / "x.sto"
    with pytest.raises(MissingResourceError, match=r"sequence database .*missing\.fa not found"):
        jh.run_jackhmmer(hbb_query, tmp_path / "missing.fa", out)
    two = tmp_path / "two.fasta"
    two.write_text(">a\nMKVL\n>b\nMKVL\n")
    with pytest.raises(InputError, match="holds 2 sequences; give one target per FASTA file"):
        jh.run_jackhmmer(two, shared_data / "sequences/globins45.fa", out)
    with pytest.raises(InputError, match="not a readable protein FASTA file"):
        jh.run_jackhmmer(shared_data / "sequences/7LESS_DROME",
                         shared_data / "sequences/globins45.fa", out)
    bad_db = tmp_path / "bad.fa"
    bad_db.write_text("this is not fasta\n")
    with pytest.raises(InputError, match=r"bad\.fa is not a readable protein FASTA file"):
        jh.run_jackhmmer(hbb_query, bad_db, out)
    with pytest.raises(InputError, match="--threads must be at least 1"):
        jh.run_jackhmmer(hbb_query, shared_data / "sequences/globins45.fa", out, threads=0)
    assert not out.exists()
