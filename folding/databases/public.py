"""Build the demo database tree from the public services (``build-demo --from public``).

Where the real data folder is absent (a fresh Colab runtime, a laptop) the demo tree can
be built from the services that publish the same kinds of data, following the ``public``
recipe of ``databases/demo.yaml``:

* the sequence databases from UniProt's REST API (``/uniprotkb/search?format=fasta``, one
  page of at most 500 entries per query): the example proteins' families (C-type
  lysozymes for P61626, globins), a bacterial reference proteome as background, and
  unreviewed family members standing in for the metagenomic (MGnify) and BFD hits, which
  only AlphaFold's own search outputs in the real data folder hold;
* ``pdb_seqres/pdb_seqres.txt``: the wwPDB's ``pdb_seqres.txt`` (about 270 MB, fetched
  resumably, then filtered to the chains of the recipe's PDB entries);
* ``pdb_mmcif/``: those entries' mmCIF files from RCSB (``/download/<id>.cif.gz``) and the
  wwPDB's ``obsolete.dat``.

Every download goes through the resumable, retrying fetcher of
:mod:`folding.databases.download` into ``<dir>/.folding/public/`` (removed when the build
succeeds); every database file is written atomically and recorded with its SHA-256, so
``folding databases check --preset demo`` verifies the tree as it verifies a shared-data
build. Base URLs are settings (:class:`PublicSources`), so mirrors and the tests'
loopback servers stand in for the real services.
"""

from __future__ import annotations

import gzip
import shutil
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from folding.atomic import atomic_path
from folding.databases.download import DownloadOptions, fetch_file
from folding.databases.manifest import Manifest, load_preset
from folding.errors import FoldingError, InputError, MissingResourceError

#: The demo's sequence databases, in the order they are built.
SEQUENCE_DATABASES = ("uniref90", "mgnify", "small_bfd", "uniprot")
#: UniProt's search endpoint returns at most this many entries per page.
PAGE_SIZE = 500


@dataclass(frozen=True)
class PublicSources:
    """Base URLs of the public services (no trailing slash)."""

    uniprot: str = "https://rest.uniprot.org"
    rcsb: str = "https://files.rcsb.org"
    wwpdb: str = "https://files.wwpdb.org"

    def uniprot_query(self, query: str, limit: int) -> str:
        parameters = urllib.parse.urlencode(
            {"query": query, "format": "fasta", "size": min(limit, PAGE_SIZE)})
        return f"{self.uniprot.rstrip('/')}/uniprotkb/search?{parameters}"

    def seqres(self) -> str:
        return f"{self.wwpdb.rstrip('/')}/pub/pdb/derived_data/pdb_seqres.txt"

    def obsolete(self) -> str:
        return f"{self.wwpdb.rstrip('/')}/pub/pdb/data/status/obsolete.dat"

    def mmcif(self, pdb_id: str) -> str:
        return f"{self.rcsb.rstrip('/')}/download/{pdb_id}.cif.gz"


@dataclass(frozen=True)
class UniProtQuery:
    """One UniProt query of the recipe: what it fetches and at most how many entries."""

    database: str
    query: str
    limit: int = PAGE_SIZE
    why: str = ""


@dataclass(frozen=True)
class PublicRecipe:
    """What the public build fetches: UniProt queries per database and PDB entries."""

    queries: tuple[UniProtQuery, ...]
    pdb_ids: tuple[str, ...]


def load_recipe(manifest: Manifest | None = None) -> PublicRecipe:
    """The ``public`` section of the demo manifest."""
    import yaml

    manifest = manifest or load_preset("demo")
    if manifest.path is None:
        raise InputError("the demo manifest has no file to read its public recipe from")
    data = yaml.safe_load(manifest.path.read_text()).get("public")
    where = f"{manifest.path}: public"
    if not isinstance(data, dict) or not data.get("uniprot") or not data.get("pdb_ids"):
        raise InputError(f"{where} needs 'uniprot' queries and 'pdb_ids'; fix the manifest")
    queries = []
    for item in data["uniprot"]:
        if not isinstance(item, dict) or item.get("database") not in SEQUENCE_DATABASES \
                or not item.get("query"):
            raise InputError(f"{where}: each uniprot entry needs a database (one of "
                             f"{', '.join(SEQUENCE_DATABASES)}) and a query")
        limit = int(item.get("limit", PAGE_SIZE))
        if not 0 < limit <= PAGE_SIZE:
            raise InputError(f"{where}: limit {limit} must be 1-{PAGE_SIZE} (one page)")
        queries.append(UniProtQuery(item["database"], str(item["query"]), limit,
                                    str(item.get("why", ""))))
    missing = [db for db in SEQUENCE_DATABASES if db not in {q.database for q in queries}]
    if missing:
        raise InputError(f"{where}: no query fills {', '.join(missing)}")
    ids = tuple(str(i).lower() for i in data["pdb_ids"])
    if any(len(i) != 4 or not i.isalnum() for i in ids):
        raise InputError(f"{where}: pdb_ids must be four-character PDB identifiers")
    return PublicRecipe(tuple(queries), ids)


