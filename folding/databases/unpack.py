"""Turning downloaded archives into the files of a database's layout.

``gunzip`` downloads are decompressed (several downloads naming the same output are
concatenated, as AlphaFold concatenates TrEMBL and Swiss-Prot into ``uniprot.fasta``);
``tar`` and ``tar.gz`` archives are extracted member by member, refusing members that
would land outside the folder. Every file is written under a temporary name, renamed
when complete and hashed on the way, so its record (size, SHA-256) costs no second read.
The PDB's mmCIF mirror of ``full_dbs`` comes by ``rsync`` and is flattened and
decompressed the way AlphaFold's ``download_pdb_mmcif.sh`` does.
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import subprocess
import tarfile
from collections.abc import Iterable
from pathlib import Path

from folding.atomic import atomic_path
from folding.databases.manifest import Database, Download
from folding.databases.progress import Progress
from folding.databases.state import FileRecord
from folding.errors import FoldingError, MissingResourceError

_CHUNK = 1 << 20


class UnpackError(MissingResourceError):
    """An archive is not what it claims to be (it is removed, to be downloaded again)."""


def unpack_all(
    fetched: list[tuple[Download, Path, str]], root: Path, keep_archives: bool,
    progress: Progress,
) -> dict[str, FileRecord]:
    """Unpack every fetched archive; return the records of the files it produced."""
    files: dict[str, FileRecord] = {}
    gunzip_groups: dict[Path, list[Path]] = {}
    for item, dest, sha in fetched:
        if item.unpack == "none":
            files[str(dest.relative_to(root))] = FileRecord(dest.stat().st_size, sha)
        elif item.unpack == "gunzip":
            target = dest.with_name(item.unpacked_name)
            gunzip_groups.setdefault(target, []).append(dest)
        else:
            progress.note(f"{item.name}: unpacking")
            files.update(_untar(dest, root / item.into, root, compressed=item.unpack == "tar.gz"))
    for target, sources in gunzip_groups.items():
        progress.note(f"{target.name}: decompressing")
        files[str(target.relative_to(root))] = _gunzip(sources, target)
    if not keep_archives:
        for item, dest, _ in fetched:
            if item.unpack != "none" and dest.exists():
                dest.unlink()
    return files


def _gunzip(sources: Iterable[Path], target: Path) -> FileRecord:
    """Decompress one or more .gz files, concatenated, into ``target`` (atomically)."""
    digest = hashlib.sha256()
    size = 0
    with atomic_path(target) as tmp, open(tmp, "wb") as out:
        for source in sources:
            try:
                with gzip.open(source, "rb") as stream:
                    while chunk := stream.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        size += len(chunk)
            except (OSError, EOFError, gzip.BadGzipFile) as error:
                source.unlink(missing_ok=True)
                raise UnpackError(
                    f"{source.name} is not a valid gzip file ({error}); it was removed; run "
                    "the download again"
                ) from error
    return FileRecord(size, digest.hexdigest())


def _untar(archive: Path, into: Path, root: Path, compressed: bool) -> dict[str, FileRecord]:
    """Extract the regular files of a tar archive under ``into``; refuse paths outside it."""
    files: dict[str, FileRecord] = {}
    into.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:gz" if compressed else "r:") as tar:
            for member in tar:
                name = Path(member.name)
                if name.is_absolute() or ".." in name.parts:
                    raise UnpackError(
                        f"{archive.name}: member {member.name} points outside the folder; "
                        "refusing to unpack it"
                    )
                target = into / name
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                if not member.isfile():
                    continue
                source = tar.extractfile(member)
                if source is None:
                    continue
                digest = hashlib.sha256()
                target.parent.mkdir(parents=True, exist_ok=True)
                with source, atomic_path(target) as tmp, open(tmp, "wb") as out:
                    while chunk := source.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                files[str(target.relative_to(root))] = FileRecord(member.size, digest.hexdigest())
    except (tarfile.TarError, EOFError, OSError) as error:
        if isinstance(error, FoldingError):
            raise
        archive.unlink(missing_ok=True)
        raise UnpackError(
            f"{archive.name} is not a valid tar archive ({error}); it was removed; run the "
            "download again"
        ) from error
    return files


#: rsync's exit statuses that mean something to a user (rsync(1), EXIT VALUES).
_RSYNC_REASONS = {
    5: "the server refused the request (is the module name right?)",
    10: "cannot connect to the rsync server (offline, a firewall, or the wrong host or port)",
    12: "the connection broke mid-transfer",
    23: "some files could not be transferred",
    30: "the transfer stalled (timeout)",
    35: "timed out connecting to the rsync server",
}


def rsync_mmcif(
    db: Database, root: Path, progress: Progress, timeout: float = 60.0, fix: str = "",
) -> dict[str, FileRecord]:
    """Mirror the PDB's divided mmCIF tree with rsync, then flatten and decompress it.

    This is how AlphaFold's ``download_pdb_mmcif.sh`` builds ``pdb_mmcif/mmcif_files``:
    ``<root>/pdb_mmcif/raw/`` mirrors the server's ``XX/xxxx.cif.gz`` tree (kept, so a
    re-run transfers only what changed), and every ``.cif.gz`` newer than its
    ``mmcif_files/xxxx.cif`` is decompressed there, atomically. rsync resumes by itself.
    ``timeout`` bounds the connection attempt; an unreachable server fails with one line.
    """
    from folding.data.tools.base import find_binary

    rsync = find_binary("rsync")
    mmcif_dir = next((root / e.path for e in db.layout if e.kind == "dir"), root / db.name)
    raw = mmcif_dir.parent / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    url = str(db.rsync_url)
    argv: list[str] = [rsync, "--recursive", "--links", "--perms", "--times", "--compress",
                       "--delete", f"--timeout={max(600, int(timeout))}"]
    if "::" in url or url.startswith("rsync://"):
        argv.append(f"--contimeout={max(1, int(timeout))}")
    if db.rsync_port:
        argv.append(f"--port={db.rsync_port}")
    where = url + (f" (port {db.rsync_port})" if db.rsync_port else "")
    progress.note(f"{db.name}: rsync from {where} (this takes hours for the full PDB)")
    completed = subprocess.run([*argv, url, f"{raw}/"], capture_output=True, text=True,
                               errors="replace", check=False)
    if completed.returncode != 0:
        reason = _RSYNC_REASONS.get(completed.returncode, f"exit status {completed.returncode}")
        lines = [line.strip() for line in completed.stderr.splitlines() if line.strip()]
        detail = next((line for line in lines if line.startswith("rsync:")), lines[-1] if lines
                      else "")
        raise MissingResourceError(
            f"{db.name}: rsync from {where} failed: {reason}" + (f" ({detail})" if detail else "")
            + f"; check the network and run again to resume: {fix or 'the same command'}"
        )
    mmcif_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for source in sorted(raw.rglob("*.cif.gz")):
        target = mmcif_dir / source.name[:-3]
        if target.exists() and target.stat().st_mtime >= source.stat().st_mtime:
            continue
        try:
            with gzip.open(source, "rb") as stream, atomic_path(target) as tmp, \
                    open(tmp, "wb") as out:
                shutil.copyfileobj(stream, out, _CHUNK)
        except (OSError, EOFError) as error:
            source.unlink(missing_ok=True)
            raise UnpackError(
                f"{source.name} from {where} is not a valid gzip file ({error}); it was "
                f"removed; run again to fetch it anew: {fix or 'the same command'}"
            ) from error
        count += 1
    progress.note(f"{db.name}: {count} mmCIF files decompressed")
    return {}
