"""A client for ColabFold-compatible MSA servers (the MMseqs2 API ColabFold uses).

The protocol, as ColabFold's ``run_mmseqs2`` speaks it:

1. ``POST <url>/ticket/msa`` with the form fields ``q`` (the query as FASTA, named
   ``>101``) and ``mode`` (``env``, ``all``, ``env-nofilter`` or ``nofilter``); the JSON
   reply carries the ticket ``id`` and a ``status``;
2. while the status is ``PENDING``, ``RUNNING`` or ``UNKNOWN``: wait, then
   ``GET <url>/ticket/<id>``; ``RATELIMIT`` on submission means submit again later;
   ``ERROR`` and ``MAINTENANCE`` are failures;
3. on ``COMPLETE``: ``GET <url>/result/download/<id>``, a ``tar.gz`` holding ``uniref.a3m``
   and, in the ``env`` modes, ``bfd.mgnify30.metaeuk30.smag30.a3m`` (NUL-terminated A3Ms),
   and ``pdb70.m8`` (the query's template hits, an MMseqs2 search of PDB70);
4. with templates: ``GET <url>/template/<id>,<id>,...`` with the targets of the first 20
   lines of ``pdb70.m8`` (``1abc_A``), a ``tar.gz`` of their mmCIF files and an HH-suite
   database of their profiles (``pdb70_a3m.ffdata/.ffindex``), unpacked into
   ``templates_101/`` and completed as ColabFold completes it (``pdb70_cs219.ffindex``, a
   copy of the a3m index, and an empty ``pdb70_cs219.ffdata``). No hit, no request.

Only those members are taken from the archives (plain files with the expected names; no
paths, no links). The server is whatever
URL the user gives (their own server, or ColabFold's public one under its terms of use);
nothing is sent anywhere else. Network failures are retried a few times, then reported in
one line.
"""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
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
M8 = "pdb70.m8"
#: The query's id in the submission, and so the name of its template folder.
QUERY_ID = "101"
TEMPLATE_DIR = f"templates_{QUERY_ID}"
_TEMPLATE_MEMBER = re.compile(r"^(?:[0-9a-z]{4}\.cif|pdb70_(?:a3m|hhm|cs219)\.ff(?:data|index))$")
_WAITING = ("PENDING", "RUNNING", "UNKNOWN")


@dataclass(frozen=True)
class ServerSettings:
    url: str
    use_env: bool = True
    use_filter: bool = True
    use_templates: bool = False
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
    files: dict[str, Path] = field(default_factory=dict)  # "uniref"/"env"/"m8" -> path
    seconds: float = 0.0
    templates: tuple[str, ...] = ()  # the template ids fetched (first 20 m8 hit lines)
    template_dir: Path | None = None  # where they were unpacked (None: no template hit)


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

    query = {"q": f">{QUERY_ID}\n{sequence}\n", "mode": settings.mode}
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
    if settings.use_templates:
        wanted[M8] = "m8"
    files = _extract(client.url, archive, wanted, output_dir)
    ids: tuple[str, ...] = ()
    template_dir = None
    if settings.use_templates:
        ids, template_dir = _fetch_templates(client, files["m8"], output_dir)
    return ServerReport(ticket, settings.mode, files, time.monotonic() - start, ids,
                        template_dir)


def _fetch_templates(
    client: _Client, m8: Path, output_dir: Path
) -> tuple[tuple[str, ...], Path | None]:
    """Fetch the templates of the first 20 hit lines of ``m8`` into ``templates_101/``."""
    from folding.data.templates.m8 import parse_m8, template_ids

    hits = parse_m8(m8.read_text(errors="replace"), f"MSA server {client.url} {M8}")
    ids = template_ids(hits, QUERY_ID)
    if not ids:
        logger.info("MSA server %s: no template hit", client.url)
        return (), None
    line = urllib.parse.quote(",".join(ids), safe=",")
    archive = client.request(f"template/{line}")
    folder = output_dir / TEMPLATE_DIR
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    count = 0
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if not member.isfile() or not _TEMPLATE_MEMBER.match(name):
                    continue
                handle = tar.extractfile(member)
                assert handle is not None
                write_bytes(folder / name, handle.read())
                count += name.endswith(".cif")
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ToolError(f"MSA server {client.url} sent templates that are not a tar.gz archive "
                        f"({error}); try again, or run without templates") from error
    if not (folder / "pdb70_a3m.ffindex").is_file() or not count:
        raise ToolError(f"MSA server {client.url} sent templates without mmCIF files or "
                        "pdb70_a3m.ffindex; try again, or run without templates")
    if not (folder / "pdb70_cs219.ffindex").is_file():
        shutil.copyfile(folder / "pdb70_a3m.ffindex", folder / "pdb70_cs219.ffindex")
    if not (folder / "pdb70_cs219.ffdata").is_file():
        write_bytes(folder / "pdb70_cs219.ffdata", b"")
    logger.info("MSA server %s: %d templates (%d mmCIF files)", client.url, len(ids), count)
    return ids, folder


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
        hint = "; run without templates" if missing == [M8] else ""
        raise ToolError(f"MSA server {url} sent a result without {', '.join(missing)}; "
                        f"the server may not support this mode{hint}")
    return found
