"""The MSA server client against a local ColabFold-API server on loopback (real A3M files)."""

from __future__ import annotations

import io
import json
import re
import tarfile
from http.server import ThreadingHTTPServer

import pytest
from colabfold_server import ENV, Handler, running_server

from folding.cli import main
from folding.data.parsers import parse_a3m, parse_fasta
from folding.data.tools.msa_server import ServerSettings, fetch_msas
from folding.errors import InputError, ToolError


@pytest.fixture
def server(shared_data):
    with running_server(shared_data / "alignments/P61626_colabfold") as srv:
        yield srv


@pytest.fixture
def lysozyme(shared_data):
    return parse_fasta((shared_data / "queries/P61626.fasta").read_text())[0].sequence


def _settings(server, **kw) -> ServerSettings:
    return ServerSettings(url=server.url, poll_seconds=0.01, timeout_seconds=10, **kw)


def test_fetch_both_msas(server, lysozyme, shared_data, tmp_path):
    report = fetch_msas(lysozyme, _settings(server), tmp_path)
    assert report.ticket == "ticket-1" and report.mode == "env"
    assert sorted(report.files) == ["env", "uniref"]
    real = shared_data / "alignments/P61626_colabfold"
    assert report.files["uniref"].read_bytes() == (real / "uniref.a3m").read_bytes()
    assert report.files["env"].read_bytes() == (real / ENV).read_bytes()
    assert not (tmp_path / "pdb70.m8").exists()  # only the MSAs are taken
    method, path, form = server.requests[0]
    assert (method, path) == ("POST", "/ticket/msa")
    assert form == {"q": f">101\n{lysozyme}\n", "mode": "env"}
    assert [r[1] for r in server.requests[1:]] == [
        "/ticket/ticket-1", "/ticket/ticket-1", "/result/download/ticket-1"]


def test_modes(server, lysozyme, tmp_path):
    report = fetch_msas(lysozyme, _settings(server, use_env=False), tmp_path / "a")
    assert report.mode == "all" and sorted(report.files) == ["uniref"]
    report = fetch_msas(lysozyme, _settings(server, use_filter=False), tmp_path / "b")
    assert report.mode == "env-nofilter"


def test_ratelimit_then_accepted(server, lysozyme, tmp_path):
    server.submit_statuses = ["RATELIMIT", "UNKNOWN", "PENDING"]
    report = fetch_msas(lysozyme, _settings(server), tmp_path)
    assert [r[1] for r in server.requests].count("/ticket/msa") == 3
    assert sorted(report.files) == ["env", "uniref"]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda s: setattr(s, "submit_statuses", ["ERROR"]),
         "reported an error for this query; check that it is a valid protein sequence"),
        (lambda s: setattr(s, "poll_statuses", ["RUNNING", "ERROR"]),
         "reported an error for this query"),
        (lambda s: setattr(s, "submit_statuses", ["MAINTENANCE"]),
         "is under maintenance; try again later"),
        (lambda s: setattr(s, "submit_statuses", ["RATELIMIT"]),
         "keeps refusing the query (RATELIMIT); try again later"),
        (lambda s: setattr(s, "poll_statuses", ["RUNNING"]),
         "did not finish within 0.3 s; try again later or raise --timeout"),
        (lambda s: setattr(s, "archive", b"this is not a tarball"),
         "sent a result that is not a tar.gz archive"),
        (lambda s: setattr(s, "fail_with", 404),
         "answered HTTP 404 to /ticket/msa; check --server-url"),
        (lambda s: setattr(s, "fail_with", 503), "answered HTTP 503 to /ticket/msa"),
    ],
)
def test_server_failures(server, lysozyme, tmp_path, setup, message):
    setup(server)
    settings = ServerSettings(url=server.url, poll_seconds=0.01, timeout_seconds=0.3)
    with pytest.raises(ToolError, match=re.escape(message)):
        fetch_msas(lysozyme, settings, tmp_path)
    assert not (tmp_path / "uniref.a3m").exists()