def build_public(
    root: Path, sources: PublicSources | None = None, recipe: PublicRecipe | None = None,
    options: DownloadOptions | None = None,
) -> tuple[tuple[tuple[str, str, int, int], ...], tuple[str, ...]]:
    """Build the demo tree under ``root`` from the public services.

    Returns the entries written (name, layout path, records or files, bytes) and the URLs
    fetched. A download that fails raises a one-line error with the command to resume.
    """
    from folding.databases.demo import _count_headers, _record, _write_fasta

    sources = sources or PublicSources()
    manifest = load_preset("demo")
    recipe = recipe or load_recipe(manifest)
    options = options or DownloadOptions(retries=2, timeout=60.0, backoff=1.0)
    cache = root / ".folding" / "public"
    cache.mkdir(parents=True, exist_ok=True)
    fix = f"folding databases build-demo --dir {root} --from public"
    urls: list[str] = []

    def get(url: str, name: str) -> Path:
        urls.append(url)
        target = cache / name
        try:
            fetch_file([url], target, options)
        except FoldingError as error:
            raise MissingResourceError(
                f"build-demo --from public: {error}; check the internet connection "
                f"(or the service URL) and run again to resume: {fix}"
            ) from error
        return target

    entries: list[tuple[str, str, int, int]] = []
    for database in SEQUENCE_DATABASES:
        queries = [q for q in recipe.queries if q.database == database]
        files = [get(sources.uniprot_query(q.query, q.limit), f"{database}_{k}.fasta")
                 for k, q in enumerate(queries)]
        records = _fasta_records(files)
        if not records:
            raise MissingResourceError(
                f"build-demo --from public: UniProt returned no sequences for {database} "
                f"({'; '.join(q.query for q in queries)}); fix the public queries in "
                "databases/demo.yaml"
            )
        entries.append(_write_fasta(manifest, root, database, records))

    seqres_download = get(sources.seqres(), "pdb_seqres.txt")
    seqres = root / "pdb_seqres" / "pdb_seqres.txt"
    chains = _filter_seqres(seqres_download, seqres, set(recipe.pdb_ids))
    missing = sorted(set(recipe.pdb_ids) - {line[1:5] for line in _headers(seqres)})
    if missing:
        raise MissingResourceError(
            f"{sources.seqres()} lists no chains of {', '.join(missing)}; the PDB withdrew "
            "them: remove them from the public pdb_ids of databases/demo.yaml"
        )
    _record(manifest, root, "pdb_seqres", [seqres], sources.seqres())
    entries.append(("pdb_seqres", "pdb_seqres/pdb_seqres.txt", chains, seqres.stat().st_size))

    mmcif_dir = root / "pdb_mmcif" / "mmcif_files"
    mmcif_dir.mkdir(parents=True, exist_ok=True)

    def one(pdb_id: str) -> Path:
        target = mmcif_dir / f"{pdb_id}.cif"
        if not target.is_file():
            download = get(sources.mmcif(pdb_id), f"{pdb_id}.cif.gz")
            try:
                with gzip.open(download, "rb") as stream, atomic_path(target) as tmp, \
                        open(tmp, "wb") as out:
                    shutil.copyfileobj(stream, out, 1 << 20)
            except (OSError, EOFError) as error:
                download.unlink(missing_ok=True)
                raise MissingResourceError(
                    f"{sources.mmcif(pdb_id)} is not a gzipped mmCIF file ({error}); run "
                    f"again: {fix}"
                ) from error
        return target

    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        cifs = list(pool.map(one, recipe.pdb_ids))
    obsolete = root / "pdb_mmcif" / "obsolete.dat"
    with atomic_path(obsolete) as tmp:
        shutil.copyfile(get(sources.obsolete(), "obsolete.dat"), tmp)
    _record(manifest, root, "pdb_mmcif", [*cifs, obsolete], sources.rcsb)
    entries.append(("pdb_mmcif", "pdb_mmcif/mmcif_files/", len(cifs),
                    sum(p.stat().st_size for p in cifs)))
    assert _count_headers(seqres) == chains
    shutil.rmtree(cache, ignore_errors=True)
    return tuple(entries), tuple(urls)


def _fasta_records(paths: list[Path]) -> list[tuple[str, str]]:
    from folding.data.parsers.fasta import parse_fasta
    from folding.databases.demo import _clean

    records = []
    for path in paths:
        text = path.read_text(errors="replace")
        if text.strip() and not text.lstrip().startswith(">"):
            raise MissingResourceError(
                f"{path.name}: the service answered with something other than FASTA "
                f"({text.strip()[:60]!r}...); check the UniProt URL"
            )
        records += [(r.name, _clean(r.sequence)) for r in parse_fasta(text)]
    return records


def _headers(path: Path) -> list[str]:
    with open(path) as handle:
        return [line for line in handle if line.startswith(">")]


def _filter_seqres(source: Path, target: Path, ids: set[str]) -> int:
    """Copy the records of ``source`` (wwPDB seqres format) whose entry is in ``ids``."""
    chains = 0
    keep = False
    with open(source, errors="replace") as handle, atomic_path(target) as tmp, \
            open(tmp, "w") as out:
        for line in handle:
            if line.startswith(">"):
                keep = line[1:5].lower() in ids
                chains += keep
            if keep:
                out.write(line)
    return chains
