"""A real HTTP server on loopback for the download tests.

It serves bytes registered under a path, honours ``Range: bytes=N-`` (206 with
Content-Range), and can misbehave on purpose: drop the connection after some bytes of
the first responses (``drop_after``), ignore Range (``ignore_range``), or send bytes
slowly (``delay``) so that parallel downloads overlap. Every request is logged.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


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
