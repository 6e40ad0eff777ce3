"""``folding inputs``: check FASTA inputs and write one validated FASTA per target.

Command (what the workflow runs)::

    folding inputs check --input FILE_OR_DIR [--input ...] [--max-length 5000]
                         [--output-dir DIR] [--skip-invalid]

* ``--input``: a FASTA file (one or many records; each record is a monomer target) or a
  folder of them (``*.fasta``, ``*.fa``, ``*.faa``, ``*.fas``); may be repeated.
* ``--max-length``: the longest sequence accepted (default 5000).
* ``--output-dir DIR`` writes, atomically and only where the content changed (so
  Snakemake sees unchanged files as unchanged):

  - ``DIR/<name>.fasta``: ``>name rest-of-header`` and the upper-case sequence on one line;
  - ``DIR/targets.txt``: the target names, one a line, in input order;
  - ``DIR/targets.json`` (written last): ``{"max_length": N, "targets": [{"name",
    "length", "num_chains", "sequence", "description", "source", "fasta", "warnings"}],
    "rejected": [{"source", "message"}]}``.

  Without ``--output-dir`` it only checks, and prints ``name<TAB>length<TAB>source`` lines.
* Exit status 0 when every record is valid. Any bad record: the one-line message on
  stderr (``folding: error: ...``), exit status 2 and nothing written. With
  ``--skip-invalid`` bad records are logged, listed under ``rejected`` and skipped; the
  valid ones are written and the exit status is 0 (2 when none is valid).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from folding.atomic import write_text
from folding.inputs import DEFAULT_MAX_LENGTH, CheckedInputs, read_targets


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="inputs_command", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check", help="check FASTA inputs; with --output-dir write one FASTA per target",
        description="Check FASTA inputs; with --output-dir write one FASTA per target.",
    )
    check.add_argument("--input", "-i", action="append", required=True, type=Path,
                       metavar="FILE_OR_DIR", help="a FASTA file or a folder of them (repeatable)")
    check.add_argument("--max-length", type=int, default=DEFAULT_MAX_LENGTH, metavar="N",
                       help=f"longest sequence accepted (default {DEFAULT_MAX_LENGTH})")
    check.add_argument("--output-dir", "-o", type=Path, metavar="DIR",
                       help="write DIR/<name>.fasta, DIR/targets.txt and DIR/targets.json")
    check.add_argument("--skip-invalid", action="store_true",
                       help="skip bad records (listed in targets.json) instead of failing")


def _write_if_changed(path: Path, text: str) -> None:
    if path.is_file() and path.read_text() == text:
        return
    write_text(path, text)


def write_outputs(checked: CheckedInputs, output_dir: Path, max_length: int) -> None:
    """Write the per-target FASTA files, then targets.txt, then targets.json."""
    output_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for target in checked.targets:
        fasta = output_dir / f"{target.name}.fasta"
        _write_if_changed(fasta, target.to_fasta())
        entries.append({
            "name": target.name,
            "length": len(target),
            "num_chains": len(target.chains),
            "sequence": ":".join(chain.sequence for chain in target.chains),
            "description": target.description,
            "source": target.source,
            "fasta": fasta.name,
            "warnings": list(target.warnings),
        })
    _write_if_changed(output_dir / "targets.txt", "".join(f"{t.name}\n" for t in checked.targets))
    summary = {
        "max_length": max_length,
        "targets": entries,
        "rejected": [{"source": r.source, "message": r.message} for r in checked.rejected],
    }
    _write_if_changed(output_dir / "targets.json", json.dumps(summary, indent=2) + "\n")


def run(args: argparse.Namespace) -> int:
    checked = read_targets(args.input, max_length=args.max_length, skip_invalid=args.skip_invalid)
    if args.output_dir is not None:
        write_outputs(checked, args.output_dir, args.max_length)
    else:
        for target in checked.targets:
            print(f"{target.name}\t{len(target)}\t{target.source}")
    return 0
