"""The MSA server client against a local ColabFold-API server on loopback (real A3M files)."""

from __future__ import annotations

import io
import json
import re
import tarfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from folding.cli import main
from folding.data.parsers import parse_a3m, parse_fasta
from folding.data.tools.msa_server import ServerSettings, fetch_msas
from folding.errors import InputError, ToolError

ENV = "bfd.mgnify30.metaeuk30.smag30.a3m"


class FakeColabFoldServer(ThreadingHTTPServer):
    """Speaks ColabFold's MSA API and answers with the real P61626 ColabFold A3Ms.

    ``script`` lists, per request path kind, the statuses to answer in turn; ``archive``
    can be replaced to send something else. Every request is recorded.
    """

    daemon_threads = True

    def __init__(self, data: Path) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.data = data
        self.requests: list[tuple[str, str, dict]] = []
        self.submit_statuses = ["PENDING"]
        self.poll_statuses = ["RUNNING", "COMPLETE"]
        self.archive: bytes | None = None
        self.fail_with: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def build_archive(self, mode: str) -> bytes:
        names = ["uniref.a3m", "pdb70.m8"] + ([ENV] if mode.startswith("env") else [])
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for name in names:
                tar.add(self.data / name, arcname=name)
        return buffer.getvalue()


class Handler(BaseHTTPRequestHandler):
    server: FakeColabFoldServer

    def log_message(self, *args):  # keep test output quiet
        pass

    def _send(self, body: bytes, code: int = 200, kind: str = "application/json") -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, obj) -> None:
        self._send(json.dumps(obj).encode())

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
        self.server.requests.append(("POST", self.path, form))
        if self.server.fail_with:
            self._send(b"oops", self.server.fail_with, "text/plain")
            return
        if self.path != "/ticket/msa":
            self._send(b"not found", 404, "text/plain")
            return
        self.server.mode = form["mode"]
        status = self.server.submit_statuses.pop(0) if len(self.server.submit_statuses) > 1 \
            else self.server.submit_statuses[0]
        reply = {"status": status}
        if status not in ("RATELIMIT", "UNKNOWN"):
            reply["id"] = "ticket-1"
        self._json(reply)

    def do_GET(self):
        self.server.requests.append(("GET", self.path, {}))
        if self.path == "/ticket/ticket-1":
            statuses = self.server.poll_statuses
            self._json({"id": "ticket-1",
                        "status": statuses.pop(0) if len(statuses) > 1 else statuses[0]})
        elif self.path == "/result/download/ticket-1":
            body = self.server.archive or self.server.build_archive(self.server.mode)
            self._send(body, kind="application/gzip")
        else:
            self._send(b"not found", 404, "text/plain")


@pytest.fixture
def server(shared_data):
    srv = FakeColabFoldServer(shared_data / "alignments/P61626_colabfold")
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join()


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
