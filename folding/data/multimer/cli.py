"""``folding multimer``: check complexes, and build a complex's raw multimer features.

Check (as ``folding inputs check``, with complexes; nothing searched)::

    folding multimer check --input FILE_OR_DIR [--input ...] [--max-length 5000]
        [--max-chains 62] [--one-complex-per-file] [--output-dir DIR] [--skip-invalid]

Complexes are written ``>name`` + ``SEQ1:SEQ2`` (ColabFold), as consecutive records with
one name, or one file per complex (``--one-complex-per-file``); ``copies=N`` in a header
repeats a record's chains (:mod:`folding.data.multimer.inputs`). ``--output-dir`` writes
what ``folding inputs check`` writes (``<name>.fasta`` with chains joined by ``:``,
``targets.txt``, ``targets.json`` with ``num_chains``).

Features (writes ``RAW.npz`` atomically, string-free; nothing is written on failure)::

    folding multimer features --fasta COMPLEX.fasta --msa-dir MSAS \\
        --template-mmcif-dir DB/pdb_mmcif/mmcif_files --max-template-date 2021-11-01 \\
        --pdb-seqres DB/pdb_seqres/pdb_seqres.txt --output RAW.npz [--chains-json C.json]
    folding multimer features --fasta COMPLEX.fasta --chain-msa-dir A_DIR \\
        --chain-msa-dir B_DIR --no-templates --output RAW.npz

``--msa-dir MSAS`` is AlphaFold's multimer layout (``MSAS/A``, ``MSAS/B``, ... per chain
id); ``--chain-msa-dir`` gives each chain's folder in chain order instead. Only the first
chain of each distinct sequence is read. Each folder holds the monomer MSAs
(``uniref90_hits.sto``, ``bfd_uniref_hits.a3m``, ``mgnify_hits.sto``), for heteromers
``uniprot_hits.sto``, and, unless ``--pdb-seqres`` is given (hmmsearch is then run here),
``pdb_hits.sto``. The output holds AlphaFold's raw multimer features
(:mod:`folding.data.multimer.complex_features`); ``--chains-json`` writes the chains in
feature order (chain id, entity, copy, residue range) and what was read for each.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from folding.atomic import write_json
from folding.data.multimer.chains import MAX_CHAINS
from folding.data.multimer.inputs import read_complexes
from folding.errors import FoldingError, InputError
from folding.inputs import DEFAULT_MAX_LENGTH

logger = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="multimer_command", metavar="ACTION", required=True)

    check = sub.add_parser("check", help="check FASTA inputs with complexes",
                           description="Check FASTA inputs with complexes; with --output-dir "
                           "write one FASTA per target.")
    check.add_argument("--input", "-i", action="append", required=True, type=Path,
                       metavar="FILE_OR_DIR", help="a FASTA file or a folder of them (repeatable)")
    _limits(check)
    check.add_argument("--output-dir", "-o", type=Path, metavar="DIR",
                       help="write DIR/<name>.fasta, DIR/targets.txt and DIR/targets.json")
    check.add_argument("--skip-invalid", action="store_true",
                       help="skip bad targets (listed in targets.json) instead of failing")
    check.set_defaults(_action=_check)

    features = sub.add_parser("features", help="build a complex's raw multimer features",
                              description="Build AlphaFold's raw multimer features for one "
                              "complex from its chains' searches.")
    features.add_argument("--fasta", required=True, type=Path, help="the complex (one target)")
    folders = features.add_mutually_exclusive_group(required=True)
    folders.add_argument("--msa-dir", type=Path,
                         help="AlphaFold's layout: one sub-folder per chain id (A, B, ...)")
    folders.add_argument("--chain-msa-dir", type=Path, action="append",
                         help="one chain's search folder, in chain order (repeat per chain)")
    features.add_argument("--template-mmcif-dir", type=Path,
                          help="the template database's pdb_mmcif/mmcif_files folder")
    features.add_argument("--max-template-date", help="YYYY-MM-DD: newer templates are not used")
    features.add_argument("--pdb-seqres", type=Path,
                          help="pdb_seqres.txt: run hmmsearch per chain (default: read each "
                          "folder's pdb_hits.sto)")
    features.add_argument("--obsolete-pdbs", type=Path,
                          help="PDB's obsolete.dat (default: beside the mmCIF folder, if there)")
    features.add_argument("--kalign-binary", help="path of the kalign program")
    features.add_argument("--no-templates", action="store_true",
                          help="use no templates (each chain gets an all-zero template)")
    features.add_argument("--cpus", type=int, default=2, help="threads for hmmsearch")
    features.add_argument("--output", required=True, type=Path, help="RAW.npz to write")
    features.add_argument("--chains-json", type=Path,
                          help="also write the chains in feature order and what was read")
    _limits(features)
    features.set_defaults(_action=_features)


def _limits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-length", type=int, default=DEFAULT_MAX_LENGTH, metavar="N",
                        help="longest chain and complex accepted, in residues "
                        f"(default {DEFAULT_MAX_LENGTH})")
    parser.add_argument("--max-chains", type=int, default=MAX_CHAINS, metavar="N",
                        help=f"most chains in a complex (default and most: {MAX_CHAINS})")
    parser.add_argument("--one-complex-per-file", action="store_true",
                        help="every record of a file is a chain of one complex named after it")


def run(args: argparse.Namespace) -> int:
    return int(args._action(args) or 0)


def _check(args: argparse.Namespace) -> int:
    from folding.inputs_cli import write_outputs

    checked = read_complexes(args.input, max_length=args.max_length,
                             max_chains=args.max_chains, skip_invalid=args.skip_invalid,
                             one_complex_per_file=args.one_complex_per_file)
    if args.output_dir is not None:
        write_outputs(checked, args.output_dir, args.max_length)
    else:
        for target in checked.targets:
            lengths = "+".join(str(len(c)) for c in target.chains)
            print(f"{target.name}\t{len(target)}\t{len(target.chains)}\t{lengths}\t"
                  f"{target.source}")
    return 0


def _features(args: argparse.Namespace) -> int:
    from folding.common.protein import PDB_CHAIN_IDS
    from folding.data.features import save_raw_npz
    from folding.data.multimer.pipeline import TemplateSource, build_multimer_features

    if not args.fasta.is_file():
        raise InputError(f"--fasta {args.fasta} not found; give the complex's FASTA file")
    templates = None
    if not args.no_templates:
        if args.template_mmcif_dir is None or args.max_template_date is None:
            raise InputError("templates need --template-mmcif-dir and --max-template-date "
                             "(or pass --no-templates)")
        templates = TemplateSource(args.template_mmcif_dir, args.max_template_date,
                                   args.pdb_seqres, args.obsolete_pdbs, args.kalign_binary,
                                   args.cpus)
    checked = read_complexes(args.fasta, max_length=args.max_length,
                             max_chains=args.max_chains,
                             one_complex_per_file=args.one_complex_per_file)
    if len(checked.targets) != 1:
        raise InputError(f"--fasta {args.fasta} holds {len(checked.targets)} targets; give one "
                         "complex per file (or --one-complex-per-file)")
    target = checked.targets[0]
    if args.msa_dir is not None:
        if not args.msa_dir.is_dir():
            raise InputError(f"--msa-dir {args.msa_dir} not found; run the chains' searches "
                             "first")
        msa_dirs = [args.msa_dir / PDB_CHAIN_IDS[i] for i in range(len(target.chains))]
    else:
        msa_dirs = list(args.chain_msa_dir)
    result = build_multimer_features([c.sequence for c in target.chains], msa_dirs, templates,
                                     descriptions=[target.name] * len(target.chains))
    if args.chains_json is not None:
        write_json(args.chains_json, {
            "target": target.name,
            "chains": [{
                "chain_id": c.chain_id, "entity_id": c.entity_id, "sym_id": c.sym_id,
                "asym_id": c.asym_id, "start": c.start, "end": c.end, "sequence": c.sequence,
            } for c in result.assembly.chains],
            "searches": [{
                "chain_id": s.chain_id, "msa_dir": str(s.msa_dir), "msa_rows": s.msa_rows,
                "pairing_rows": s.pairing_rows, "templates": list(s.templates),
            } for s in result.searches],
        })
    save_raw_npz(args.output, result.features)
    features = result.features
    logger.info("wrote %s: %d chains, %d residues, %d MSA rows", args.output,
                len(result.assembly), int(features["seq_length"]),
                int(features["num_alignments"]))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m folding.data.multimer.cli ...`` (the same as ``folding multimer ...``)."""
    parser = argparse.ArgumentParser(prog="folding multimer", description=__doc__.splitlines()[0])
    configure(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return run(args)
    except FoldingError as error:
        print(f"folding: error: {error}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
