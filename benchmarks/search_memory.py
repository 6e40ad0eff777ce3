"""Benchmark: peak memory of the search stage against growing sequence databases.

reduced_dbs must search in 12 GB of RAM. Our jackhmmer stage (pyhmmer) streams the
database in byte ranges through pipes and keeps only the hits, so its memory should not
grow with the database's size. This measures it: synthetic FASTA databases of the sizes
given (``--sizes-gb``) are written to a scratch folder (deleted afterwards), and the
stage runs on each exactly as the workflow runs it (``folding search --tool jackhmmer
... --threads 8``, the thread count of the ``msa_jackhmmer`` rule), as its own process;
its peak resident set size comes from ``wait4``. The hmmsearch template stage
(``folding templates search --tool hmmsearch``) runs likewise on a synthetic PDB seqres
file of the largest size.

A synthetic database is the real sequences of ../shared/data once (so the query's real
homologs are there: lysozyme P61626's UniRef90 hits, Pfam families, a proteome), then
residue-shuffled copies of them up to the size (no homology, the bulk of a real
database for any one query), and ``--homologs N`` point-mutated copies (15 % of
residues) of the query's real UniRef90 hits, to show what many hits cost.

    .venv/bin/python benchmarks/search_memory.py [--sizes-gb 0.5 2] [--threads 8]
        [--homologs 0] [--db-name uniref90] [--scratch /tmp] [--keep] [--no-templates]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("FOLDING_SHARED_DATA", ROOT.parent / "shared" / "data"))
QUERY = DATA / "queries" / "P61626.fasta"
HITS = DATA / "alignments" / "P61626" / "uniref90_hits.sto"
AMINO = np.frombuffer(b"ACDEFGHIKLMNPQRSTVWY", dtype=np.uint8)


def real_records() -> list[tuple[str, bytes]]:
    """Every real sequence of ../shared/data/sequences plus P61626's UniRef90 hits."""
    from folding.data.parsers import parse_fasta

    records: list[tuple[str, bytes]] = []
    for path in sorted((DATA / "sequences").iterdir()):
        text = path.read_text(errors="replace")
        if text.startswith(">"):
            records += [(r.name, r.sequence.upper().encode()) for r in parse_fasta(text)]
    return records + hit_records()


def hit_records() -> list[tuple[str, bytes]]:
    rows: dict[str, list[str]] = {}
    for line in HITS.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith(("#", "//")):
            rows.setdefault(parts[0], []).append(parts[1])
    return [(name, "".join(c for c in "".join(chunks) if c.isalpha()).upper().encode())
            for name, chunks in list(rows.items())[1:]]


def write_database(path: Path, size: int, homologs: int, seqres: bool, seed: int = 0) -> int:
    """A FASTA (or PDB seqres) file of about ``size`` bytes; returns its record count."""
    rng = np.random.default_rng(seed)
    records = real_records()
    lengths = np.array([len(s) for _, s in records])
    residues = np.frombuffer(b"".join(s for _, s in records), dtype=np.uint8)
    residues = np.where(np.isin(residues, AMINO), residues, ord("A")).astype(np.uint8)
    count = 0

    def header(name: str, length: int) -> bytes:
        if seqres:
            return f">{count % 9000 + 1000:04d}_{count // 9000} mol:protein length:{length}  " \
                   f"{name}\n".encode()
        return f">{name}\n".encode()

    with open(path, "wb") as out:
        for name, sequence in records:
            out.write(header(name, len(sequence)) + sequence + b"\n")
            count += 1
        hits = hit_records()
        for k in range(homologs):
            name, sequence = hits[k % len(hits)]
            array = np.frombuffer(sequence, dtype=np.uint8).copy()
            mask = rng.random(len(array)) < 0.15
            array[mask] = rng.choice(AMINO, int(mask.sum()))
            out.write(header(f"{name}_m{k}", len(array)) + array.tobytes() + b"\n")
            count += 1
        copy = 0
        while out.tell() < size:
            shuffled = rng.permutation(residues).tobytes()
            offsets = np.concatenate([[0], np.cumsum(lengths)])
            chunks = []
            for i, (name, _) in enumerate(records):
                chunks.append(header(f"shuf{copy}_{name}", int(lengths[i])))
                chunks.append(shuffled[offsets[i]:offsets[i + 1]] + b"\n")
                count += 1
            out.write(b"".join(chunks))
            copy += 1
    return count


def measure(argv: list[str]) -> tuple[float, float]:
    """(peak RSS in GB, seconds) of a command run as a child process."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    stderr = process.stderr.read().decode() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {stderr.strip()}")
    return usage.ru_maxrss / 1e6, seconds  # ru_maxrss is in KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-gb", type=float, nargs="+", default=[0.5, 2.0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--homologs", type=int, default=0)
    parser.add_argument("--db-name", default="uniref90", choices=("uniref90", "small_bfd"),
                        help="uniref90 keeps 10,000 hits in its output, small_bfd all")
    parser.add_argument("--scratch", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--no-templates", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the synthetic files")
    args = parser.parse_args()
    folding = str(Path(sys.executable).parent / "folding")
    need = 1.1e9 * (max(args.sizes_gb) * 2 + 0.5)
    free = shutil.disk_usage(args.scratch).free
    if free < need:
        raise SystemExit(f"{args.scratch}: {free / 1e9:.1f} GB free, need {need / 1e9:.1f}")
    work = Path(tempfile.mkdtemp(prefix="search_memory_", dir=args.scratch))
    rows: list[str] = []
    try:
        for size_gb in args.sizes_gb:
            database = work / f"db_{size_gb:g}GB.fasta"
            t0 = time.perf_counter()
            count = write_database(database, int(size_gb * 1e9), args.homologs, seqres=False)
            print(f"# {database.name}: {count} sequences, {database.stat().st_size / 1e9:.2f} "
                  f"GB, written in {time.perf_counter() - t0:.0f} s", flush=True)
            out = work / f"msas_{size_gb:g}"
            argv = [folding, "search", "--tool", "jackhmmer", "--query", str(QUERY),
                    "--database", str(database), "--db-name", args.db_name,
                    "--threads", str(args.threads), "--output-dir", str(out)]
            rss, seconds = measure(argv)
            hits = sum(1 for line in (out / f"{args.db_name}_hits.sto").open()
                       if line.startswith("#=GS"))
            rows.append(f"folding search --tool jackhmmer --db-name {args.db_name} --threads "
                        f"{args.threads}, {size_gb:g} GB ({count} seqs, {hits} hits kept) -> "
                        f"peak RSS {rss:.2f} GB, {seconds:.0f} s")
            print(rows[-1], flush=True)
            if not args.keep:
                database.unlink()
        if not args.no_templates:
            size_gb = max(args.sizes_gb)
            seqres = work / "pdb_seqres.txt"
            count = write_database(seqres, int(size_gb * 1e9), args.homologs, seqres=True)
            argv = [folding, "templates", "search", "--msa", str(HITS), "--tool", "hmmsearch",
                    "--database", str(seqres), "--output", str(work / "pdb_hits.sto"),
                    "--cpus", "2"]
            rss, seconds = measure(argv)
            rows.append(f"folding templates search --tool hmmsearch --cpus 2, {size_gb:g} GB "
                        f"seqres ({count} seqs) -> peak RSS {rss:.2f} GB, {seconds:.0f} s")
            print(rows[-1], flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print("\n".join(["", "## summary", *rows]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
