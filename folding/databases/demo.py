"""Build the demo database tree from the project's real data.

The demo preset searches the same way AlphaFold's ``reduced_dbs`` does (jackhmmer on
UniRef90, MGnify and small BFD; hmmsearch on PDB seqres; template features from mmCIF),
on databases small enough to search in seconds. They are built, never committed, from
the real data folder (``$FOLDING_SHARED_DATA``, else ``../shared/data`` beside the
checkout):

* ``uniref90/uniref90.fasta``: every sequence set in ``sequences/`` (a bacterial
  proteome, Pfam families, globins, 500 UniProt entries) plus the full-length hit
  sequences of AlphaFold's own jackhmmer runs against UniRef90 and ColabFold's UniRef
  searches for the example proteins (``alignments/*/uniref90_hits.sto``, ``uniref.a3m``),
  so the example proteins find their real homologs;
* ``mgnify/mgy_clusters_2022_05.fa``: the MGnify hits of those runs;
* ``small_bfd/bfd-first_non_consensus_sequences.fasta``: the sequences of their BFD and
  environmental A3M hits;
* ``uniprot/uniprot.fasta``: real UniProt entries for AlphaFold-Multimer's pairing search:
  ``sequences/uniprot_500.fasta`` and the UniProt hits of AlphaFold's jackhmmer runs on the
  example proteins and complex chains (``alignments/*/uniprot_hits.sto``), named as UniProt
  names them (``tr|A0A0K0ME10|A0A0K0ME10_9STAP``: the species pairs rows across chains);
* ``pdb_seqres/pdb_seqres.txt`` and ``pdb_mmcif/`` (61 PDB entries): copied from
  ``templates/``.

Sequences are deduplicated by identifier, gaps removed and letters upper-cased; the
output is deterministic. Every file is written atomically and recorded with its
SHA-256 (``.folding/<name>.json``) so ``check`` catches later corruption.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from folding.atomic import atomic_path
from folding.databases.manifest import Manifest, load_preset
from folding.databases.state import FileRecord, InstallRecord, sha256_file, write_record
from folding.errors import MissingResourceError

_SEQUENCE_SUFFIXES = (".fa", ".faa", ".fasta")


@dataclass(frozen=True)
class DemoBuild:
    """What build-demo wrote: database name -> (file, sequences or files, bytes)."""

    root: Path
    source: Path
    entries: tuple[tuple[str, str, int, int], ...]
    seconds: float


def default_source() -> Path:
    """The real data folder: ``$FOLDING_SHARED_DATA``, else ``../shared/data``."""
    override = os.environ.get("FOLDING_SHARED_DATA")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[3] / "shared" / "data"


def demo_complete(root: Path) -> bool:
    """Whether every layout file of the demo preset exists under ``root``."""
    from folding.databases.check import check_tree

    return check_tree(load_preset("demo"), root, hash_files=False).ok


def build_demo(root: str | Path, source: str | Path | None = None) -> DemoBuild:
    """Build the demo tree under ``root`` from the real data folder ``source``."""
    start = time.perf_counter()
    root = Path(root)
    source = Path(source) if source is not None else default_source()
    if not (source / "sequences").is_dir() or not (source / "templates").is_dir():
        raise MissingResourceError(
            f"real data folder {source} lacks sequences/ or templates/; set "
            "FOLDING_SHARED_DATA or pass --source to the folder that holds them"
        )
    manifest = load_preset("demo")
    alignments = source / "alignments"
    entries: list[tuple[str, str, int, int]] = []

    uniref = list(_sequence_files(source / "sequences"))
    uniref += _stockholm_records(sorted(alignments.glob("*/uniref90_hits.sto")))
    uniref += _stockholm_records(sorted(alignments.glob("*/*/uniref90_hits.sto")))
    uniref += _a3m_records(sorted(alignments.glob("*/uniref.a3m")))
    entries.append(_write_fasta(manifest, root, "uniref90", uniref))

    mgnify = _stockholm_records(sorted(alignments.glob("*/mgnify_hits.sto")))
    mgnify += _stockholm_records(sorted(alignments.glob("*/*/mgnify_hits.sto")))
    entries.append(_write_fasta(manifest, root, "mgnify", mgnify))

    bfd_files = sorted(alignments.glob("*/bfd_*_hits.a3m")) + sorted(
        alignments.glob("*/*/bfd_*_hits.a3m")) + sorted(alignments.glob("*/bfd.*.a3m"))
    entries.append(_write_fasta(manifest, root, "small_bfd", _a3m_records(bfd_files)))

    uniprot = list(_sequence_files(source / "sequences", ("uniprot_500.fasta",)))
    uniprot += _stockholm_records(sorted(alignments.glob("*/uniprot_hits.sto")) + sorted(
        alignments.glob("*/*/uniprot_hits.sto")), strip_range=True)
    entries.append(_write_fasta(manifest, root, "uniprot", uniprot))

    seqres = root / "pdb_seqres" / "pdb_seqres.txt"
    _copy(source / "templates" / "pdb_seqres" / "pdb_seqres.txt", seqres)
    _record(manifest, root, "pdb_seqres", [seqres], source)
    entries.append(("pdb_seqres", "pdb_seqres/pdb_seqres.txt", _count_headers(seqres),
                    seqres.stat().st_size))

    mmcif_source = source / "templates" / "pdb_mmcif"
    mmcif_dir = root / "pdb_mmcif" / "mmcif_files"
    mmcif_dir.mkdir(parents=True, exist_ok=True)
    copied = []
    for cif in sorted((mmcif_source / "mmcif_files").glob("*.cif")):
        _copy(cif, mmcif_dir / cif.name)
        copied.append(mmcif_dir / cif.name)
    obsolete = root / "pdb_mmcif" / "obsolete.dat"
    _copy(mmcif_source / "obsolete.dat", obsolete)
    _record(manifest, root, "pdb_mmcif", [*copied, obsolete], source)
    entries.append(("pdb_mmcif", "pdb_mmcif/mmcif_files/", len(copied),
                    sum(p.stat().st_size for p in copied)))
    (root / "params").mkdir(parents=True, exist_ok=True)
    return DemoBuild(root, source, tuple(entries), time.perf_counter() - start)


def _write_fasta(
    manifest: Manifest, root: Path, name: str, records: Iterable[tuple[str, str]]
) -> tuple[str, str, int, int]:
    rel = manifest.get(name).layout[0].path
    path = root / rel
    seen: set[str] = set()
    count = 0
    with atomic_path(path) as tmp, open(tmp, "w") as out:
        for identifier, sequence in records:
            if not sequence or identifier in seen:
                continue
            seen.add(identifier)
            out.write(f">{identifier}\n{sequence}\n")
            count += 1
    _record(manifest, root, name, [path], None)
    return (name, rel, count, path.stat().st_size)


def _record(
    manifest: Manifest, root: Path, name: str, paths: list[Path], source: Path | str | None
) -> None:
    db = manifest.get(name)
    write_record(root, InstallRecord(
        name=name, preset="demo", version=db.version,
        sources=(f"build-demo from {source}" if source else "build-demo",),
        files={
            str(p.relative_to(root)): FileRecord(p.stat().st_size, sha256_file(p)) for p in paths
        },
        completed=time.time(),
    ))


def _copy(source: Path, target: Path) -> None:
    if not source.is_file():
        raise MissingResourceError(f"{source} not found; the real data folder is incomplete")
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)


def _count_headers(path: Path) -> int:
    with open(path) as handle:
        return sum(1 for line in handle if line.startswith(">"))


def _clean(sequence: str) -> str:
    return "".join(c for c in sequence.upper() if c.isalpha())


def _sequence_files(folder: Path, names: Iterable[str] | None = None
                    ) -> Iterator[tuple[str, str]]:
    """Records of every sequence file in ``folder`` (FASTA, or UniProt flat files), or of
    the files ``names`` there."""
    from folding.data.parsers.fasta import parse_fasta

    paths = [folder / name for name in names] if names is not None else \
        [p for p in folder.iterdir() if p.is_file()]
    for path in sorted(paths):
        text = path.read_text(errors="replace")
        if text.startswith(">"):
            for record in parse_fasta(text):
                yield record.name, _clean(record.sequence)
        elif text.startswith("ID   ") and path.suffix not in _SEQUENCE_SUFFIXES:
            yield from _swiss_records(text)


def _swiss_records(text: str) -> Iterator[tuple[str, str]]:
    """(ID, sequence) of each entry of a UniProt flat file (``ID`` ... ``SQ`` ... ``//``)."""
    name, chunks, in_sequence = "", [], False
    for line in text.splitlines():
        if line.startswith("ID   "):
            name, chunks, in_sequence = line.split()[1], [], False
        elif line.startswith("SQ   "):
            in_sequence = True
        elif line.startswith("//"):
            if name:
                yield name, _clean("".join(chunks))
            name, in_sequence = "", False
        elif in_sequence:
            chunks.append(line)


def _stockholm_records(paths: Iterable[Path], strip_range: bool = False
                       ) -> list[tuple[str, str]]:
    """Full hit sequences (all columns, gaps removed) of Stockholm files, query rows skipped;
    ``strip_range`` names them without jackhmmer's ``/start-end`` suffix."""
    records: list[tuple[str, str]] = []
    for path in paths:
        rows: dict[str, list[str]] = {}
        with open(path, errors="replace") as handle:
            for line in handle:
                if not line.strip() or line.startswith(("#", "//")):
                    continue
                parts = line.split()
                if len(parts) == 2:
                    rows.setdefault(parts[0], []).append(parts[1])
        names = list(rows)
        for name in names[1:]:  # the first row is the query
            identifier = name.partition("/")[0] if strip_range else name
            records.append((identifier, _clean("".join(rows[name]))))
    return records


def _a3m_records(paths: Iterable[Path]) -> list[tuple[str, str]]:
    """Hit sequences of A3M files (insertions kept, gaps removed), query rows skipped."""
    from folding.data.parsers.fasta import parse_fasta

    records: list[tuple[str, str]] = []
    for path in paths:
        parsed = parse_fasta(path.read_text(errors="replace"))
        for record in parsed[1:]:
            if record.name and not record.name.startswith("#"):
                records.append((record.name, _clean(record.sequence)))
    return records
