"""Database manifests: what each preset needs, where it comes from, how it is laid out.

A manifest (``databases/<preset>.yaml``) lists databases. Each database names its
downloads (mirror URLs, archive name, checksum and size where the publisher fixes them,
how to unpack), the files it leaves in the database tree (its *layout*, relative to the
database folder, in the layout AlphaFold's download scripts produce) and descriptive
fields (version, licence, approximate sizes). ``folding databases download`` fetches
downloads, ``check`` compares the tree with the layout, and the workflow asks the same
layout which files a preset needs before any job starts.

Upstream publishers give no checksums for most of these files (and some, such as
UniRef90, change with every release): a download without a manifest checksum records
the SHA-256 it computed (trust on first use), and ``check`` compares against that record.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from folding.errors import InputError

#: How a download is turned into layout files.
UNPACK_KINDS = ("none", "gunzip", "tar", "tar.gz")
#: Where a database comes from: HTTP(S) downloads, an rsync mirror, files fetched when a
#: template search hits them, or the demo builder.
SOURCE_KINDS = ("http", "rsync", "on_demand", "demo")
PRESETS = ("full_dbs", "reduced_dbs", "demo")


@dataclass(frozen=True)
class Download:
    """One file to fetch: mirror URLs tried in order, then unpacked into ``into``."""

    name: str
    urls: tuple[str, ...]
    into: str
    unpack: str = "none"
    sha256: str | None = None
    size: int | None = None
    output: str | None = None

    @property
    def unpacked_name(self) -> str:
        """The file a gunzip download becomes (downloads sharing it are concatenated)."""
        if self.output:
            return self.output
        return self.name[:-3] if self.name.endswith(".gz") else self.name


@dataclass(frozen=True)
class LayoutEntry:
    """A file (or, with ``kind='dir'``, a folder) the database leaves in the tree."""

    path: str
    kind: str = "file"
    sha256: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Database:
    """One database of a preset (or the model parameters, as the ``params`` entry)."""

    name: str
    description: str
    version: str
    license: str
    source: str
    layout: tuple[LayoutEntry, ...]
    downloads: tuple[Download, ...] = ()
    rsync_url: str | None = None
    rsync_port: int | None = None
    on_demand_urls: tuple[str, ...] = ()
    disk_gb: float | None = None
    download_gb: float | None = None
    optional: bool = False
    note: str = ""


@dataclass(frozen=True)
class Manifest:
    """A preset's databases, in manifest order."""

    preset: str
    description: str
    databases: tuple[Database, ...]
    path: Path | None = field(default=None, compare=False)

    def names(self) -> tuple[str, ...]:
        return tuple(db.name for db in self.databases)

    def get(self, name: str) -> Database:
        for db in self.databases:
            if db.name == name:
                return db
        raise InputError(
            f"preset {self.preset} has no database '{name}'; choose from {', '.join(self.names())}"
        )

    def select(self, only: str | None) -> tuple[Database, ...]:
        """The databases named in ``only`` (comma-separated), or all of them."""
        if not only:
            return self.databases
        return tuple(self.get(name.strip()) for name in only.split(",") if name.strip())

    @property
    def disk_gb(self) -> float:
        return sum(db.disk_gb or 0.0 for db in self.databases if not db.optional)

    @property
    def download_gb(self) -> float:
        return sum(db.download_gb or 0.0 for db in self.databases if not db.optional)


