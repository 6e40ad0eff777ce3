"""A client for ColabFold-compatible MSA servers (the MMseqs2 API ColabFold uses).

The protocol, as ColabFold's ``run_mmseqs2`` speaks it:

1. ``POST <url>/ticket/msa`` with the form fields ``q`` (the query as FASTA, named
   ``>101``) and ``mode`` (``env``, ``all``, ``env-nofilter`` or ``nofilter``); the JSON
   reply carries the ticket ``id`` and a ``status``;
2. while the status is ``PENDING``, ``RUNNING`` or ``UNKNOWN``: wait, then
   ``GET <url>/ticket/<id>``; ``RATELIMIT`` on submission means submit again later;
   ``ERROR`` and ``MAINTENANCE`` are failures;
3. on ``COMPLETE``: ``GET <url>/result/download/<id>``, a ``tar.gz`` holding ``uniref.a3m``
   and, in the ``env`` modes, ``bfd.mgnify30.metaeuk30.smag30.a3m`` (NUL-terminated A3Ms).

Only those members are taken from the archive (no paths, no links). The server is whatever
URL the user gives (their own server, or ColabFold's public one under its terms of use);
nothing is sent anywhere else. Network failures are retried a few times, then reported in
one line.
"""

from __future__ import annotations

import io
import json
import logging
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from folding import __version__
from folding.atomic import write_bytes
from folding.errors import InputError, ToolError

logger = logging.getLogger(__name__)

UNIREF_A3M = "uniref.a3m"
ENV_A3M = "bfd.mgnify30.metaeuk30.smag30.a3m"
_WAITING = ("PENDING", "RUNNING", "UNKNOWN")


@dataclass(frozen=True)
class ServerSettings:
    url: str
    use_env: bool = True
    use_filter: bool = True
    poll_seconds: float = 5.0
    timeout_seconds: float = 3600.0
    retries: int = 5  # network errors and RATELIMIT replies tolerated in a row
    request_timeout: float = 30.0
    user_agent: str = f"folding/{__version__}"

    @property
    def mode(self) -> str:
        if self.use_filter:
            return "env" if self.use_env else "all"
        return "env-nofilter" if self.use_env else "nofilter"


@dataclass(frozen=True)
class ServerReport:
    ticket: str
    mode: str
    files: dict[str, Path] = field(default_factory=dict)  # "uniref"/"env" -> A3M path
    seconds: float = 0.0


class _Client:
    def __init__(self, settings: ServerSettings) -> None:
        url = settings.url.rstrip("/")
        if urllib.parse.urlparse(url).scheme not in ("http", "https"):
            raise InputError(
                f"--server-url {settings.url!r} is not an http(s) address; give the MSA "
                "server's URL, e.g. https://api.colabfold.com"
            )
        self.url = url
        self.settings = settings

    def request(self, path: str, data: dict[str, str] | None = None) -> bytes:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(
            f"{self.url}/{path}", data=body, method="POST" if body is not None else "GET",
            headers={"User-Agent": self.settings.user_agent},
        )
        failures = 0
        while True:
            try:
                with urllib.request.urlopen(request, timeout=self.settings.request_timeout) as r:
                    return r.read()
            except urllib.error.HTTPError as error:
                if error.code < 500 or failures >= self.settings.retries:
                    raise ToolError(
                        f"MSA server {self.url} answered HTTP {error.code} to /{path}; check "
                        "--server-url (is it a ColabFold-compatible MSA server?)"
                    ) from error
                reason = f"HTTP {error.code}"
            except (urllib.error.URLError, OSError) as error:
                reason = str(getattr(error, "reason", error))
                if failures >= self.settings.retries:
                    raise ToolError(
                        f"cannot reach the MSA server at {self.url} ({reason}); check "
                        "--server-url and the network"
                    ) from error
            failures += 1
            logger.warning("MSA server %s: %s; retrying (%d/%d)", self.url, reason, failures,
                           self.settings.retries)
            time.sleep(self.settings.poll_seconds)

    def json(self, path: str, data: dict[str, str] | None = None) -> dict[str, Any]:
        raw = self.request(path, data)
        try:
            reply = json.loads(raw)
        except ValueError as error:
            raise ToolError(
                f"MSA server {self.url} did not answer /{path} with JSON "
                f"({raw[:60]!r}); check --server-url"
            ) from error
        if not isinstance(reply, dict) or "status" not in reply:
            raise ToolError(f"MSA server {self.url} sent an answer without a status to /{path}")
        return reply


def _check_status(url: str, status: str) -> None:
    if status == "ERROR":
        raise ToolError(
            f"MSA server {url} reported an error for this query; check that it is a valid "
            "protein sequence, or try again later"
        )
    if status == "MAINTENANCE":
        raise ToolError(f"MSA server {url} is under maintenance; try again later")


def fetch_msas(sequence: str, settings: ServerSettings, output_dir: Path) -> ServerReport:
    """Submit ``sequence``, wait for the result, and write its A3Ms into ``output_dir``."""
    client = _Client(settings)
    start = time.monotonic()
    deadline = start + settings.timeout_seconds

    def wait() -> None:
        if time.monotonic() + settings.poll_seconds > deadline:
            raise ToolError(
                f"MSA server {client.url} did not finish within {settings.timeout_seconds:g} s; "
                "try again later or raise --timeout"
            )
        time.sleep(settings.poll_seconds)

    query = {"q": f">101\n{sequence}\n", "mode": settings.mode}
    reply = client.json("ticket/msa", query)
    limited = 0
    while reply["status"] in ("RATELIMIT", "UNKNOWN"):
        limited += 1
        if limited > settings.retries:
            raise ToolError(f"MSA server {client.url} keeps refusing the query "
                            f"({reply['status']}); try again later")
        logger.warning("MSA server %s: %s; submitting again", client.url, reply["status"])
        wait()
        reply = client.json("ticket/msa", query)
    _check_status(client.url, reply["status"])
    ticket = str(reply.get("id", ""))
    if not ticket:
        raise ToolError(f"MSA server {client.url} gave no ticket id ({reply['status']})")
    logger.info("MSA server %s: ticket %s, %s", client.url, ticket, reply["status"])
    while reply["status"] in _WAITING:
        wait()
        reply = client.json(f"ticket/{urllib.parse.quote(ticket)}")
    _check_status(client.url, reply["status"])
    if reply["status"] != "COMPLETE":
        raise ToolError(f"MSA server {client.url} answered status {reply['status']!r}; "
                        "expected COMPLETE")
    archive = client.request(f"result/download/{urllib.parse.quote(ticket)}")
    wanted = {UNIREF_A3M: "uniref"}
    if settings.use_env:
        wanted[ENV_A3M] = "env"
    files = _extract(client.url, archive, wanted, output_dir)
    return ServerReport(ticket, settings.mode, files, time.monotonic() - start)


def _extract(url: str, archive: bytes, wanted: dict[str, str], output_dir: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if name not in wanted or not member.isfile():
                    continue
                handle = tar.extractfile(member)
                assert handle is not None
                path = output_dir / name
                write_bytes(path, handle.read())
                found[wanted[name]] = path
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ToolError(f"MSA server {url} sent a result that is not a tar.gz archive "
                        f"({error}); try again") from error
    missing = [name for name, key in wanted.items() if key not in found]
    if missing:
        raise ToolError(f"MSA server {url} sent a result without {', '.join(missing)}; "
                        "the server may not support this mode")
    return found
