"""``folding report``: ranking, confidence files, plots and HTML reports.

Commands (each exits 0 on success; a bad input prints ``folding: error: ...`` and exits
non-zero without writing anything)::

    folding report rank --target-dir OUT/T
        Rank the models of one target by mean pLDDT (ipTM+pTM for multimers) from its
        result_<model>.npz and write OUT/T/ranking_debug.json as AlphaFold does:
        {"plddts": {model: mean pLDDT}, "order": [models best first]}. Prints the order,
        best first, one model per line. The workflow runs it before relaxation so that
        relax=best knows the top model (the first line, or "order"[0]).

    folding report target --target-dir OUT/T [--name NAME]
        Everything else for one target (NAME defaults to the folder name), beside the
        model outputs: ranking_debug.json (again, same content), ranked_<i>.pdb and
        ranked_<i>.cif (relaxed if present, else unrelaxed; pLDDT in the B-factors),
        pae_<model>.json (AlphaFold DB format, _ptm models), confidence_<model>.json,
        scores_<model>.json (ColabFold keys: plddt, pae, max_pae, ptm), timings.json
        (provenance/*.json seconds per stage), plddt.png, pae.png, msa_coverage.png and,
        last, report.html (self-contained: 3D viewer, plots, scores, provenance).

    folding report index --output-dir OUT
        OUT/index.html and OUT/index.json: every target folder of OUT (those holding
        result_*.npz) with its best model, mean pLDDT, pTM and a link to its report.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="report_command", metavar="ACTION", required=True)
    rank = sub.add_parser("rank", help="write ranking_debug.json from result_*.npz",
                          description="Rank models by mean pLDDT; write ranking_debug.json.")
    rank.add_argument("--target-dir", type=Path, required=True,
                      help="folder of one target holding result_<model>.npz files")
    target = sub.add_parser("target", help="ranked structures, confidence files, plots, report",
                            description="Write every output of one target, ending with "
                                        "report.html.")
    target.add_argument("--target-dir", type=Path, required=True,
                        help="folder of one target holding result_<model>.npz files")
    target.add_argument("--name", default=None,
                        help="target name shown in the report (default: the folder name)")
    index = sub.add_parser("index", help="index.html and index.json for a whole run",
                           description="Write OUT/index.html and OUT/index.json linking every "
                                       "target.")
    index.add_argument("--output-dir", type=Path, required=True,
                       help="the run's output folder (one sub-folder per target)")


def run(args: argparse.Namespace) -> int:
    if args.report_command == "rank":
        from folding.report.ranking import rank_models, write_ranking
        from folding.report.results import load_models

        ranking = rank_models(load_models(args.target_dir))
        write_ranking(args.target_dir, ranking)
        print("\n".join(ranking.order))
        return 0
    if args.report_command == "target":
        from folding.report.target import make_target_report

        make_target_report(args.target_dir, args.name)
        print(args.target_dir / "report.html")
        return 0
    from folding.report.index import INDEX_HTML, make_index

    make_index(args.output_dir)
    print(args.output_dir / INDEX_HTML)
    return 0