def manifest_dir() -> Path:
    """The folder of manifests: ``$FOLDING_MANIFEST_DIR``, else ``databases/`` of the checkout."""
    override = os.environ.get("FOLDING_MANIFEST_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "databases"


def load_preset(preset: str) -> Manifest:
    """The manifest of a named preset."""
    if preset not in PRESETS:
        raise InputError(f"unknown preset '{preset}'; choose one of {', '.join(PRESETS)}")
    path = manifest_dir() / f"{preset}.yaml"
    if not path.is_file():
        raise InputError(
            f"manifest {path} for preset {preset} not found; run from a folding checkout "
            "or set FOLDING_MANIFEST_DIR to its databases/ folder"
        )
    return load_manifest(path)


def load_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read and check a manifest file; errors name the file and the bad entry."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise InputError(f"{path}: cannot read manifest ({error}); fix the file") from error
    if not isinstance(data, dict) or not isinstance(data.get("databases"), dict):
        raise InputError(f"{path}: a manifest needs 'preset' and a 'databases' mapping")
    databases = tuple(
        _database(path, name, entry) for name, entry in data["databases"].items()
    )
    return Manifest(
        preset=str(data.get("preset") or path.stem),
        description=" ".join(str(data.get("description", "")).split()),
        databases=databases,
        path=path,
    )


def _database(path: Path, name: str, entry: Any) -> Database:
    where = f"{path}: database '{name}'"
    if not isinstance(entry, dict):
        raise InputError(f"{where} must be a mapping")
    source = str(entry.get("source", "http"))
    if source not in SOURCE_KINDS:
        raise InputError(f"{where}: source '{source}' is not one of {', '.join(SOURCE_KINDS)}")
    layout = tuple(_layout(where, item) for item in entry.get("layout") or ())
    if not layout:
        raise InputError(f"{where} lists no layout files")
    downloads = tuple(_download(where, item) for item in entry.get("downloads") or ())
    if source == "http" and not downloads:
        raise InputError(f"{where}: an http database needs at least one download")
    if source == "rsync" and not entry.get("rsync_url"):
        raise InputError(f"{where}: an rsync database needs rsync_url")
    if source == "on_demand" and not entry.get("on_demand_url"):
        raise InputError(f"{where}: an on_demand database needs on_demand_url")
    return Database(
        name=name,
        description=" ".join(str(entry.get("description", "")).split()),
        version=str(entry.get("version", "")),
        license=str(entry.get("license", "")),
        source=source,
        layout=layout,
        downloads=downloads,
        rsync_url=entry.get("rsync_url"),
        rsync_port=entry.get("rsync_port"),
        on_demand_urls=tuple(_strings(entry.get("on_demand_url"))),
        disk_gb=_float(entry.get("disk_gb")),
        download_gb=_float(entry.get("download_gb")),
        optional=bool(entry.get("optional", False)),
        note=" ".join(str(entry.get("note", "")).split()),
    )


def _layout(where: str, item: Any) -> LayoutEntry:
    if isinstance(item, str):
        item = {"path": item}
    if not isinstance(item, dict) or "path" not in item:
        raise InputError(f"{where}: layout entries are paths or mappings with 'path'")
    rel = str(item["path"])
    if rel.startswith("/") or ".." in Path(rel).parts:
        raise InputError(f"{where}: layout path {rel} must be relative, inside the tree")
    kind = "dir" if rel.endswith("/") else str(item.get("kind", "file"))
    return LayoutEntry(
        path=rel.rstrip("/"), kind=kind, sha256=item.get("sha256"),
        size=None if item.get("size") is None else int(item["size"]),
    )


def _download(where: str, item: Any) -> Download:
    if not isinstance(item, dict) or not item.get("url"):
        raise InputError(f"{where}: each download needs a 'url' (or a list of mirror URLs)")
    urls = item["url"] if isinstance(item["url"], list) else [item["url"]]
    name = str(item.get("name") or Path(str(urls[0]).split("?")[0]).name)
    unpack = str(item.get("unpack", "none"))
    if unpack not in UNPACK_KINDS:
        raise InputError(f"{where}: unpack '{unpack}' is not one of {', '.join(UNPACK_KINDS)}")
    into = str(item.get("into", ""))
    if into.startswith("/") or ".." in Path(into).parts:
        raise InputError(f"{where}: 'into' {into} must be a relative folder")
    sha = item.get("sha256")
    return Download(
        name=name, urls=tuple(str(u) for u in urls), into=into.rstrip("/"), unpack=unpack,
        sha256=str(sha).lower() if sha else None,
        size=None if item.get("size") is None else int(item["size"]),
        output=item.get("output"),
    )


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _float(value: Any) -> float | None:
    return None if value is None else float(value)
