"""``folding inputs``: check FASTA inputs (monomers and complexes) and write one FASTA per target.

Command (what the workflow runs)::

    folding inputs check --input FILE_OR_DIR [--input ...] [--max-length 5000]
                         [--max-chains 62] [--one-complex-per-file]
                         [--output-dir DIR] [--skip-invalid]

* ``--input``: a FASTA file or a folder of them (``*.fasta``, ``*.fa``, ``*.faa``,
  ``*.fas``); may be repeated. Each record is a target, except complexes
  (:mod:`folding.data.multimer.inputs`):

  - ColabFold style: one record whose chains are separated by ``:`` (``>dimer`` then
    ``MKV...:GSH...``);
  - consecutive records with the same name are the chains of one target (CASP's
    ``H1065.fasta``); the same name further apart is an error;
  - ``copies=N`` in a header repeats that record's chains N times (``>trimer copies=3``);
  - ``--one-complex-per-file``: every record of a file is a chain of one target named
    after the file (AlphaFold's multimer convention).

  Every chain gets the monomer checks (letters, empty, only X, DNA/RNA, length), the
  message naming the chain (``record 'x' chain 2``).
* ``--max-length``: the longest chain, and the longest complex in total (default 5000).
* ``--max-chains``: the most chains of a complex (default and most: 62, one PDB chain id
  each).
* ``--output-dir DIR`` writes, atomically and only where the content changed (so
  Snakemake sees unchanged files as unchanged):

  - ``DIR/<name>.fasta``: ``>name rest-of-header`` and the upper-case sequence on one line
    (a complex's chains joined by ``:``, every copy spelled out);
  - ``DIR/targets.txt``: the target names, one a line, in input order;
  - ``DIR/targets.json`` (written last): ``{"max_length": N, "targets": [{"name",
    "length", "num_chains", "sequence", "chains": [{"chain_id", "entity_id", "length",
    "sequence"}], "description", "source", "fasta", "warnings"}], "rejected": [{"source",
    "message"}]}``; chain ids are ``A``, ``B``, ... in input order, chains with equal
    sequences share an entity id.

  Without ``--output-dir`` it only checks, and prints ``name<TAB>length<TAB>source<TAB>
  chain lengths`` lines (``127+98`` for a complex).
* Exit status 0 when every record is valid. Any bad record: the one-line message on
  stderr (``folding: error: ...``), exit status 2 and nothing written. With
  ``--skip-invalid`` bad targets are logged, listed under ``rejected`` and skipped; the
  valid ones are written and the exit status is 0 (2 when none is valid).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from folding.atomic import write_text
from folding.common.protein import PDB_CHAIN_IDS
from folding.data.multimer.chains import MAX_CHAINS
from folding.data.multimer.inputs import read_complexes
from folding.inputs import DEFAULT_MAX_LENGTH, CheckedInputs, Target


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="inputs_command", metavar="ACTION", required=True)
    check = sub.add_parser(
        "check", help="check FASTA inputs (monomers and complexes); with --output-dir write "
        "one FASTA per target",
        description="Check FASTA inputs (monomers and complexes); with --output-dir write one "
        "FASTA per target.",
    )
    check.add_argument("--input", "-i", action="append", required=True, type=Path,
                       metavar="FILE_OR_DIR", help="a FASTA file or a folder of them (repeatable)")
    check.add_argument("--max-length", type=int, default=DEFAULT_MAX_LENGTH, metavar="N",
                       help="longest chain, and longest complex in total, in residues "
                       f"(default {DEFAULT_MAX_LENGTH})")
    check.add_argument("--max-chains", type=int, default=MAX_CHAINS, metavar="N",
                       help=f"most chains in a complex (default and most: {MAX_CHAINS})")
    check.add_argument("--one-complex-per-file", action="store_true",
                       help="every record of a file is a chain of one complex named after it")
    check.add_argument("--output-dir", "-o", type=Path, metavar="DIR",
                       help="write DIR/<name>.fasta, DIR/targets.txt and DIR/targets.json")
    check.add_argument("--skip-invalid", action="store_true",
                       help="skip bad targets (listed in targets.json) instead of failing")


def _write_if_changed(path: Path, text: str) -> None:
    if path.is_file() and path.read_text() == text:
        return
    write_text(path, text)


def chain_entries(target: Target) -> list[dict]:
    """The chains of a target for targets.json: input-order chain ids, entities, lengths."""
    entities: dict[str, int] = {}
    return [{
        "chain_id": PDB_CHAIN_IDS[index],
        "entity_id": entities.setdefault(chain.sequence, len(entities) + 1),
        "length": len(chain),
        "sequence": chain.sequence,
    } for index, chain in enumerate(target.chains)]


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
            "chains": chain_entries(target),
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
    checked = read_complexes(args.input, max_length=args.max_length, max_chains=args.max_chains,
                             skip_invalid=args.skip_invalid,
                             one_complex_per_file=args.one_complex_per_file)
    if args.output_dir is not None:
        write_outputs(checked, args.output_dir, args.max_length)
    else:
        for target in checked.targets:
            lengths = "+".join(str(len(c)) for c in target.chains)
            print(f"{target.name}\t{len(target)}\t{target.source}\t{lengths}")
    return 0
