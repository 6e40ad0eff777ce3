"""A ColabFold-API MSA server on loopback, answering with real ColabFold result files.

Used by the MSA-server client tests (``tests/data/test_msa_server.py``) and the workflow's
``msa_mode=server`` tests. It speaks ColabFold's protocol (``POST /ticket/msa``,
``GET /ticket/<id>``, ``GET /result/download/<id>``, ``GET /template/<ids>``) and sends
the files of a real ColabFold result folder (``uniref.a3m``, the environmental A3M,
``pdb70.m8``, and the mmCIF files and ``pdb70_a3m`` database of ``templates_101/``).
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ENV = "bfd.mgnify30.metaeuk30.smag30.a3m"


class FakeColabFoldServer(ThreadingHTTPServer):
    """Speaks ColabFold's MSA API and answers with the real P61626 ColabFold A3Ms.

    ``script`` lists, per request path kind, the statuses to answer in turn; ``archive``
    can be replaced to send something else. Every request is recorded.
    """

    daemon_threads = True

    def __init__(self, data: Path, by_sequence: dict[str, Path] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.data = data
        #: other result folders, chosen by the submitted query sequence
        self.by_sequence = dict(by_sequence or {})
        self.requests: list[tuple[str, str, dict]] = []
        self.submit_statuses = ["PENDING"]
        self.poll_statuses = ["RUNNING", "COMPLETE"]
        self.archive: bytes | None = None
        self.template_archive: bytes | None = None
        self.template_requests: list[list[str]] = []
        self.fail_with: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def ticket(self, query: str) -> str:
        """The ticket of a query: ``ticket-1`` for the default folder, else one per folder."""
        folders = list(self.by_sequence)
        return f"ticket-{folders.index(query) + 2}" if query in folders else "ticket-1"

    def folder(self, ticket: str) -> Path:
        folders = list(self.by_sequence.values())
        number = int(ticket.rsplit("-", 1)[-1])
        return self.data if number == 1 else folders[number - 2]

    def build_archive(self, mode: str, ticket: str = "ticket-1") -> bytes:
        names = ["uniref.a3m", "pdb70.m8"] + ([ENV] if mode.startswith("env") else [])
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for name in names:
                tar.add(self.folder(ticket) / name, arcname=name)
        return buffer.getvalue()

    def build_templates(self, ids: list[str]) -> bytes:
        """The mmCIF files of ``ids`` found in a templates_101/ folder and its pdb70_a3m
        database (what ColabFold's template endpoint sends: no cs219 files)."""
        candidates = [self.data, *self.by_sequence.values()]
        folder = next((f / "templates_101" for f in candidates
                       if (f / "templates_101" / f"{ids[0].split('_')[0].lower()}.cif").is_file()),
                      self.data / "templates_101")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for pdb_id in dict.fromkeys(i.split("_")[0].lower() for i in ids):
                if (folder / f"{pdb_id}.cif").is_file():
                    tar.add(folder / f"{pdb_id}.cif", arcname=f"{pdb_id}.cif")
            for name in ("pdb70_a3m.ffdata", "pdb70_a3m.ffindex"):
                tar.add(folder / name, arcname=name)
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
        query = "".join(form.get("q", "").splitlines()[1:])
        status = self.server.submit_statuses.pop(0) if len(self.server.submit_statuses) > 1 \
            else self.server.submit_statuses[0]
        reply = {"status": status}
        if status not in ("RATELIMIT", "UNKNOWN"):
            reply["id"] = self.server.ticket(query)
        self._json(reply)

    def do_GET(self):
        self.server.requests.append(("GET", self.path, {}))
        tickets = {"ticket-1", *(f"ticket-{n + 2}" for n in range(len(self.server.by_sequence)))}
        kind, _, ticket = self.path.rpartition("/")
        if kind == "/ticket" and ticket in tickets:
            statuses = self.server.poll_statuses
            self._json({"id": ticket,
                        "status": statuses.pop(0) if len(statuses) > 1 else statuses[0]})
        elif kind == "/result/download" and ticket in tickets:
            body = self.server.archive or self.server.build_archive(self.server.mode, ticket)
            self._send(body, kind="application/gzip")
        elif self.path.startswith("/template/"):
            ids = urllib.parse.unquote(self.path[len("/template/"):]).split(",")
            self.server.template_requests.append(ids)
            body = self.server.template_archive or self.server.build_templates(ids)
            self._send(body, kind="application/gzip")
        else:
            self._send(b"not found", 404, "text/plain")


@contextmanager
def running_server(
    data: Path, by_sequence: dict[str, Path] | None = None
) -> Iterator[FakeColabFoldServer]:
    """A started server for the ColabFold result folder ``data`` (or, for a query sequence
    in ``by_sequence``, that sequence's folder); shut down on exit."""
    srv = FakeColabFoldServer(data, by_sequence)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join()
