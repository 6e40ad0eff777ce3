"""Fetch the mmCIF files of template hits when a search finds them (on-demand pdb_mmcif).

AlphaFold reads the mmCIF file of a template hit only to featurise it, so instead of a
238 GB mirror of the whole PDB, ``reduced_dbs`` keeps ``pdb_mmcif/mmcif_files/``
filled with the entries its template searches actually hit. The hit files are read in
order (best first; hmmsearch Stockholm, HHsearch .hhr or MMseqs2 .m8), the first
``limit`` distinct PDB entries that are not there yet are downloaded from the manifest's
``on_demand_url`` mirrors (``{pdb_id}`` and ``{middle}``, the two middle characters of
the identifier, are filled in), decompressed and written atomically. An entry the PDB
no longer serves (obsolete) is recorded as unavailable, not an error: AlphaFold skips
templates it cannot read.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from folding.atomic import atomic_path, write_json
from folding.databases.manifest import Manifest
from folding.errors import FoldingError, InputError, MissingResourceError

_PDB_ID = re.compile(r"^([0-9][A-Za-z0-9]{3})[_:]?")


@dataclass(frozen=True)
class FetchResult:
    """Entries fetched now, already present, and unavailable (with the reason)."""

    fetched: tuple[str, ...]
    present: tuple[str, ...]
    failed: tuple[tuple[str, str], ...]

    def to_json(self) -> dict:
        return {
            "fetched": list(self.fetched),
            "present": list(self.present),
            "unavailable": {pdb_id: reason for pdb_id, reason in self.failed},
        }


def hit_pdb_ids(paths: Iterable[Path]) -> list[str]:
    """Distinct PDB identifiers (lower case) of the hits in template hit files, in order."""
    ids: list[str] = []
    seen: set[str] = set()
    for path in paths:
        if not path.is_file():
            raise InputError(f"template hit file {path} not found; run the template search first")
        for name in _hit_names(path):
            match = _PDB_ID.match(name)
            if match and match.group(1).lower() not in seen:
                seen.add(match.group(1).lower())
                ids.append(match.group(1).lower())
    return ids


def _hit_names(path: Path) -> Iterable[str]:
    text = path.read_text(errors="replace")
    if path.suffix == ".hhr":
        for line in text.splitlines():
            if line.startswith(">"):
                yield line[1:].split()[0]
    elif path.suffix == ".m8":
        for line in text.splitlines():
            fields = line.split("\t")
            if len(fields) > 1:
                yield fields[1]
    else:
        first = True
        for line in text.splitlines():
            if not line.strip() or line.startswith(("#", "//")):
                continue
            name = line.split()[0]
            if first:  # the query row
                first = False
                continue
            yield name


def fetch_template_mmcifs(
    manifest: Manifest, root: Path, hit_files: Sequence[Path], limit: int = 100,
    record: Path | None = None, jobs: int = 4,
) -> FetchResult:
    """Fetch the mmCIF files of the first ``limit`` hit entries missing under ``root``."""
    from folding.databases.download import DownloadOptions, fetch_file

    db = manifest.get("pdb_mmcif")
    mmcif_dir = root / next((e.path for e in db.layout if e.kind == "dir"), "pdb_mmcif/mmcif_files")
    ids = hit_pdb_ids(hit_files)[:limit]
    present = tuple(i for i in ids if (mmcif_dir / f"{i}.cif").is_file())
    wanted = [i for i in ids if i not in present]
    if wanted and not db.on_demand_urls:
        raise MissingResourceError(
            f"{len(wanted)} template entries ({', '.join(wanted[:5])}...) are missing from "
            f"{mmcif_dir} and preset {manifest.preset} does not fetch them; run: folding "
            f"databases download --preset {manifest.preset} --dir {root} --only pdb_mmcif"
        )
    mmcif_dir.mkdir(parents=True, exist_ok=True)
    options = DownloadOptions(retries=2, timeout=30.0, backoff=0.5)

    def one(pdb_id: str) -> tuple[str, str | None]:
        urls = [u.format(pdb_id=pdb_id, middle=pdb_id[1:3]) for u in db.on_demand_urls]
        download = mmcif_dir / f".{pdb_id}.download{'.gz' if urls[0].endswith('.gz') else ''}"
        try:
            fetch_file(urls, download, options)
            target = mmcif_dir / f"{pdb_id}.cif"
            with atomic_path(target) as tmp:
                if download.suffix == ".gz":
                    with gzip.open(download, "rb") as stream:
                        tmp.write_bytes(stream.read())
                else:
                    tmp.write_bytes(download.read_bytes())
            return pdb_id, None
        except (FoldingError, OSError, EOFError) as error:
            return pdb_id, str(error)
        finally:
            download.unlink(missing_ok=True)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        outcomes = list(pool.map(one, wanted))
    result = FetchResult(
        fetched=tuple(i for i, err in outcomes if err is None),
        present=present,
        failed=tuple((i, err) for i, err in outcomes if err is not None),
    )
    if record is not None:
        write_json(record, result.to_json())
    return result
