"""``folding relax``: Amber-relax one structure.

    folding relax --input IN.pdb --output OUT.pdb [--max-iterations N]
                  [--platform CPU|CUDA|OpenCL|Reference] [--passes K] [--threads T]
                  [--record OUT.json]

Prints one JSON line on stdout with at least ``violations_before``,
``violations_after`` (residues violating AlphaFold's criteria as published, the
stricter of its two versions; ``violation_criteria`` names them), ``heavy_atom_rmsd``
(A, input vs output heavy atoms, no fitting), ``seconds``, ``relaxed``, ``converged``
and ``reason``, plus passes, iterations, energies, platform and clean-up alterations.
OUT.pdb is written atomically; when the relax fails or does not converge it is a copy
of the unrelaxed input and the JSON says why (exit status 0: the output exists and is
honest). An unreadable input is an error (exit status 2, nothing written).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from folding import atomic
from folding.common import mmcif, pdb
from folding.errors import InputError

_MMCIF_SUFFIXES = (".cif", ".mmcif", ".cif.gz")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", required=True, type=Path,
                        help="structure to relax (PDB, or mmCIF by suffix .cif)")
    parser.add_argument("--output", required=True, type=Path, help="relaxed PDB to write")
    parser.add_argument("--max-iterations", type=int, default=0,
                        help="L-BFGS iteration cap per pass (default 0: no limit)")
    parser.add_argument("--platform", choices=("CPU", "CUDA", "OpenCL", "Reference"),
                        help="OpenMM platform (default: CUDA > OpenCL > CPU, first present)")
    parser.add_argument("--passes", type=int, default=3,
                        help="at most this many minimisation passes (default 3, as AlphaFold)")
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for OpenMM's CPU platform (default: OpenMM decides)")
    parser.add_argument("--record", type=Path, default=None,
                        help="also write the JSON record to this file")


def _read(path: Path):
    if not path.is_file():
        raise InputError(f"{path}: input structure not found; check --input")
    name = path.name.lower()
    reader = mmcif.from_mmcif if name.endswith(_MMCIF_SUFFIXES) else pdb.from_pdb
    return reader(path)


def run(args: argparse.Namespace) -> int:
    from folding.relax.amber import AmberConfig
    from folding.relax.relax import RelaxConfig, relax

    if args.passes < 1:
        raise InputError(f"--passes {args.passes}: give 1 or more")
    if args.threads is not None and args.threads < 1:
        raise InputError(f"--threads {args.threads}: give 1 or more")
    config = RelaxConfig(
        amber=AmberConfig(max_iterations=args.max_iterations, platform=args.platform,
                          cpu_threads=args.threads),
        max_passes=args.passes,
    )
    if args.platform is not None:
        from folding.relax.amber import choose_platform

        choose_platform(args.platform)  # fail early, before any output, if it is absent
    protein = _read(args.input)
    result = relax(protein, config)
    plain_pdb = not args.input.name.lower().endswith((*_MMCIF_SUFFIXES, ".gz"))
    if result.relaxed or not plain_pdb:
        atomic.write_text(args.output, result.pdb)
    else:
        atomic.write_bytes(args.output, args.input.read_bytes())
    record = {"input": str(args.input), "output": str(args.output), **result.record()}
    if args.record is not None:
        atomic.write_json(args.record, record)
    print(json.dumps(record), flush=True)
    return 0
