"""What folding recorded about a database tree: one JSON record per installed database.

``<dir>/.folding/<name>.json`` is written (atomically) when a download or a demo build
of that database completes. It lists every layout file with its size and SHA-256, so
``folding databases check`` can tell a complete file from a truncated or corrupted one
long after the archive that delivered it is gone, and ``download`` can skip what is
already installed (it is idempotent).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from folding.atomic import write_json

STATE_DIR = ".folding"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class FileRecord:
    """A file as installed: its size and SHA-256 (``None`` when not hashed)."""

    size: int
    sha256: str | None = None


@dataclass(frozen=True)
class InstallRecord:
    """One database as folding installed it."""

    name: str
    preset: str
    version: str
    sources: tuple[str, ...]
    files: Mapping[str, FileRecord] = field(hash=False)
    completed: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "preset": self.preset,
            "version": self.version,
            "sources": list(self.sources),
            "completed": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.completed)),
            "files": {
                rel: {"size": rec.size, "sha256": rec.sha256} for rel, rec in self.files.items()
            },
        }


def record_path(root: Path, name: str) -> Path:
    return root / STATE_DIR / f"{name}.json"


def write_record(root: Path, record: InstallRecord) -> None:
    write_json(record_path(root, record.name), record.to_json())


def read_record(root: Path, name: str) -> InstallRecord | None:
    """The record of database ``name`` under ``root``, or ``None`` (absent or unreadable)."""
    path = record_path(root, name)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    files = {
        rel: FileRecord(size=int(rec["size"]), sha256=rec.get("sha256"))
        for rel, rec in (data.get("files") or {}).items()
    }
    completed = data.get("completed")
    try:
        stamp = time.mktime(time.strptime(completed, "%Y-%m-%dT%H:%M:%SZ")) if completed else 0.0
    except ValueError:
        stamp = 0.0
    return InstallRecord(
        name=str(data.get("name", name)), preset=str(data.get("preset", "")),
        version=str(data.get("version", "")), sources=tuple(data.get("sources") or ()),
        files=files, completed=stamp,
    )


def remove_record(root: Path, name: str) -> None:
    path = record_path(root, name)
    if path.exists():
        path.unlink()


def sha256_file(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
