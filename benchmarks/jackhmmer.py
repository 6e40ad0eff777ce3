"""Benchmark: our jackhmmer stage (pyhmmer, in process) against HMMER's ``jackhmmer`` binary.

Both run AlphaFold's settings (``-N 1 -E 1e-4 --incE 1e-4 --F1 5e-4 --F2 5e-5 --F3 5e-7``,
or ``--iterations``) with the same number of threads on the same database: by default the
real sequences in ../shared/data concatenated (proteome_938293 + hemopexin + uniprot_500 +
globins45, 6,833 sequences), for a set of real queries. Runs alternate (ours, binary,
ours, ...) and the median of ``--repeats`` is reported, so that load from other programs
hits both sides alike. "ours" is the stage's work in process (read the database, search,
write the Stockholm file); "ours CLI" is ``folding search`` as the workflow runs it,
including Python start-up, truncation and the JSON record. "same" compares the whole
alignment (every line but the ``#=GF`` header lines, which name the program).

    .venv/bin/python benchmarks/jackhmmer.py [--threads 2] [--repeats 5] [--iterations 1]
        [--database FASTA] [--copies K] [--cli]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from folding.data.parsers import parse_fasta, stockholm_rows
from folding.data.tools.jackhmmer import JackhmmerSettings, pyhmmer_version, run_jackhmmer

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("FOLDING_SHARED_DATA", ROOT.parent / "shared" / "data"))
DATABASE_PARTS = ("proteome_938293.faa", "hemopexin.faa", "uniprot_500.fasta", "globins45.fa")


def queries(folder: Path) -> dict[str, Path]:
    """Real queries of different lengths and family sizes, one FASTA each."""
    seqs = DATA / "sequences"
    picks = {
        "HBB_HUMAN": (seqs / "HBB_HUMAN", None),
        "LuxC_P12748": (seqs / "LuxC.faa", "P12748"),
        "hemopexin_M4AQ14": (seqs / "hemopexin.faa", "M4AQ14"),
        "adeno_fiber_1": (seqs / "adeno_fiber.faa", ""),
        "lysozyme_P61626": (DATA / "queries/P61626.fasta", None),
        "T1024": (DATA / "queries/T1024.fasta", None),
    }
    out = {}
    for name, (path, key) in picks.items():
        records = parse_fasta(path.read_text())
        record = records[0] if not key else next(r for r in records if key in r.description)
        target = folder / f"{name}.fasta"
        target.write_text(f">{record.name}\n{record.sequence.upper()}\n")
        out[name] = target
    return out


def replicate(database: Path, copies: int, out: Path) -> Path:
    """``copies`` copies of a FASTA file, each sequence renamed ``<name>_c<k>``."""
    records = parse_fasta(database.read_text())
    with open(out, "w") as handle:
        for k in range(copies):
            for r in records:
                handle.write(f">{r.name}_c{k} {r.description.partition(' ')[2]}\n{r.sequence}\n")
    return out


def alignment(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if not line.startswith("#=GF")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--iterations", type=int, default=1)
    parser.add_argument("--database", type=Path, help="FASTA (default: the concatenation)")
    parser.add_argument("--copies", type=int, default=1,
                        help="search K copies of the database (names suffixed), a larger load")
    parser.add_argument("--cli", action="store_true", help="also time `folding search`")
    args = parser.parse_args()
    binary = shutil.which("jackhmmer")
    if binary is None:
        sys.exit("jackhmmer (Debian package hmmer) is not installed")
    version = subprocess.run([binary, "-h"], capture_output=True, text=True).stdout.splitlines()[1]
    settings = JackhmmerSettings(iterations=args.iterations)
    folding_cli = Path(sys.executable).parent / "folding"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        database = args.database
        if database is None:
            database = work / "db.fasta"
            database.write_text("".join((DATA / "sequences" / p).read_text()
                                        for p in DATABASE_PARTS))
        if args.copies > 1:
            database = replicate(database, args.copies, work / "db_copies.fasta")
        n_db = database.read_text().count(">")
        size = database.stat().st_size / 1e6
        print(f"# database {database.name}: {n_db} sequences, {size:.1f} MB; threads "
              f"{args.threads}; iterations {args.iterations}; repeats {args.repeats}")
        print(f"# binary: {binary} ({version.strip('# ')}); ours: {pyhmmer_version()}")
        header = "| query | length | hits (ours / binary) | same | binary s | ours s | ratio |"
        rule = "|---|---:|---:|:---:|---:|---:|---:|"
        if args.cli:
            header += " ours CLI s | ratio CLI |"
            rule += "---:|---:|"
        print(header)
        print(rule)
        totals = {"binary": 0.0, "ours": 0.0, "cli": 0.0}
        all_same = True
        for name, query in queries(work).items():
            length = len(parse_fasta(query.read_text())[0].sequence)
            times: dict[str, list[float]] = {"binary": [], "ours": [], "cli": []}
            ours_sto, theirs_sto = work / "ours.sto", work / "theirs.sto"
            argv = [binary, "-o", "/dev/null", "-A", str(theirs_sto), "--noali",
                    *settings.jackhmmer_argv(args.threads), str(query), str(database)]
            for _ in range(args.repeats):
                start = time.perf_counter()
                run_jackhmmer(query, database, ours_sto, settings, threads=args.threads)
                times["ours"].append(time.perf_counter() - start)
                start = time.perf_counter()
                subprocess.run(argv, check=True)
                times["binary"].append(time.perf_counter() - start)
                if args.cli:
                    start = time.perf_counter()
                    subprocess.run([str(folding_cli), "search", "--tool", "jackhmmer", "--query",
                                    str(query), "--database", str(database), "--db-name",
                                    "small_bfd", "--output-dir", str(work / "cli"), "--threads",
                                    str(args.threads), "--iterations", str(args.iterations)],
                                   check=True, capture_output=True)
                    times["cli"].append(time.perf_counter() - start)
            same = alignment(ours_sto) == alignment(theirs_sto)
            all_same &= same
            hits = (len(stockholm_rows(ours_sto.read_text())) - 1,
                    len(stockholm_rows(theirs_sto.read_text())) - 1)
            med = {k: statistics.median(v) for k, v in times.items() if v}
            for k, v in med.items():
                totals[k] += v
            row = (f"| {name} | {length} | {hits[0]} / {hits[1]} | {'yes' if same else 'NO'} | "
                   f"{med['binary']:.3f} | {med['ours']:.3f} | {med['ours'] / med['binary']:.2f} |")
            if args.cli:
                row += f" {med['cli']:.3f} | {med['cli'] / med['binary']:.2f} |"
            print(row, flush=True)
        row = (f"| **total** | | | {'yes' if all_same else 'NO'} | {totals['binary']:.3f} | "
               f"{totals['ours']:.3f} | {totals['ours'] / totals['binary']:.2f} |")
        if args.cli:
            row += f" {totals['cli']:.3f} | {totals['cli'] / totals['binary']:.2f} |"
        print(row)
    return 0 if all_same else 1


if __name__ == "__main__":
    raise SystemExit(main())