def test_archive_without_env_msa(server, lysozyme, shared_data, tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(shared_data / "alignments/P61626_colabfold/uniref.a3m", arcname="uniref.a3m")
    server.archive = buffer.getvalue()
    with pytest.raises(ToolError, match=f"sent a result without {ENV}"):
        fetch_msas(lysozyme, _settings(server), tmp_path)


def test_unreachable_and_bad_url(lysozyme, tmp_path):
    with pytest.raises(InputError, match="is not an http\\(s\\) address"):
        fetch_msas(lysozyme, ServerSettings(url="ftp://example.org"), tmp_path)
    closed = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = closed.server_address[1]
    closed.server_close()
    with pytest.raises(ToolError, match=f"cannot reach the MSA server at http://127.0.0.1:{port}"):
        fetch_msas(lysozyme, ServerSettings(url=f"http://127.0.0.1:{port}", poll_seconds=0.01,
                                            retries=1), tmp_path)


def test_search_cli_server_mode(server, shared_data, tmp_path, capsys):
    query = shared_data / "queries/P61626.fasta"
    out = tmp_path / "msas"
    code = main(["search", "--tool", "server", "--query", str(query), "--server-url",
                 server.url, "--output-dir", str(out), "--poll-seconds", "0.01"])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["uniref.a3m", "uniref.a3m.json", ENV, ENV + ".json"])
    msa = parse_a3m((out / "uniref.a3m").read_text())
    assert len(msa) == 3922 and msa.num_res == 148
    record = json.loads((out / "uniref.a3m.json").read_text())
    assert record["tool"] == "server" and record["rows"] == 3922 and record["mode"] == "env"


def test_search_cli_rejects_alignment_of_another_target(server, shared_data, tmp_path, capsys):
    query = tmp_path / "other.fasta"
    query.write_text(">other\nMKVLAAGIVGLLLAAGCSS\n")
    out = tmp_path / "msas"
    code = main(["search", "--tool", "server", "--query", str(query), "--server-url",
                 server.url, "--output-dir", str(out), "--poll-seconds", "0.01"])
    assert code == 2
    assert "its first row is not the query sequence" in capsys.readouterr().err
    assert not any(p.name.endswith((".a3m", ".json")) for p in out.iterdir())


def test_fetch_templates(server, lysozyme, shared_data, tmp_path):
    report = fetch_msas(lysozyme, _settings(server, use_templates=True), tmp_path)
    real = shared_data / "alignments/P61626_colabfold"
    assert report.files["m8"].read_bytes() == (real / "pdb70.m8").read_bytes()
    first20 = [line.split("\t")[1] for line in (real / "pdb70.m8").read_text().splitlines()[:20]]
    assert server.template_requests == [first20]  # ColabFold's TMPL[:20]
    assert list(report.templates) == first20 and report.template_dir == tmp_path / "templates_101"
    folder = report.template_dir
    assert sorted(p.name for p in folder.glob("*.cif")) == sorted(
        p.name for p in (real / "templates_101").glob("*.cif"))
    # completed as ColabFold completes it: cs219 index = a3m index, empty cs219 data
    assert (folder / "pdb70_cs219.ffindex").read_text() == \
        (folder / "pdb70_a3m.ffindex").read_text()
    assert (folder / "pdb70_cs219.ffdata").stat().st_size == 0


def test_no_template_hit_no_template_request(shared_data, tmp_path):
    folder = shared_data / "alignments/A0A024R1R8_colabfold"
    sequence = parse_fasta((shared_data / "queries/A0A024R1R8.fasta").read_text())[0].sequence
    with running_server(folder) as srv:
        report = fetch_msas(sequence, _settings(srv, use_templates=True), tmp_path)
        assert srv.template_requests == []
    assert report.templates == () and report.template_dir is None
    assert report.files["m8"].read_text() == ""


def test_search_cli_with_templates(server, shared_data, tmp_path, capsys):
    out = tmp_path / "msas"
    code = main(["search", "--tool", "server", "--query", str(shared_data / "queries/P61626.fasta"),
                 "--server-url", server.url, "--output-dir", str(out), "--poll-seconds", "0.01",
                 "--templates"])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["uniref.a3m", "uniref.a3m.json", ENV, ENV + ".json", "pdb70.m8", "templates_101"])
    assert len(list((out / "templates_101").glob("*.cif"))) == 20
    record = json.loads((out / "uniref.a3m.json").read_text())
    assert len(record["templates"]) == 20 and record["settings"]["use_templates"] is True


def test_bad_template_archive_leaves_nothing(server, shared_data, tmp_path, capsys):
    server.template_archive = b"not a tarball"
    out = tmp_path / "msas"
    code = main(["search", "--tool", "server", "--query", str(shared_data / "queries/P61626.fasta"),
                 "--server-url", server.url, "--output-dir", str(out), "--poll-seconds", "0.01",
                 "--templates"])
    assert code == 4
    assert "sent templates that are not a tar.gz archive" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == []
