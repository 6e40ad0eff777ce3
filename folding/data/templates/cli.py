"""``folding templates``: search the PDB for templates, and featurise template hits.

Search (writes the hit file atomically, and ``<output>.json`` recording tool, version,
database, hit count and seconds)::

    folding templates search --msa MSAS/uniref90_hits.sto --tool hmmsearch \\
        --database DB/pdb_seqres/pdb_seqres.txt --output MSAS/pdb_hits.sto [--cpus 2]
        [--engine pyhmmer|programs]
    folding templates search --msa MSAS/uniref90_hits.sto --tool hhsearch \\
        --database DB/pdb70/pdb70 --output MSAS/pdb_hits.hhr [--cpus 2]
    # ColabFold-style A3Ms (MMseqs2 or an MSA server), joined in order, as the query:
    folding templates search --msa MSAS/uniref.a3m \\
        --msa MSAS/bfd.mgnify30.metaeuk30.smag30.a3m --tool hmmsearch|hhsearch \\
        --database ... --output MSAS/pdb_hits.sto|.hhr
    # ColabFold's own template search: hhsearch of those A3Ms against the templates a
    # pdb70.m8 names, in the templates_101/ folder a ColabFold server sent (or in a local
    # pdb_mmcif/mmcif_files folder, from which their HH-suite database is built):
    folding templates search --msa MSAS/uniref.a3m --msa MSAS/bfd...a3m \\
        --m8 MSAS/pdb70.m8 --mmcif-dir MSAS/templates_101 --output MSAS/pdb_hits.hhr

Featurise (writes the raw ``template_*`` features as ``.npz`` and, with ``--summary``, a
JSON listing the templates and every skipped hit with its reason)::

    folding templates featurise --fasta Q.fasta --hits MSAS/pdb_hits.sto \\
        --mmcif-dir DB/pdb_mmcif/mmcif_files --max-template-date 2021-11-01 \\
        --output templates.npz [--summary templates.json] [--obsolete-pdbs FILE]
    folding templates featurise --fasta Q.fasta --hits MSAS/pdb70.m8 \\
        --msa MSAS/uniref.a3m --msa MSAS/bfd.mgnify30.metaeuk30.smag30.a3m \\
        --mmcif-dir MSAS/templates_101 --max-template-date 2021-11-01 --output templates.npz

The hit file's suffix tells which search made it (``.hhr``: hhsearch, ``.sto``:
hmmsearch, ``.m8``: ColabFold's MMseqs2 search, whose hits are realigned with hhsearch
first, see :func:`folding.data.templates.search.search_m8_templates`). ``obsolete.dat``
beside the mmCIF folder is read unless ``--obsolete-pdbs`` names another. Hits whose
mmCIF is missing, unreadable or does not match are skipped with a logged reason; the
command fails only on bad inputs (one-line error, exit status 2-4).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from folding.atomic import write_json, write_text
from folding.data.templates.database import TemplateDatabase, parse_max_template_date
from folding.data.templates.featurise import (
    MAX_TEMPLATE_HITS,
    TemplateFeatures,
    TemplateFeaturiser,
)
from folding.data.templates.hits import TemplateHit, parse_hhr, parse_hmmsearch_sto
from folding.data.templates.search import search_m8_templates, search_templates
from folding.data.tools.kalign import Kalign
from folding.errors import InputError

logger = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="templates_command", metavar="ACTION", required=True)

    search = sub.add_parser("search", help="run hmmsearch or hhsearch for one target")
    search.add_argument("--msa", required=True, type=Path, action="append",
                        help="uniref90_hits.sto, or A3M files (repeatable: uniref.a3m, then "
                        "bfd.mgnify30.metaeuk30.smag30.a3m)")
    search.add_argument("--tool", choices=("hmmsearch", "hhsearch"),
                        help="search program (required without --m8; --m8 uses hhsearch)")
    search.add_argument("--database", action="append",
                        help="pdb_seqres.txt (hmmsearch) or a PDB70 prefix (hhsearch; repeatable)"
                        "; with --m8 the templates' HH-suite prefix (default: MMCIF_DIR/pdb70)")
    search.add_argument("--m8", type=Path,
                        help="ColabFold's pdb70.m8: search the templates it names (hhsearch)")
    search.add_argument("--mmcif-dir", type=Path,
                        help="with --m8: the templates_101 folder, or pdb_mmcif/mmcif_files")
    search.add_argument("--output", required=True, type=Path,
                        help="hit file: pdb_hits.sto (hmmsearch) or pdb_hits.hhr (hhsearch)")
    search.add_argument("--cpus", type=int, default=2)
    search.add_argument("--engine", choices=("pyhmmer", "programs"), default="pyhmmer",
                        help="hmmsearch in process (pyhmmer, default) or the HMMER programs")
    for program in ("hhsearch", "hmmbuild", "hmmsearch"):
        search.add_argument(f"--{program}-binary", help=f"path of the {program} program")
    search.set_defaults(_action=_search)

    featurise = sub.add_parser("featurise", help="template hits -> raw template features")
    featurise.add_argument("--fasta", required=True, type=Path, help="the query (one record)")
    featurise.add_argument("--hits", required=True, type=Path,
                           help="pdb_hits.sto, pdb_hits.hhr, pdb70_hits.hhr or pdb70.m8")
    featurise.add_argument("--msa", type=Path, action="append", default=[],
                           help="for pdb70.m8 hits: the A3M files (uniref.a3m, then the "
                           "environmental A3M)")
    featurise.add_argument("--mmcif-dir", required=True, type=Path,
                           help="the pdb_mmcif/mmcif_files folder")
    featurise.add_argument("--max-template-date", required=True,
                           help="YYYY-MM-DD: newer entries are not used")
    featurise.add_argument("--output", required=True, type=Path, help="templates .npz")
    featurise.add_argument("--summary", type=Path, help="JSON: templates and skipped hits")
    featurise.add_argument("--obsolete-pdbs", type=Path, help="PDB's obsolete.dat")
    featurise.add_argument("--kalign-binary", help="path of the kalign program")
    featurise.add_argument("--max-hits", type=int, default=MAX_TEMPLATE_HITS)
    featurise.set_defaults(_action=_featurise)


def run(args: argparse.Namespace) -> int:
    return int(args._action(args) or 0)


def _search(args: argparse.Namespace) -> int:
    binaries = {p: getattr(args, f"{p}_binary") for p in ("hhsearch", "hmmbuild", "hmmsearch")}
    if args.m8 is not None:
        if args.tool not in (None, "hhsearch"):
            raise InputError("--m8 hits are searched with hhsearch; leave out --tool hmmsearch")
        if args.mmcif_dir is None:
            raise InputError("--m8 needs --mmcif-dir (the templates_101 folder of the ColabFold "
                             "result, or a pdb_mmcif/mmcif_files folder)")
        if args.database and len(args.database) > 1:
            raise InputError("--m8 takes at most one --database (the templates' HH-suite prefix)")
        result = search_m8_templates(args.m8, args.msa, args.mmcif_dir,
                                     args.database[0] if args.database else None,
                                     cpus=args.cpus, binary=binaries["hhsearch"])
    else:
        if args.tool is None or not args.database:
            raise InputError("templates search needs --tool and --database (or --m8 with "
                             "--mmcif-dir)")
        result = search_templates(args.msa, args.tool, args.database, cpus=args.cpus,
                                  engine=args.engine, binaries=binaries)
    write_text(args.output, result.text)
    record = {
        "file": args.output.name, "tool": result.tool, "engine": result.engine,
        "version": result.version, "databases": list(result.databases),
        "query_msa": ", ".join(str(p) for p in args.msa), "hits": result.num_hits,
        "seconds": round(result.seconds, 3),
    }
    if args.m8 is not None:
        record.update({"m8": str(args.m8), "templates": list(result.templates)})
    write_json(args.output.with_name(args.output.name + ".json"), record)
    logger.info("%s: %d template hits in %.1f s (%s)", args.output, result.num_hits,
                result.seconds, result.tool)
    return 0


def read_query(path: Path) -> tuple[str, str]:
    """(description, upper-case sequence) of a one-record FASTA file, checked."""
    from folding.data.parsers.fasta import parse_fasta

    if not path.is_file():
        raise InputError(f"query {path} not found; give the target's FASTA file")
    records = parse_fasta(path.read_text(errors="replace"))
    if len(records) != 1 or not records[0].sequence:
        raise InputError(f"query {path} must hold exactly one non-empty sequence (it holds "
                         f"{len(records)} records); give one FASTA file per target")
    sequence = records[0].sequence.upper()
    bad = next((c for c in sequence if not ("A" <= c <= "Z")), None)
    if bad is not None:
        raise InputError(f"query {path}: character {bad!r} at position "
                         f"{sequence.index(bad) + 1} is not an amino-acid letter; fix the FASTA")
    return records[0].description, sequence


def read_hits(
    path: Path, query_sequence: str, msas: Sequence[Path] = (), mmcif_dir: Path | None = None,
    hhsearch_binary: str | None = None,
) -> tuple[list[TemplateHit], str]:
    """The hits of a template hit file and the search that made it (from the suffix).

    A ColabFold ``.m8`` file is searched first (:func:`search_m8_templates`: hhsearch of
    the A3M files ``msas`` against the templates it names, in ``mmcif_dir``).
    """
    if not path.is_file():
        raise InputError(f"template hit file {path} not found; run `folding templates search`")
    if path.suffix == ".m8":
        if not msas or mmcif_dir is None:
            raise InputError(f"{path}: ColabFold's m8 hits are realigned with hhsearch; give "
                             "the A3M files (--msa uniref.a3m --msa bfd...a3m) and the mmCIF "
                             "folder (templates_101)")
        result = search_m8_templates(path, msas, mmcif_dir, binary=hhsearch_binary)
        return parse_hhr(result.text, f"hhsearch of {path}'s templates"), "hhsearch"
    text = path.read_text(errors="replace")
    if path.suffix == ".hhr":
        return parse_hhr(text, str(path)), "hhsearch"
    if path.suffix == ".sto":
        return parse_hmmsearch_sto(text, query_sequence), "hmmsearch"
    raise InputError(f"{path}: unknown template hit file; give an hhsearch .hhr, an "
                     "hmmsearch .sto or a ColabFold .m8 file")


def featurise_hits(
    hits_path: Path, query_sequence: str, mmcif_dir: Path, max_template_date: str,
    obsolete: Path | None = None, kalign_binary: str | None = None,
    max_hits: int = MAX_TEMPLATE_HITS, msas: Sequence[Path] = (),
) -> TemplateFeatures:
    """Read a hit file and featurise its hits against the mmCIF folder.

    ``msas`` (A3M files) are needed for a ColabFold ``.m8`` hit file (see
    :func:`read_hits`); its hits are then featurised as hhsearch hits.
    """
    date = parse_max_template_date(max_template_date)
    hits, search = read_hits(hits_path, query_sequence, msas, mmcif_dir)
    if not hits:
        # nothing to read: a ColabFold result without template hits has no template folder
        return _no_templates(query_sequence, search)
    featuriser = TemplateFeaturiser(TemplateDatabase.open(mmcif_dir, obsolete), date,
                                    Kalign.locate(kalign_binary), search, max_hits)
    return featuriser.featurise(query_sequence, hits)


def _no_templates(query_sequence: str, search: str) -> TemplateFeatures:
    """No template, in the layout of ``search``'s featuriser (see ``raw_features``)."""
    import numpy as np

    from folding.common.atoms import NUM_ATOM37
    from folding.data.templates.featurise import NUM_TEMPLATE_AATYPES

    length = len(query_sequence)
    return TemplateFeatures(
        aatype=np.zeros((0, length, NUM_TEMPLATE_AATYPES), np.float32),
        all_atom_positions=np.zeros((0, length, NUM_ATOM37, 3), np.float32),
        all_atom_masks=np.zeros((0, length, NUM_ATOM37), np.float32),
        domain_names=(), sequences=(), sum_probs=np.zeros(0, np.float32),
        search="hmmsearch" if search == "hmmsearch" else "hhsearch",
    )


def summary(features: TemplateFeatures, hits_path: Path) -> dict[str, object]:
    """What a featurisation found and skipped, for a JSON summary."""
    return {
        "hits_file": str(hits_path),
        "search": features.search,
        "templates": [
            {"name": name, "sum_probs": float(p), "aligned_residues": len(seq) - seq.count("-")}
            for name, p, seq in zip(features.domain_names, features.sum_probs,
                                    features.sequences, strict=True)
        ],
        "skipped": [{"hit": s.name.split()[0], "kind": s.kind, "reason": s.reason}
                    for s in features.skipped],
    }


def _featurise(args: argparse.Namespace) -> int:
    from folding.data.features import save_raw_npz

    _, sequence = read_query(args.fasta)
    features = featurise_hits(args.hits, sequence, args.mmcif_dir, args.max_template_date,
                              args.obsolete_pdbs, args.kalign_binary, args.max_hits, args.msa)
    save_raw_npz(args.output, features.raw_features())
    if args.summary:
        write_json(args.summary, summary(features, args.hits))
    print(f"{len(features)} templates: {', '.join(features.domain_names) or 'none'}")
    return 0
