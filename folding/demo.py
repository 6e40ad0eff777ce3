"""``folding demo``: build the demo databases if needed, then run the demo workflow.

    folding demo [--input FASTA] [--output DIR] [--databases DIR] [--params-dir DIR]
                 [--cores N] [--dry-run] [-- SNAKEMAKE_ARGS...]

It is the README's first command. Defaults: the examples are human lysozyme (P61626,
148 residues) and a small complex, the ParR homodimer of PDB 2Q2K (two chains of 70
residues, written ColabFold's way as ``A:B``), both from the real data folder and written
to ``<output>/demo_input.fasta``; databases in ``demo_databases/`` and results in
``demo_output/`` of the current folder. The demo databases are built from the real data
when any of their files is missing (``folding databases build-demo``). Then it runs the
workflow (this checkout's ``Snakefile``) with ``preset=demo`` on ``--cores`` cores, as

    snakemake --snakefile <checkout>/Snakefile --cores N --rerun-incomplete \\
        --config input=... output_dir=... preset=demo database_dir=...

Without parameter files in the parameter folder (``<databases>/params`` unless
``--params-dir``) the model runs with untrained parameters, and the log, the PDB
remarks, the JSON files and the report say so; with ``params_model_1_ptm.npz`` and
``params_model_1_multimer_v3.npz`` there the same command gives real predictions. A lock
left by a crashed run is removed first when no other Snakemake process works in the same
folder. The exit status is Snakemake's.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from folding.errors import InputError

CHECKOUT = Path(__file__).resolve().parents[1]
EXAMPLE = Path("queries") / "P61626.fasta"
#: The demo complex: the two protein chains of PDB 2Q2K (ParR, a homodimer bound to DNA),
#: from the PDB seqres file of the demo's template database.
COMPLEX_SEQRES = Path("templates") / "pdb_seqres" / "pdb_seqres.txt"
COMPLEX_CHAINS = ("2q2k_A", "2q2k_B")
DEMO_INPUT = "demo_input.fasta"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", type=Path,
                        help="FASTA file or folder (default: human lysozyme P61626 and the "
                        "2Q2K homodimer from the real data folder)")
    parser.add_argument("--output", type=Path, default=Path("demo_output"),
                        help="results folder (default demo_output)")
    parser.add_argument("--databases", type=Path, default=Path("demo_databases"),
                        help="demo database folder, built when incomplete (default "
                        "demo_databases)")
    parser.add_argument("--params-dir", type=Path,
                        help="folder with params_model_1_ptm.npz (default <databases>/params)")
    parser.add_argument("--cores", type=int, default=2, help="CPU cores to use (default 2)")
    parser.add_argument("--dry-run", action="store_true", help="only show the jobs")
    parser.add_argument("snakemake_args", nargs=argparse.REMAINDER,
                        help="after --: more snakemake arguments")


def run(args: argparse.Namespace) -> int:
    from folding.databases.demo import build_demo, default_source, demo_complete

    if args.cores < 1:
        raise InputError(f"--cores {args.cores}: give 1 or more")
    source = default_source()
    fasta = args.input or demo_input(source, args.output)
    if not fasta.exists():
        raise InputError(f"example input {fasta} not found; pass --input FASTA (or set "
                         "FOLDING_SHARED_DATA to the real data folder)")
    if not demo_complete(args.databases):
        print(f"folding demo: building the demo databases in {args.databases} from {source}",
              file=sys.stderr, flush=True)
        build = build_demo(args.databases, source)
        print(f"folding demo: built in {build.seconds:.1f} s", file=sys.stderr, flush=True)
    config = {
        "input": fasta.absolute(),
        "output_dir": args.output.absolute(),
        "preset": "demo",
        "database_dir": args.databases.absolute(),
    }
    if args.params_dir:
        config["params_dir"] = args.params_dir.absolute()
    extra = [a for a in args.snakemake_args if a != "--"]
    argv = [sys.executable, "-m", "snakemake", "--snakefile", str(CHECKOUT / "Snakefile"),
            "--cores", str(args.cores), "--rerun-incomplete", *extra]
    if args.dry_run:
        argv.append("--dry-run")
    argv += ["--config", *(f"{key}={value}" for key, value in config.items())]
    if _stale_lock(Path.cwd()):
        print("folding demo: removing the lock a crashed run left behind", file=sys.stderr)
        subprocess.run([*argv, "--unlock"], check=False, capture_output=True)
    env = {**os.environ,
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    print("folding demo: " + " ".join(argv[2:]), file=sys.stderr, flush=True)
    status = subprocess.run(argv, env=env, check=False).returncode
    if status == 0 and not args.dry_run:
        print(f"folding demo: done; open {config['output_dir'] / 'index.html'}")
    return status


def demo_input(source: Path, output: Path) -> Path:
    """``<output>/demo_input.fasta``: lysozyme and the 2Q2K homodimer from the real data
    folder ``source`` (written only when its content changes; the lysozyme path itself
    when the 2Q2K chains cannot be found)."""
    from folding.atomic import write_text
    from folding.data.parsers.fasta import parse_fasta

    lysozyme = source / EXAMPLE
    seqres = source / COMPLEX_SEQRES
    if not lysozyme.is_file() or not seqres.is_file():
        return lysozyme
    records = {r.name: r.sequence for r in parse_fasta(seqres.read_text())}
    if not all(chain in records for chain in COMPLEX_CHAINS):
        return lysozyme
    chains = ":".join(records[chain].upper() for chain in COMPLEX_CHAINS)
    text = (lysozyme.read_text().rstrip("\n") + "\n"
            f">2Q2K ParR homodimer, the protein chains A and B of PDB 2Q2K\n{chains}\n")
    path = output / DEMO_INPUT
    if not (path.is_file() and path.read_text() == text):
        write_text(path, text)
    return path.absolute()


def _stale_lock(workdir: Path) -> bool:
    """Whether ``workdir/.snakemake/locks`` holds locks while no Snakemake process runs there.

    Only Linux's /proc is consulted; elsewhere a lock is never considered stale.
    """
    locks = workdir / ".snakemake" / "locks"
    if not locks.is_dir() or not any(locks.iterdir()) or not Path("/proc/self").exists():
        return False
    me = os.getpid()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == me:
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            cwd = (proc / "cwd").resolve()
        except OSError:
            continue
        if any(b"snakemake" in part for part in cmdline[:3]) and cwd == workdir.resolve():
            return False
    return True
