"""Download, verify and unpack the databases of a manifest.

* **Resumable**: a file is fetched into ``<name>.part`` beside its destination; an
  interrupted transfer (dropped connection, killed process) continues from the bytes
  already on disk with an HTTP ``Range`` request. A server that ignores ``Range`` makes
  it start over. Mirrors are tried in manifest order.
* **Verified**: the SHA-256 is computed while the bytes arrive (the bytes already on disk
  are hashed once when resuming) and compared with the manifest's checksum; a mismatch
  deletes the file and fails with the command that fetches it again. Without a manifest
  checksum the computed one is recorded (see :mod:`folding.databases.state`).
* **Parallel**: databases download concurrently (``--jobs``), with one progress line.
* **Unpacked**: ``gunzip`` and ``tar``/``tar.gz`` archives are streamed into the layout
  the manifest names (members outside the tree are refused); every unpacked file is
  written under a temporary name and renamed when complete (:mod:`folding.databases.unpack`).
* **Idempotent**: a database whose record and layout files are intact is skipped; one
  whose layout files exist without a record (installed by other tools, e.g. AlphaFold's
  scripts) is left alone unless ``--force``.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from folding import __version__
from folding.databases.manifest import Database, Download, Manifest
from folding.databases.progress import Progress
from folding.databases.state import FileRecord, InstallRecord, read_record, write_record
from folding.databases.unpack import rsync_mmcif, unpack_all
from folding.errors import FoldingError, MissingResourceError

logger = logging.getLogger(__name__)

_CHUNK = 1 << 20
_TRANSIENT = (
    urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout,
    TimeoutError, OSError,
)


@dataclass(frozen=True)
class DownloadOptions:
    """How to download: parallel jobs, retries per file, socket timeout, what to keep."""

    jobs: int = 4
    retries: int = 8
    timeout: float = 60.0
    backoff: float = 1.0
    keep_archives: bool = False
    force: bool = False
    progress_interval: float = 5.0


@dataclass(frozen=True)
class DatabaseResult:
    """What happened to one database: ``installed``, ``up to date``, ``present`` or
    ``failed`` (with the one-line reason)."""

    name: str
    status: str
    detail: str = ""


class DownloadError(MissingResourceError):
    """A file could not be fetched, or arrived corrupt."""


def download_databases(
    manifest: Manifest,
    root: str | Path,
    only: str | None = None,
    options: DownloadOptions | None = None,
    fix_command: str | None = None,
) -> list[DatabaseResult]:
    """Install the (selected) databases of ``manifest`` under ``root``; one result each.

    Failures do not stop the other downloads; the caller reports them.
    """
    options = options or DownloadOptions()
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    databases = manifest.select(only)
    fix = fix_command or f"folding databases download --preset {manifest.preset} --dir {root}"
    progress = Progress(interval=options.progress_interval)
    progress.start()
    try:
        with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
            futures = [
                pool.submit(_install_guarded, manifest, db, root, options, progress, fix)
                for db in databases
            ]
            return [future.result() for future in futures]
    finally:
        progress.stop()


def _install_guarded(
    manifest: Manifest, db: Database, root: Path, options: DownloadOptions,
    progress: Progress, fix: str,
) -> DatabaseResult:
    try:
        return install_database(manifest, db, root, options, progress, fix)
    except FoldingError as error:
        progress.note(f"{db.name}: failed: {error}")
        return DatabaseResult(db.name, "failed", str(error))


def install_database(
    manifest: Manifest, db: Database, root: Path, options: DownloadOptions,
    progress: Progress | None = None, fix: str = "",
) -> DatabaseResult:
    """Download and unpack one database unless it is already installed."""
    progress = progress or Progress(interval=0)
    record = read_record(root, db.name)
    layout_present = all(_exists(root / entry.path, entry.kind) for entry in db.layout)
    if not options.force and layout_present:
        if record is not None and _record_intact(root, record):
            progress.note(f"{db.name}: up to date")
            return DatabaseResult(db.name, "up to date")
        if record is None:
            progress.note(f"{db.name}: present (installed without folding; --force replaces it)")
            return DatabaseResult(db.name, "present", "no folding record")
    if db.source == "demo":
        raise DownloadError(
            f"{db.name} is built locally, not downloaded; run: folding databases build-demo "
            f"--dir {root}"
        )
    for entry in db.layout:
        if entry.kind == "dir":
            (root / entry.path).mkdir(parents=True, exist_ok=True)
    sources: list[str] = []
    files: dict[str, FileRecord] = {}
    fetched: list[tuple[Download, Path, str]] = []
    for item in db.downloads:
        dest = root / item.into / item.name
        sha = fetch(item, dest, options, progress, fix=f"{fix} --only {db.name}")
        fetched.append((item, dest, sha))
        sources.append(f"{item.name} sha256:{sha}")
    if db.source == "rsync":
        files.update(rsync_mmcif(db, root, progress, options.timeout,
                                 fix=f"{fix} --only {db.name}"))
    files.update(unpack_all(fetched, root, options.keep_archives, progress))
    missing = [e.path for e in db.layout if not _exists(root / e.path, e.kind)]
    if missing:
        raise DownloadError(
            f"{db.name}: after unpacking, {', '.join(missing)} is missing; the archive layout "
            f"differs from the manifest; fix the manifest or report it"
        )
    for entry in db.layout:
        if entry.kind == "file" and entry.path not in files:
            path = root / entry.path
            files[entry.path] = FileRecord(size=path.stat().st_size)
    write_record(root, InstallRecord(
        name=db.name, preset=manifest.preset, version=db.version, sources=tuple(sources),
        files=files, completed=time.time(),
    ))
    progress.note(f"{db.name}: installed")
    return DatabaseResult(db.name, "installed")


def _record_intact(root: Path, record: InstallRecord) -> bool:
    for rel, rec in record.files.items():
        path = root / rel
        if not path.is_file() or path.stat().st_size != rec.size:
            return False
    return True


def _exists(path: Path, kind: str) -> bool:
    return path.is_dir() if kind == "dir" else path.is_file()


# --------------------------------------------------------------------------- fetching


def fetch(
    item: Download, dest: Path, options: DownloadOptions, progress: Progress | None = None,
    fix: str = "re-run the download",
) -> str:
    """Make ``dest`` a complete, verified copy of ``item``; return its SHA-256.

    An existing ``dest`` is trusted only if its size and checksum match the manifest
    (when the manifest gives them); otherwise it is fetched (resuming ``dest.part``).
    """
    progress = progress or Progress(interval=0)
    if dest.is_file() and item.sha256 and (item.size is None or dest.stat().st_size == item.size):
        sha = _sha256(dest)
        if sha == item.sha256:
            return sha
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    errors: list[str] = []
    for url in item.urls:
        try:
            sha = _fetch_url(url, part, item, options, progress)
        except _MirrorError as error:
            errors.append(f"{url}: {error}")
            continue
        if item.sha256 and sha != item.sha256:
            part.unlink(missing_ok=True)
            raise DownloadError(
                f"{item.name}: checksum mismatch (SHA-256 {sha[:16]}..., manifest "
                f"{item.sha256[:16]}...); the corrupt file was removed; run: {fix}"
            )
        part.replace(dest)
        return sha
    raise DownloadError(
        f"{item.name}: could not download ({'; '.join(errors)}); check the network and run "
        f"the same command again to resume: {fix}"
    )


class _MirrorError(Exception):
    """This mirror cannot deliver the file (try the next one)."""


def _fetch_url(
    url: str, part: Path, item: Download, options: DownloadOptions, progress: Progress
) -> str:
    digest = hashlib.sha256()
    have = 0
    if part.exists():
        have = part.stat().st_size
        _hash_into(part, digest)
    total: int | None = item.size
    progress.add(item.name, total, have)
    attempts = 0
    while True:
        if total is not None and have == total:
            break
        request = urllib.request.Request(url, headers={"User-Agent": f"folding/{__version__}"})
        if have:
            request.add_header("Range", f"bytes={have}-")
        try:
            response = urllib.request.urlopen(request, timeout=options.timeout)
        except urllib.error.HTTPError as error:
            if error.code == 416 and have and total is None:
                # The part is already complete (its length is unknown): accept it.
                break
            if error.code == 416:
                part.unlink(missing_ok=True)
                digest, have = hashlib.sha256(), 0
                progress.reset(item.name)
                continue
            if error.code in (404, 403, 401, 410):
                raise _MirrorError(f"HTTP {error.code}") from error
            attempts = _retry_or_fail(attempts, options, f"HTTP {error.code}")
            continue
        except _TRANSIENT as error:
            attempts = _retry_or_fail(attempts, options, str(error))
            continue
        with response:
            if have and response.status != 206:
                # The server ignored the Range header: start over.
                logger.info("%s: server does not resume; starting over", item.name)
                digest, have = hashlib.sha256(), 0
                part.unlink(missing_ok=True)
                progress.reset(item.name)
            size = _total_size(response, have)
            if size is not None:
                if item.size is not None and size != item.size:
                    raise DownloadError(
                        f"{item.name}: server reports {size} bytes, manifest says {item.size}; "
                        "the file changed upstream; update the manifest"
                    )
                total = size
                progress.set_total(item.name, total)
            before = have
            try:
                with open(part, "ab") as out:
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        have += len(chunk)
                        progress.advance(item.name, len(chunk))
            except _TRANSIENT as error:
                if have > before:
                    attempts = 0
                attempts = _retry_or_fail(attempts, options, f"connection lost: {error}")
                continue
            if have > before:
                attempts = 0
        if total is None:
            break
        if have < total:
            attempts = _retry_or_fail(attempts, options, f"connection closed at {have}/{total}")
            continue
        if have > total:
            part.unlink(missing_ok=True)
            raise DownloadError(f"{item.name}: received more bytes than announced; run it again")
    progress.finish(item.name)
    return digest.hexdigest()


def _retry_or_fail(attempts: int, options: DownloadOptions, reason: str) -> int:
    attempts += 1
    if attempts > options.retries:
        raise _MirrorError(f"{reason} (gave up after {options.retries} retries)")
    delay = min(options.backoff * 2 ** (attempts - 1), 60.0)
    logger.info("retrying in %.1f s after: %s", delay, reason)
    time.sleep(delay)
    return attempts


def _total_size(response: http.client.HTTPResponse, have: int) -> int | None:
    content_range = response.headers.get("Content-Range")
    if response.status == 206 and content_range and "/" in content_range:
        tail = content_range.rsplit("/", 1)[1].strip()
        return int(tail) if tail.isdigit() else None
    length = response.headers.get("Content-Length")
    if length and length.isdigit():
        return int(length) + (have if response.status == 206 else 0)
    return None


def _hash_into(path: Path, digest: hashlib._Hash) -> None:
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    _hash_into(path, digest)
    return digest.hexdigest()


# --------------------------------------------------------------------------- single files


def fetch_file(
    urls: Iterable[str], dest: Path, options: DownloadOptions | None = None,
    sha256: str | None = None, on_progress: Callable[[str], None] | None = None,
) -> str:
    """Fetch one URL (with mirrors) to ``dest``; the building block of on-demand fetching."""
    item = Download(name=dest.name, urls=tuple(urls), into="", sha256=sha256)
    progress = Progress(interval=0, printer=on_progress)
    return fetch(item, dest, options or DownloadOptions(), progress)
