"""``folding search``: one MSA search for one target (what each workflow job runs).

Commands (``Q.fasta`` is a per-target FASTA from ``folding inputs check``; ``MSAS`` the
target's MSA folder; every output is written atomically with a ``<file>.json`` record)::

    # jackhmmer (pyhmmer, in process): AlphaFold's settings, one database per call
    folding search --tool jackhmmer --query Q.fasta --database uniref90.fasta \\
        --db-name uniref90 --output-dir MSAS --threads N [--max-hits 10000]
        # -> MSAS/uniref90_hits.sto   (mgnify -> mgnify_hits.sto, max 501;
        #    small_bfd -> small_bfd_hits.sto, all hits; uniprot -> uniprot_hits.sto)

    # hhblits on BFD + UniRef30 (HH-suite database prefixes, in AlphaFold's order)
    folding search --tool hhblits --query Q.fasta --database BFD_PREFIX \\
        --database UNIREF30_PREFIX --db-name bfd_uniref --output-dir MSAS --threads N
        # -> MSAS/bfd_uniref_hits.a3m

    # MMseqs2 as colabfold_search runs it (UniRef30, then the environmental database)
    folding search --tool mmseqs2 --query Q.fasta --database UNIREF30_DB \\
        [--env-database ENV_DB] --output-dir MSAS --threads N
        # -> MSAS/uniref.a3m [and MSAS/bfd.mgnify30.metaeuk30.smag30.a3m]

    # a ColabFold-compatible MSA server
    folding search --tool server --query Q.fasta --server-url URL [--no-env] \\
        [--no-filter] [--templates] --output-dir MSAS
        # -> MSAS/uniref.a3m [and MSAS/bfd.mgnify30.metaeuk30.smag30.a3m]
        #    [--templates: MSAS/pdb70.m8 and MSAS/templates_101/, ColabFold's layout]

Exit status 0 on success; 2 for bad input, 3 for a missing database or program, 4 when a
tool fails, each with a one-line ``folding: error: ...`` on stderr and no output file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from folding.data.search import OUTPUTS, TOOLS
from folding.errors import InputError


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tool", required=True, choices=TOOLS, help="search program")
    parser.add_argument("--query", required=True, type=Path, metavar="FASTA",
                        help="the target's one-record FASTA file")
    parser.add_argument("--database", action="append", type=Path, default=[], metavar="PATH",
                        help="database: FASTA (jackhmmer), HH-suite prefix (hhblits, "
                        "repeatable: BFD then UniRef30), MMseqs2 database (mmseqs2)")
    parser.add_argument("--db-name", choices=sorted(OUTPUTS), metavar="NAME",
                        help="which database this is (decides the file name): "
                        + ", ".join(OUTPUTS))
    parser.add_argument("--output-dir", required=True, type=Path, metavar="DIR",
                        help="the target's MSA folder")
    parser.add_argument("--threads", type=int, default=1, metavar="N", help="CPU threads")
    parser.add_argument("--max-hits", type=int, default=-1, metavar="N",
                        help="keep at most N sequences of a Stockholm output, query included "
                        "(default: AlphaFold's for the database; 0 keeps all)")
    parser.add_argument("--iterations", type=int, metavar="N",
                        help="search iterations (default: jackhmmer 1, hhblits 3)")
    parser.add_argument("--env-database", type=Path, metavar="PATH",
                        help="mmseqs2: the environmental database (e.g. colabfold_envdb)")
    parser.add_argument("--server-url", metavar="URL", help="server: the MSA server's address")
    parser.add_argument("--no-env", action="store_true",
                        help="server: UniRef only, without the environmental databases")
    parser.add_argument("--no-filter", action="store_true",
                        help="server: ask for the unfiltered MSA")
    parser.add_argument("--templates", action="store_true",
                        help="server: also fetch the template hits (pdb70.m8) and the "
                        "templates they name (templates_101/)")
    parser.add_argument("--poll-seconds", type=float, default=5.0, metavar="S",
                        help="server: seconds between status checks")
    parser.add_argument("--timeout", type=float, default=3600.0, metavar="S",
                        help="server: give up after S seconds")


def run(args: argparse.Namespace) -> int:
    from folding.data import search

    if args.threads < 1:
        raise InputError(f"--threads must be at least 1, not {args.threads}")
    if args.tool == "server":
        if not args.server_url:
            raise InputError("--tool server needs --server-url URL (the MSA server's address)")
        search.search_server(args.query, args.server_url, args.output_dir,
                             use_env=not args.no_env, use_filter=not args.no_filter,
                             poll_seconds=args.poll_seconds, timeout_seconds=args.timeout,
                             use_templates=args.templates)
        return 0
    if not args.database:
        raise InputError(f"--tool {args.tool} needs --database PATH")
    if args.tool == "mmseqs2":
        if len(args.database) != 1:
            raise InputError("--tool mmseqs2 takes one --database (UniRef30) and optionally "
                             "--env-database")
        search.search_mmseqs2(args.query, args.database[0], args.env_database, args.output_dir,
                              threads=args.threads)
        return 0
    if args.db_name is None:
        raise InputError(f"--tool {args.tool} needs --db-name (e.g. "
                         f"{'uniref90' if args.tool == 'jackhmmer' else 'bfd_uniref'})")
    if args.tool == "jackhmmer":
        if len(args.database) != 1:
            raise InputError("--tool jackhmmer searches one --database per call")
        max_hits = None if args.max_hits == 0 else args.max_hits
        if max_hits is not None and max_hits < -1:
            raise InputError(f"--max-hits must be positive (or 0 for all), not {args.max_hits}")
        search.search_jackhmmer(args.query, args.database[0], args.db_name, args.output_dir,
                                threads=args.threads, max_hits=max_hits,
                                iterations=args.iterations or 1)
        return 0
    search.search_hhblits(args.query, args.database, args.db_name, args.output_dir,
                          threads=args.threads, iterations=args.iterations or 3)
    return 0
