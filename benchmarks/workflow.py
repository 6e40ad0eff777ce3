"""Workflow benchmarks: the demo's per-stage times, and the workflow's own overhead.

    .venv/bin/python benchmarks/workflow.py demo [--workdir DIR]
        Runs the README's demo command (`folding demo`: lysozyme and the 2Q2K homodimer)
        in a fresh folder, on 2 cores: prints the wall time of building the demo
        databases and of the workflow, each target's per-stage seconds (timings.json)
        and each job's seconds and peak memory (from Snakemake's benchmark files).

    .venv/bin/python benchmarks/workflow.py overhead [--targets 50] [--cores 1]
        [--through features|report]
        50 small real proteins from shared/data/sequences/uniprot_500.fasta. Their MSAs
        are searched once (demo databases), copied into a precomputed-MSA folder, then the
        workflow runs from those MSAs (msa_mode=precomputed, untrained model_1_ptm,
        num_recycle 0, relax best; --through features stops after the CPU stages) and the
        overhead is the wall time minus the sum of the
        job times Snakemake measured (with --cores 1 jobs run one at a time, so the
        difference is Snakemake's parsing, DAG building, scheduling and bookkeeping,
        and the start-up of every job's shell).

Nothing here runs in the test suite; see benchmarks/README.md for measured figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from folding.data.parsers.fasta import parse_fasta  # noqa: E402
from folding.databases.demo import build_demo, default_source  # noqa: E402


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def _benchmarks(folder: Path) -> list[tuple[str, float, float]]:
    """(job file, seconds, max RSS MB) of every Snakemake benchmark file under ``folder``."""
    rows = []
    for path in sorted(folder.rglob("*.benchmark.tsv")):
        with open(path) as handle:
            record = next(csv.DictReader(handle, delimiter="\t"))
        rss = float(record["max_rss"]) if record["max_rss"] not in ("-", "NA") else 0.0
        rows.append((str(path.relative_to(folder)), float(record["s"]), rss))
    return rows


def demo(workdir: Path) -> None:
    out, databases = workdir / "demo_output", workdir / "demo_databases"
    start = time.perf_counter()
    build_demo(databases)
    built = time.perf_counter() - start
    start = time.perf_counter()
    status = subprocess.run(
        [str(BIN / "folding"), "demo", "--output", str(out), "--databases", str(databases)],
        cwd=workdir, env=_env(), check=False,
    ).returncode
    wall = time.perf_counter() - start
    print(f"\nbuild-demo: {built:.1f} s; folding demo (workflow): {wall:.1f} s wall, "
          f"exit status {status}")
    for timings in sorted(out.glob("*/timings.json")):  # lysozyme and the 2Q2K complex
        stages = json.loads(timings.read_text())
        print(f"\n{timings.parent.name}/timings.json (stage seconds):")
        for stage, seconds in stages.items():
            print(f"  {stage:<40} {seconds:8.1f}")
        print(f"  {'sum':<40} {sum(stages.values()):8.1f}")
    print("\nSnakemake benchmark files (job, seconds, max RSS MB):")
    for name, seconds, rss in _benchmarks(out):
        print(f"  {name:<60} {seconds:8.2f} {rss:8.0f}")


def _small_targets(count: int) -> dict[str, str]:
    text = (default_source() / "sequences" / "uniprot_500.fasta").read_text()
    records = [r for r in parse_fasta(text) if 20 <= len(r.sequence) <= 120]
    records.sort(key=lambda r: (len(r.sequence), r.name))
    chosen = {}
    for record in records:
        name = record.name.split("|")[1] if "|" in record.name else record.name
        if record.sequence.isalpha() and name not in chosen:
            chosen[name] = record.sequence.upper()
        if len(chosen) == count:
            break
    return chosen


def _snakemake(workdir: Path, cores: int, config: dict, *targets: str) -> float:
    argv = [str(BIN / "snakemake"), "--snakefile", str(ROOT / "Snakefile"), "--cores",
            str(cores), *targets, "--quiet", "rules",
            "--config", *(f"{k}={v}" for k, v in config.items())]
    start = time.perf_counter()
    completed = subprocess.run(argv, cwd=workdir, env=_env(), check=False,
                               capture_output=True, text=True)
    wall = time.perf_counter() - start
    if completed.returncode != 0:
        sys.exit(f"snakemake failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return wall


def overhead(workdir: Path, count: int, cores: int, through: str) -> None:
    databases = workdir / "demo_databases"
    build_demo(databases)
    targets = _small_targets(count)
    fasta = workdir / "targets.fasta"
    fasta.write_text("".join(f">{name}\n{seq}\n" for name, seq in targets.items()))
    lengths = sorted(len(s) for s in targets.values())
    print(f"{len(targets)} targets, {lengths[0]}-{lengths[-1]} residues")

    search_out = workdir / "search"
    config = {"input": fasta, "output_dir": search_out, "preset": "demo",
              "database_dir": databases}
    wall = _snakemake(workdir, 2, config,
                      *(str(search_out / n / "msas" / "sources.json") for n in targets))
    print(f"MSAs searched once (2 cores): {wall:.1f} s")
    precomputed = workdir / "precomputed"
    for name in targets:
        (precomputed / name).mkdir(parents=True, exist_ok=True)
        for path in (search_out / name / "msas").glob("*_hits.sto"):
            if path.name != "pdb_hits.sto":
                shutil.copyfile(path, precomputed / name / path.name)

    out = workdir / "out"
    config = {"input": fasta, "output_dir": out, "preset": "demo", "database_dir": databases,
              "msa_mode": "precomputed", "precomputed_msa_dir": precomputed,
              "num_recycle": 0, "relax": "best" if through == "report" else "none"}
    stop = [] if through == "report" else [
        str(out / name / "provenance" / "features.json") for name in targets]
    wall = _snakemake(workdir, cores, config, *stop)
    jobs = _benchmarks(out)
    total = sum(seconds for _, seconds, _ in jobs)
    print(f"\nworkflow from precomputed MSAs through {through}, --cores {cores}: "
          f"{len(jobs)} jobs; load average {os.getloadavg()[0]:.1f}")
    print(f"  wall time            {wall:8.1f} s")
    print(f"  sum of job times     {total:8.1f} s")
    print(f"  overhead             {wall - total:8.1f} s "
          f"({(wall - total) / len(jobs):.2f} s per job, {100 * (wall - total) / wall:.0f}% "
          "of the wall time)")
    by_stage: dict[str, list[float]] = {}
    for name, seconds, _ in jobs:
        stage = Path(name).name.split(".benchmark")[0]
        stage = stage if len(stage) != 64 else "query"
        by_stage.setdefault(stage.split("_model")[0], []).append(seconds)
    for stage, values in sorted(by_stage.items()):
        print(f"  {stage:<20} {len(values):4d} jobs, {sum(values):8.1f} s, "
              f"mean {sum(values) / len(values):6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="what", required=True)
    one = sub.add_parser("demo")
    one.add_argument("--workdir", type=Path)
    many = sub.add_parser("overhead")
    many.add_argument("--workdir", type=Path)
    many.add_argument("--targets", type=int, default=50)
    many.add_argument("--cores", type=int, default=1)
    many.add_argument("--through", choices=("features", "report"), default="report",
                      help="stop after the features (CPU stages only) or run everything")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix=f"folding-bench-{args.what}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"working in {workdir}")
    if args.what == "demo":
        demo(workdir)
    else:
        overhead(workdir, args.targets, args.cores, args.through)


if __name__ == "__main__":
    main()
