"""A real HTTP server on loopback for the download tests.

It serves bytes registered under a path, honours ``Range: bytes=N-`` (206 with
Content-Range), and can misbehave on purpose: drop the connection after some bytes of
the first responses (``drop_after``), ignore Range (``ignore_range``), or send bytes
slowly (``delay``) so that parallel downloads overlap. Every request is logged.

``public_mirror`` makes it stand in for UniProt, RCSB and the wwPDB: it answers the exact
URLs of the demo's public recipe (databases/demo.yaml) with real files from the data folder.
"""

from __future__ import annotations

import gzip
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from folding.databases.demo import _a3m_records, _stockholm_records
from folding.databases.public import PublicSources, load_recipe


@dataclass
class Served:
    data: bytes
    drop_after: int | None = None  # close the connection after this many bytes ...
    drops_left: int = 0  # ... this many times
    ignore_range: bool = False
    delay: float = 0.0  # seconds per 64 KiB chunk


@dataclass
class LoopbackServer:
    base: str
    files: dict[str, Served] = field(default_factory=dict)
    log: list[tuple[str, str | None, int]] = field(default_factory=list)
    active: int = 0
    max_active: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def serve(self, path: str, data: bytes, **options) -> str:
        self.files[path] = Served(data, **options)
        return self.base + path

    def requests(self, path: str) -> list[tuple[str, str | None, int]]:
        return [entry for entry in self.log if entry[0] == path]


def _handler(server: LoopbackServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            served = server.files.get(self.path)
            range_header = self.headers.get("Range")
            if served is None:
                server.log.append((self.path, range_header, 404))
                self.send_error(404)
                return
            data = served.data
            start = 0
            status = 200
            if range_header and not served.ignore_range:
                start = int(range_header.split("=", 1)[1].split("-", 1)[0])
                if start >= len(data):
                    server.log.append((self.path, range_header, 416))
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            server.log.append((self.path, range_header, status))
            body = data[start:]
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
            self.end_headers()
            limit = len(body)
            with server.lock:
                if served.drop_after is not None and served.drops_left > 0:
                    served.drops_left -= 1
                    limit = min(limit, served.drop_after)
                server.active += 1
                server.max_active = max(server.max_active, server.active)
            try:
                sent = 0
                while sent < limit:
                    chunk = body[sent : min(limit, sent + 65536)]
                    self.wfile.write(chunk)
                    sent += len(chunk)
                    if served.delay:
                        time.sleep(served.delay)
                self.wfile.flush()
            finally:
                with server.lock:
                    server.active -= 1
            if limit < len(body):
                self.close_connection = True
                self.connection.shutdown(2)

    return Handler


@pytest.fixture
def http_server():
    state = LoopbackServer(base="")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _fasta(records) -> bytes:
    return "".join(f">{name} served by the loopback UniProt\n{seq}\n"
                   for name, seq in records).encode()


def _answers(data: Path) -> dict[str, list[bytes]]:
    """Real sequences to answer each database's queries with, in turn."""
    alignments = data / "alignments"
    sequences = data / "sequences"
    return {
        "uniref90": [
            _fasta(_stockholm_records([alignments / "P61626" / "uniref90_hits.sto"])),
            _fasta(_stockholm_records([alignments / "A0A024R1R8" / "uniref90_hits.sto"])),
            (sequences / "globins45.fa").read_bytes(),
            (sequences / "proteome_938293.faa").read_bytes(),
            (sequences / "uniprot_500.fasta").read_bytes(),
        ],
        "mgnify": [_fasta(_stockholm_records(sorted(alignments.glob("*/mgnify_hits.sto"))))],
        "small_bfd": [_fasta(_a3m_records([alignments / "P61626" / "bfd_uniref_hits.a3m"])),
                      _fasta(_a3m_records([alignments / "A0A024R1R8" / "bfd_uniref_hits.a3m"]))],
        "uniprot": [(sequences / "uniprot_500.fasta").read_bytes(),
                    _fasta(_stockholm_records(
                        [alignments / "A0A024R1R8" / "uniprot_hits.sto"], strip_range=True))],
    }


def _path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


@pytest.fixture
def public_mirror(http_server, shared_data):
    """The loopback server, answering every URL of the public recipe with real data."""
    sources = PublicSources(uniprot=http_server.base + "/uniprot",
                            rcsb=http_server.base + "/rcsb", wwpdb=http_server.base + "/wwpdb")
    recipe = load_recipe()
    answers = _answers(shared_data)
    counts: dict[str, int] = {}
    for query in recipe.queries:
        k = counts[query.database] = counts.get(query.database, -1) + 1
        choices = answers[query.database]
        http_server.serve(_path(sources.uniprot_query(query.query, query.limit)),
                          choices[k % len(choices)])
    templates = shared_data / "templates"
    http_server.serve(_path(sources.seqres()),
                      (templates / "pdb_seqres" / "pdb_seqres.txt").read_bytes())
    http_server.serve(_path(sources.obsolete()),
                      (templates / "pdb_mmcif" / "obsolete.dat").read_bytes())
    for pdb_id in recipe.pdb_ids:
        cif = templates / "pdb_mmcif" / "mmcif_files" / f"{pdb_id}.cif"
        http_server.serve(_path(sources.mmcif(pdb_id)), gzip.compress(cif.read_bytes(), mtime=0))
    return http_server, sources
