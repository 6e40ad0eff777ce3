"""Stage manifests: what each workflow stage ran on, with what, and how long it took.

Every stage of the workflow leaves ``<target>/provenance/<stage>.json`` (searches leave
theirs in the search cache, and the per-target copy step adds the target's): a JSON
object with

* ``stage`` and ``seconds`` (what ``timings.json`` sums), ``started``/``finished`` (UTC);
* ``command``: the argument list that ran;
* ``sequence_sha256``: the hash of the target's sequence, where the stage depends on it;
* ``databases``: the identity of every database file read: path, size, modification
  time and, when folding installed the file, its recorded SHA-256;
* ``tools``: the versions of folding and of the programs and libraries the stage used;
* ``config``: the settings that change this stage's result (and only those);
* ``details``: records the stage's own program wrote (e.g. the search's ``<file>.json``).

The files are written atomically, after the stage's command succeeded: a stage that
was killed leaves no manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from folding import __version__
from folding.atomic import write_json

PROVENANCE_DIR = "provenance"

#: Python distributions whose version a stage may record (import name -> distribution).
_LIBRARIES = {
    "pyhmmer": "pyhmmer", "jax": "jax", "haiku": "dm-haiku", "numpy": "numpy",
    "openmm": "openmm", "pdbfixer": "pdbfixer", "gemmi": "gemmi", "snakemake": "snakemake",
    "matplotlib": "matplotlib",
}
#: Programs whose version a stage may record: name -> (arguments, regular expression).
_PROGRAMS = {
    "hhblits": (("-h",), r"^(HHblits \S+)"),
    "hhsearch": (("-h",), r"^(HHsearch \S+)"),
    "hmmsearch": (("-h",), r"^# (HMMER \S+)"),
    "hmmbuild": (("-h",), r"^# (HMMER \S+)"),
    "jackhmmer": (("-h",), r"^# (HMMER \S+)"),
    "mmseqs": (("version",), r"^(\S+)"),
    "kalign": (("--version",), r"(\d+\.\d+\.\d+)"),
}


def sequence_sha256(sequence: str) -> str:
    """SHA-256 of an upper-case sequence (chains joined by ``:``)."""
    return hashlib.sha256(sequence.strip().upper().encode()).hexdigest()


@dataclass(frozen=True)
class DatabaseIdentity:
    """Who a database file is: where, how big, when last changed, and its checksum if known."""

    path: str
    size: int
    mtime: float
    sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "size": self.size, "mtime": self.mtime}
        if self.sha256:
            data["sha256"] = self.sha256
        return data

    def key(self) -> dict[str, Any]:
        """What identifies the content: the checksum when known, else path, size and time."""
        if self.sha256:
            return {"size": self.size, "sha256": self.sha256}
        return {"path": self.path, "size": self.size, "mtime": self.mtime}


def database_identity(path: str | os.PathLike[str]) -> DatabaseIdentity:
    """The identity of one database file (its install record's SHA-256, when there is one).

    A missing file has size -1: it still has an identity, so a later download changes it.
    """
    path = Path(path).absolute()
    try:
        stat = path.stat()
    except OSError:
        return DatabaseIdentity(str(path), -1, 0.0)
    return DatabaseIdentity(
        str(path), stat.st_size, round(stat.st_mtime, 3), _recorded_sha256(path, stat.st_size)
    )


def _recorded_sha256(path: Path, size: int) -> str | None:
    """The SHA-256 ``folding databases`` recorded for ``path`` in an ancestor's ``.folding/``."""
    for root in path.parents:
        state = root / ".folding"
        if not state.is_dir():
            continue
        rel = str(path.relative_to(root))
        for record_file in sorted(state.glob("*.json")):
            try:
                files = json.loads(record_file.read_text()).get("files") or {}
            except (OSError, ValueError):
                continue
            entry = files.get(rel)
            if entry and entry.get("size") == size and entry.get("sha256"):
                return str(entry["sha256"])
        return None
    return None


def tool_versions(names: Iterable[str]) -> dict[str, str]:
    """Versions of folding and of the named libraries and programs (``"unknown"`` if silent)."""
    from importlib import metadata

    versions = {"folding": __version__, "python": platform.python_version()}
    for name in names:
        if name in _LIBRARIES:
            try:
                versions[name] = metadata.version(_LIBRARIES[name])
            except metadata.PackageNotFoundError:
                versions[name] = "not installed"
        elif name in _PROGRAMS:
            from folding.data.tools.base import tool_version

            args, pattern = _PROGRAMS[name]
            versions[name] = tool_version(name, args, pattern)
    return versions


@dataclass(frozen=True)
class StageRecord:
    """One stage manifest, as written to ``provenance/<stage>.json``."""

    stage: str
    seconds: float
    started: float
    command: tuple[str, ...]
    sequence_sha256: str | None = None
    databases: tuple[DatabaseIdentity, ...] = ()
    tools: Mapping[str, str] = field(default_factory=dict, hash=False)
    config: Mapping[str, Any] = field(default_factory=dict, hash=False)
    details: Mapping[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        for name in ("tools", "config", "details"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "stage": self.stage,
            "seconds": round(self.seconds, 3),
            "started": _utc(self.started),
            "finished": _utc(self.started + self.seconds),
            "host": platform.node(),
            "command": list(self.command),
        }
        if self.sequence_sha256:
            data["sequence_sha256"] = self.sequence_sha256
        if self.databases:
            data["databases"] = [db.to_json() for db in self.databases]
        data["tools"] = dict(self.tools)
        if self.config:
            data["config"] = dict(self.config)
        if self.details:
            data["details"] = dict(self.details)
        return data


def write_stage_record(path: str | os.PathLike[str], record: StageRecord) -> None:
    write_json(path, record.to_json())


def read_stage_record(path: str | os.PathLike[str]) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def parse_settings(items: Sequence[str]) -> dict[str, Any]:
    """``key=value`` strings -> a mapping; values that read as JSON are kept typed."""
    settings: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"setting '{item}' is not key=value")
        try:
            settings[key] = json.loads(value)
        except ValueError:
            settings[key] = value
    return settings


def _utc(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
