"""``folding features``: AlphaFold's raw input features from a FASTA file and its searches.

Command (writes ``RAW.npz`` atomically; nothing is written when anything fails)::

    folding features --fasta Q.fasta --msa-dir MSAS --template-mmcif-dir DB/pdb_mmcif/mmcif_files \\
        --max-template-date 2021-11-01 --output RAW.npz
        [--template-hits MSAS/pdb_hits.sto] [--obsolete-pdbs FILE] [--kalign-binary PATH]
    folding features --fasta Q.fasta --msa-dir MSAS --no-templates --output RAW.npz

It reads, as AlphaFold's ``DataPipeline`` with precomputed MSAs does, from ``MSAS``:
``uniref90_hits.sto`` (first 10,000 rows), ``bfd_uniref_hits.a3m`` (or AlphaFold 2.0-2.2's
``bfd_uniclust_hits.a3m``, or reduced_dbs' ``small_bfd_hits.sto``) and ``mgnify_hits.sto``
(first 501 rows), merged in that order and deduplicated; and the template hits of
``pdb_hits.hhr`` (hhsearch, AlphaFold's monomer search), else ``pdb70_hits.hhr`` (its 2.0-2.2
name), else ``pdb_hits.sto`` (hmmsearch), unless ``--template-hits`` names the file. The
template search itself is ``folding templates search``. ``--no-templates`` leaves the
``template_*`` features out (the model then sees no templates).

**ColabFold's outputs** (``msa_mode`` mmseqs2 or server, ``colabfold_search``, or a
ColabFold server's result folder): when ``MSAS`` holds none of AlphaFold's MSA files (or
with ``--msa-layout colabfold``), ``uniref.a3m`` and ``bfd.mgnify30.metaeuk30.smag30.a3m``
are read whole and joined in that order, as ColabFold joins them, then deduplicated as
AlphaFold does (``--keep-duplicate-rows`` keeps ColabFold's exact rows, duplicates
included; see :mod:`folding.data.features`). Their template hits may be ColabFold's
``pdb70.m8``: the templates it names are searched with hhsearch using those A3Ms against
the HH-suite database in ``MSAS/templates_101/`` (what a ColabFold server sends; its
mmCIF files are the template structures, so ``--template-mmcif-dir`` may be left out),
or, with ``--template-mmcif-dir``, built from those entries' mmCIF files::

    folding features --fasta Q.fasta --msa-dir COLABFOLD_RESULT --max-template-date \
        2021-11-01 --output RAW.npz

The output holds the keys, dtypes and shapes of AlphaFold's raw feature dict
(:mod:`folding.data.features`), string features stored as fixed-width bytes; AlphaFold's
own ``features.pkl`` can be given wherever ``RAW.npz`` is expected.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from folding.data.features import (
    MSA_LAYOUTS,
    TEMPLATE_HIT_FILES,
    find_colabfold_msa_files,
    find_msa_files,
    find_template_hits,
    raw_features,
    read_msas,
    save_raw_npz,
)
from folding.data.templates.cli import featurise_hits, read_query
from folding.errors import InputError

logger = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fasta", required=True, type=Path, help="the query (one record)")
    parser.add_argument("--msa-dir", required=True, type=Path,
                        help="folder with uniref90_hits.sto, bfd_uniref_hits.a3m, mgnify_hits.sto"
                        " and the template hits")
    parser.add_argument("--msa-layout", choices=MSA_LAYOUTS, default="auto",
                        help="read AlphaFold's MSA files, ColabFold's (uniref.a3m + "
                        "bfd.mgnify30.metaeuk30.smag30.a3m), or whichever the folder holds "
                        "(auto, AlphaFold's first)")
    parser.add_argument("--keep-duplicate-rows", action="store_true",
                        help="do not deduplicate the merged MSA (ColabFold's own behaviour)")
    parser.add_argument("--template-mmcif-dir", type=Path,
                        help="the template database's pdb_mmcif/mmcif_files folder (for "
                        "pdb70.m8 hits: default MSA_DIR/templates_101)")
    parser.add_argument("--max-template-date", help="YYYY-MM-DD: newer templates are not used")
    parser.add_argument("--template-hits", type=Path,
                        help="template hit file (default: the first of "
                        f"{', '.join(TEMPLATE_HIT_FILES)} in --msa-dir)")
    parser.add_argument("--obsolete-pdbs", type=Path,
                        help="PDB's obsolete.dat (default: beside the mmCIF folder, if there)")
    parser.add_argument("--kalign-binary", help="path of the kalign program")
    parser.add_argument("--no-templates", action="store_true",
                        help="leave the template features out")
    parser.add_argument("--output", required=True, type=Path, help="RAW.npz to write")


def _m8_template_dir(msa_dir: Path, hits: Path) -> Path:
    """ColabFold's template folder for an m8 file: ``templates_<query id>`` beside it."""
    from folding.data.templates.m8 import read_m8

    found = read_m8(hits)
    query = found[0].query if found else "101"
    for folder in (hits.parent, msa_dir):
        if (folder / f"templates_{query}").is_dir():
            return folder / f"templates_{query}"
    return msa_dir / f"templates_{query}"


def run(args: argparse.Namespace) -> int:
    if not args.msa_dir.is_dir():
        raise InputError(f"MSA folder {args.msa_dir} not found; run the MSA search first")
    hits = None
    mmcif_dir = args.template_mmcif_dir
    if not args.no_templates:
        if args.max_template_date is None:
            raise InputError("templates need --max-template-date (or pass --no-templates)")
        hits = args.template_hits or find_template_hits(args.msa_dir)
        if hits is None:
            names = ", ".join(TEMPLATE_HIT_FILES)
            raise InputError(f"{args.msa_dir} holds no template hits ({names}); run "
                             "`folding templates search`, or pass --no-templates")
        if mmcif_dir is None and hits.suffix == ".m8":
            mmcif_dir = _m8_template_dir(args.msa_dir, hits)
        if mmcif_dir is None:
            raise InputError("templates need --template-mmcif-dir and --max-template-date "
                             "(or pass --no-templates)")
    description, sequence = read_query(args.fasta)
    files = find_msa_files(args.msa_dir, args.msa_layout)
    msas = read_msas(files, sequence)
    templates = {}
    if hits is not None:
        a3ms = [f.path for f in find_colabfold_msa_files(args.msa_dir)] \
            if hits.suffix == ".m8" else []
        found = featurise_hits(hits, sequence, mmcif_dir, args.max_template_date,
                               args.obsolete_pdbs, args.kalign_binary, msas=a3ms)
        templates = found.raw_features()
        logger.info("templates from %s: %s", hits, ", ".join(found.domain_names) or "none")
    features = raw_features(sequence, description, msas, templates,
                            deduplicate=not args.keep_duplicate_rows)
    save_raw_npz(args.output, features)
    logger.info("wrote %s: %d residues, %d MSA rows, %d templates", args.output, len(sequence),
                features["msa"].shape[0], len(templates.get("template_domain_names", [])))
    return 0
