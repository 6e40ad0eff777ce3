"""``folding templates``: search the PDB for templates, and featurise template hits.

Search (writes the hit file atomically, and ``<output>.json`` recording tool, version,
database, hit count and seconds)::

    folding templates search --msa MSAS/uniref90_hits.sto --tool hmmsearch \\
        --database DB/pdb_seqres/pdb_seqres.txt --output MSAS/pdb_hits.sto [--cpus 2]
        [--engine pyhmmer|programs]
    folding templates search --msa MSAS/uniref90_hits.sto --tool hhsearch \\
        --database DB/pdb70/pdb70 --output MSAS/pdb_hits.hhr [--cpus 2]

Featurise (writes the raw ``template_*`` features as ``.npz`` and, with ``--summary``, a
JSON listing the templates and every skipped hit with its reason)::

    folding templates featurise --fasta Q.fasta --hits MSAS/pdb_hits.sto \\
        --mmcif-dir DB/pdb_mmcif/mmcif_files --max-template-date 2021-11-01 \\
        --output templates.npz [--summary templates.json] [--obsolete-pdbs FILE]

The hit file's suffix tells which search made it (``.hhr``: hhsearch, ``.sto``:
hmmsearch). ``obsolete.dat`` beside the mmCIF folder is read unless ``--obsolete-pdbs``
names another. Hits whose mmCIF is missing, unreadable or does not match are skipped with
a logged reason; the command fails only on bad inputs (one-line error, exit status 2-4).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from folding.atomic import write_json, write_text
from folding.data.templates.featurise import (
    MAX_TEMPLATE_HITS,
    TemplateDatabase,
    TemplateFeatures,
    TemplateFeaturiser,
    parse_max_template_date,
)
from folding.data.templates.hits import TemplateHit, parse_hhr, parse_hmmsearch_sto
from folding.data.templates.search import search_templates
from folding.data.tools.kalign import Kalign
from folding.errors import InputError

logger = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="templates_command", metavar="ACTION", required=True)

    search = sub.add_parser("search", help="run hmmsearch or hhsearch for one target")
    search.add_argument("--msa", required=True, type=Path, help="uniref90_hits.sto")
    search.add_argument("--tool", required=True, choices=("hmmsearch", "hhsearch"))
    search.add_argument("--database", required=True, action="append",
                        help="pdb_seqres.txt (hmmsearch) or a PDB70 prefix (hhsearch; repeatable)")
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
                           help="pdb_hits.sto, pdb_hits.hhr or pdb70_hits.hhr")
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
    result = search_templates(args.msa, args.tool, args.database, cpus=args.cpus,
                              engine=args.engine, binaries=binaries)
    write_text(args.output, result.text)
    write_json(args.output.with_name(args.output.name + ".json"), {
        "file": args.output.name, "tool": result.tool, "engine": result.engine,
        "version": result.version, "databases": list(result.databases),
        "query_msa": str(args.msa), "hits": result.num_hits,
        "seconds": round(result.seconds, 3),
    })
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


def read_hits(path: Path, query_sequence: str) -> tuple[list[TemplateHit], str]:
    """The hits of a template hit file and the search that made it (from the suffix)."""
    if not path.is_file():
        raise InputError(f"template hit file {path} not found; run `folding templates search`")
    text = path.read_text(errors="replace")
    if path.suffix == ".hhr":
        return parse_hhr(text, str(path)), "hhsearch"
    if path.suffix == ".sto":
        return parse_hmmsearch_sto(text, query_sequence), "hmmsearch"
    raise InputError(f"{path}: unknown template hit file; give an hhsearch .hhr or an "
                     "hmmsearch .sto file")


def featurise_hits(
    hits_path: Path, query_sequence: str, mmcif_dir: Path, max_template_date: str,
    obsolete: Path | None = None, kalign_binary: str | None = None,
    max_hits: int = MAX_TEMPLATE_HITS,
) -> TemplateFeatures:
    """Read a hit file and featurise its hits against the mmCIF folder."""
    date = parse_max_template_date(max_template_date)
    hits, search = read_hits(hits_path, query_sequence)
    featuriser = TemplateFeaturiser(TemplateDatabase.open(mmcif_dir, obsolete), date,
                                    Kalign.locate(kalign_binary), search, max_hits)
    return featuriser.featurise(query_sequence, hits)


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
                              args.obsolete_pdbs, args.kalign_binary, args.max_hits)
    save_raw_npz(args.output, features.raw_features())
    if args.summary:
        write_json(args.summary, summary(features, args.hits))
    print(f"{len(features)} templates: {', '.join(features.domain_names) or 'none'}")
    return 0
