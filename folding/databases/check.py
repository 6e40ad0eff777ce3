"""Compare a database tree with a preset's manifest: what is missing, what is corrupt.

A layout file is *missing* when it is not there, *corrupt* when its size or checksum
differs from the manifest or from the record folding wrote when it installed the file.
Checksums are read back for files up to ``HASH_LIMIT`` bytes (all of them with
``deep=True``); bigger files are checked by size, so a check of a 2 TB tree takes
seconds. Files installed by other tools (no record) are reported as unverified, not
as errors.

The report ends with the one command that fixes it (``folding databases download ...
--only <the broken databases>``, or ``build-demo`` for the demo preset).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from folding.databases.manifest import Database, Manifest
from folding.databases.state import read_record, sha256_file

#: Files up to this size are re-hashed by a default check (256 MB).
HASH_LIMIT = 256 * 1000 * 1000


@dataclass(frozen=True)
class Problem:
    """One bad layout entry: ``missing`` or ``corrupt``, with why."""

    database: str
    path: str
    kind: str
    detail: str = ""

    def line(self) -> str:
        extra = f" ({self.detail})" if self.detail else ""
        return f"{self.kind}: {self.path}{extra}"


@dataclass(frozen=True)
class CheckReport:
    """The outcome of checking a tree against a manifest."""

    preset: str
    root: Path
    databases: tuple[str, ...]
    problems: tuple[Problem, ...]
    unverified: tuple[str, ...]
    demo: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def broken(self) -> tuple[str, ...]:
        names: list[str] = []
        for problem in self.problems:
            if problem.database not in names:
                names.append(problem.database)
        return tuple(names)

    def fix_command(self) -> str:
        if self.demo:
            return f"folding databases build-demo --dir {self.root}"
        only = f" --only {','.join(self.broken)}" if self.broken else ""
        return f"folding databases download --preset {self.preset} --dir {self.root}{only}"

    def one_line(self, what: str = "database_dir") -> str:
        """The whole report as one line (for errors before a workflow starts)."""
        missing = [p.path for p in self.problems if p.kind == "missing"]
        corrupt = [p.path for p in self.problems if p.kind == "corrupt"]
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing: {', '.join(missing)}")
        if corrupt:
            parts.append(f"{len(corrupt)} corrupt: {', '.join(corrupt)}")
        return (
            f"{what} {self.root} is incomplete for preset {self.preset} "
            f"({'; '.join(parts)}); run: {self.fix_command()}"
        )


def check_tree(
    manifest: Manifest,
    root: str | Path,
    only: str | None = None,
    deep: bool = False,
    hash_files: bool = True,
    include_optional: bool = False,
    exclude: tuple[str, ...] = (),
) -> CheckReport:
    """Check the (selected) databases of ``manifest`` under ``root``.

    ``hash_files=False`` checks presence and sizes only (what the workflow does before
    it starts); ``deep=True`` re-hashes every recorded file whatever its size.
    """
    root = Path(root).resolve() if Path(root).exists() else Path(root)
    databases = [
        db for db in manifest.select(only)
        if db.name not in exclude and (include_optional or only or not db.optional)
    ]
    problems: list[Problem] = []
    unverified: list[str] = []
    for db in databases:
        found, verified = _check_database(db, root, deep, hash_files)
        problems.extend(found)
        if not verified and not found:
            unverified.append(db.name)
    return CheckReport(
        preset=manifest.preset, root=root, databases=tuple(db.name for db in databases),
        problems=tuple(problems), unverified=tuple(unverified),
        demo=any(db.source == "demo" for db in databases if db.name in
                 {p.database for p in problems}),
    )


def _check_database(
    db: Database, root: Path, deep: bool, hash_files: bool
) -> tuple[list[Problem], bool]:
    problems: list[Problem] = []
    record = read_record(root, db.name)
    for entry in db.layout:
        path = root / entry.path
        if entry.kind == "dir":
            if not path.is_dir():
                problems.append(Problem(db.name, entry.path + "/", "missing"))
            continue
        if not path.is_file():
            problems.append(Problem(db.name, entry.path, "missing"))
            continue
        size = path.stat().st_size
        expected_size = entry.size
        expected_sha = entry.sha256
        recorded = record.files.get(entry.path) if record is not None else None
        if recorded is not None:
            expected_size = recorded.size if expected_size is None else expected_size
            expected_sha = recorded.sha256 if expected_sha is None else expected_sha
        if expected_size is not None and size != expected_size:
            problems.append(Problem(
                db.name, entry.path, "corrupt", f"{size} bytes, expected {expected_size}"
            ))
            continue
        if expected_sha and hash_files and (deep or size <= HASH_LIMIT):
            actual = sha256_file(path)
            if actual != expected_sha:
                problems.append(Problem(
                    db.name, entry.path, "corrupt",
                    f"SHA-256 {actual[:12]}..., expected {expected_sha[:12]}...",
                ))
    return problems, record is not None
