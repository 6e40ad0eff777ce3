"""``folding workflow``: the small helpers the Snakemake rules call (not for users).

    folding workflow stage --stage NAME --record FILE [--sequence-hash H] [--database P]...
        [--tool NAME]... [--setting KEY=VALUE]... [--details FILE]... [--log FILE]
        [--stdout FILE] -- COMMAND [ARG...]
        Run COMMAND (an argument list, no shell) and, if it succeeds, write the stage
        manifest FILE (folding.provenance): its time, the database identities, tool
        versions, settings and the JSON records COMMAND left (--details). --stdout
        captures COMMAND's standard output into a file, atomically. A failing COMMAND
        leaves no manifest and its exit status is returned.

    folding workflow query --sequence SEQ --name NAME [--description HEADER] --output FILE
        Write a one-record FASTA: a target's checked sequence, or the MSA cache's
        content-keyed query (left untouched when the content is the same).

    folding workflow collect --output T/msas/sources.json --msa-files NAME...
        --inputs CACHE_FILE... [--sharing TARGET...]
        Copy a target's search results from the cache (the folders of the <stage>.json
        manifests among --inputs) into T/msas/, removing stale MSA files the current plan
        does not produce; write T/provenance/<stage>.json from each cache manifest (with the
        cache key and the targets sharing it), then sources.json.

    folding workflow collect --output T/msas/chains.json --msa-files NAME...
        --chain ID CACHE_FILE... [--chain ID CACHE_FILE...] [--sharing TARGET...]
        The same for a complex, one folder per distinct chain (AlphaFold-Multimer's
        layout): chain ID's searches go to T/msas/ID/ and their manifests to
        T/provenance/<stage>_ID.json; chains.json (written last) lists each chain's files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from folding.atomic import atomic_path, write_json, write_text
from folding.databases.state import sha256_file
from folding.errors import InputError
from folding.provenance import (
    PROVENANCE_DIR,
    StageRecord,
    database_identity,
    parse_settings,
    tool_versions,
    write_stage_record,
)
from folding.workflow.steps import PRECOMPUTED_MSA_FILES

#: Files the msas/ folder may hold; collect removes those the plan no longer produces.
KNOWN_MSA_FILES = (*PRECOMPUTED_MSA_FILES, "uniprot_hits.sto", "pdb_hits.sto", "pdb_hits.hhr",
                   "pdb70.m8")


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    stage = sub.add_parser("stage", help="run a stage's command and record its manifest")
    stage.add_argument("--stage", required=True)
    stage.add_argument("--record", required=True, type=Path)
    stage.add_argument("--sequence-hash")
    stage.add_argument("--database", action="append", default=[], type=Path)
    stage.add_argument("--tool", action="append", default=[])
    stage.add_argument("--setting", action="append", default=[])
    stage.add_argument("--details", action="append", default=[], type=Path)
    stage.add_argument("--log", type=Path)
    stage.add_argument("--stdout", type=Path)
    stage.add_argument("command", nargs=argparse.REMAINDER)

    query = sub.add_parser("query", help="write a one-record query FASTA")
    query.add_argument("--sequence", required=True)
    query.add_argument("--name", required=True)
    query.add_argument("--description", default="",
                       help="the original header (its first word is replaced by --name)")
    query.add_argument("--output", required=True, type=Path)

    copy = sub.add_parser("copy", help="copy files into a folder, atomically")
    copy.add_argument("--source", nargs="+", required=True, type=Path)
    copy.add_argument("--into", required=True, type=Path)

    collect = sub.add_parser("collect", help="copy cached searches into a target folder")
    collect.add_argument("--output", required=True, type=Path,
                         help="<target>/msas/sources.json (written last)")
    collect.add_argument("--msa-files", nargs="*", default=[])
    collect.add_argument("--inputs", nargs="*", default=[], type=Path,
                         help="cache files: search results and their <stage>.json manifests")
    collect.add_argument("--sharing", nargs="*", default=[])
    collect.add_argument("--chain", nargs="+", action="append", default=[],
                         metavar=("ID", "CACHE_FILE"),
                         help="a complex's chain: its id, then its cache files (repeatable)")


def run(args: argparse.Namespace) -> int:
    return {
        "stage": _stage, "query": _query, "copy": _copy, "collect": _collect,
    }[args.action](args)


def _stage(args: argparse.Namespace) -> int:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise InputError("folding workflow stage needs a command after --")
    try:
        settings = parse_settings(args.setting)
    except ValueError as error:
        raise InputError(str(error)) from error
    log = open(args.log, "a") if args.log else None  # noqa: SIM115 (closed below)
    started = time.time()
    clock = time.perf_counter()
    try:
        if log is not None:
            log.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} stage {args.stage}: "
                      f"{' '.join(command)}\n")
            log.flush()
        completed = subprocess.run(
            command, stdout=subprocess.PIPE if args.stdout else log, stderr=log, check=False,
        )
    except FileNotFoundError as error:
        raise InputError(f"stage {args.stage}: cannot run {command[0]} ({error.strerror})") \
            from error
    finally:
        if log is not None:
            log.close()
    seconds = time.perf_counter() - clock
    if completed.returncode != 0:
        print(f"folding: error: stage {args.stage} failed (exit status {completed.returncode})"
              + (f"; see {args.log}" if args.log else ""), file=sys.stderr)
        return completed.returncode
    if args.stdout:
        write_text(args.stdout, completed.stdout.decode())
    details = {}
    for path in args.details:
        if path.is_file():
            try:
                details[path.name] = json.loads(path.read_text())
            except ValueError:
                details[path.name] = path.read_text()[:2000]
    write_stage_record(args.record, StageRecord(
        stage=args.stage, seconds=seconds, started=started, command=tuple(command),
        sequence_sha256=args.sequence_hash,
        databases=tuple(database_identity(p) for p in args.database),
        tools=tool_versions(args.tool), config=settings, details=details,
    ))
    return 0


def _query(args: argparse.Namespace) -> int:
    sequence = args.sequence.strip().upper()
    if not sequence.replace(":", "").isalpha():
        raise InputError(f"query {args.name}: the sequence holds letters only")
    rest = args.description.split(maxsplit=1)[1:]
    header = " ".join([args.name, *rest])
    text = f">{header}\n{sequence}\n"
    if not (args.output.is_file() and args.output.read_text() == text):
        write_text(args.output, text)
    return 0


def _copy(args: argparse.Namespace) -> int:
    for source in args.source:
        if not source.is_file():
            raise InputError(f"{source} not found; check precomputed_msa_dir")
        with atomic_path(args.into / source.name) as tmp:
            shutil.copyfile(source, tmp)
    return 0


def _stage_records(inputs: list[Path]) -> list[Path]:
    return [p for p in inputs if p.suffix == ".json" and
            (p.stem.startswith("msa_") or p.stem == "templates")]


def _collect_into(msas: Path, provenance: Path, records: list[Path], wanted: set[str],
                  sharing: list[str], chain: str | None = None) -> dict[str, dict]:
    """Copy the wanted files of the cache folders of ``records`` into ``msas`` and their
    manifests into ``provenance`` (as ``<stage>_<chain>.json`` for a complex's chain)."""
    msas.mkdir(parents=True, exist_ok=True)
    for name in KNOWN_MSA_FILES:
        if name not in wanted and (msas / name).exists():
            (msas / name).unlink()
    sources: dict[str, dict] = {}
    for record_path in records:
        folder = record_path.parent
        record = json.loads(record_path.read_text())
        fetch = folder / "mmcif_fetch.json"
        if fetch.is_file():
            record.setdefault("details", {})["mmcif_fetch"] = json.loads(fetch.read_text())
        record["cache"] = {"key": folder.name, "path": str(folder.absolute()),
                           "targets_sharing": list(sharing)}
        stem = record_path.stem if chain is None else f"{record_path.stem}_{chain}"
        if chain is not None:
            record["stage"] = stem
            record["chain"] = chain
        write_json(provenance / f"{stem}.json", record)
        for path in sorted(folder.iterdir()):
            if path.name in wanted:
                with atomic_path(msas / path.name) as tmp:
                    shutil.copyfile(path, tmp)
                sources[path.name] = {"stage": stem, "cache_key": folder.name,
                                      "sha256": sha256_file(path)}
    missing = sorted(name for name in wanted if name not in sources)
    if missing:
        where = msas.parent.parent if chain is not None else msas.parent
        raise InputError(f"{where}: the searches{f' of chain {chain}' if chain else ''} "
                         f"produced no {', '.join(missing)}; delete their cache entries and "
                         "run again")
    return sources


def _collect(args: argparse.Namespace) -> int:
    msas = args.output.parent
    target_dir = msas.parent
    provenance = target_dir / PROVENANCE_DIR
    provenance.mkdir(parents=True, exist_ok=True)
    wanted = set(args.msa_files)
    if args.chain:
        chains = {group[0]: _stage_records([Path(p) for p in group[1:]])
                  for group in args.chain}
        stages = {f"{p.stem}_{chain}" for chain, records in chains.items() for p in records}
    else:
        records = _stage_records(args.inputs)
        stages = {p.stem for p in records}
    for stale in [*provenance.glob("msa_*.json"), *provenance.glob("templates*.json")]:
        if stale.is_file() and stale.stem not in stages:
            stale.unlink()
    # What an earlier version of the target left: chain folders, or a monomer's files.
    kept = set(chains) if args.chain else set()
    for stale in msas.iterdir() if msas.is_dir() else ():
        if stale.is_dir() and len(stale.name) == 1 and stale.name not in kept:
            shutil.rmtree(stale)
        elif args.chain and stale.name in KNOWN_MSA_FILES:
            stale.unlink()
    if not args.chain:
        sources = _collect_into(msas, provenance, records, wanted, args.sharing)
        write_json(args.output, {"files": sources, "targets_sharing": list(args.sharing)})
        return 0
    by_chain = {chain: _collect_into(msas / chain, provenance, records, wanted, args.sharing,
                                     chain)
                for chain, records in chains.items()}
    write_json(args.output, {"chains": by_chain, "targets_sharing": list(args.sharing)})
    return 0
