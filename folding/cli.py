"""The ``folding`` command line.

This module only dispatches: each subcommand lives beside the science it runs, in a
module that provides ``configure(parser)`` (add its arguments, possibly its own
sub-subcommands) and ``run(args) -> int``. Modules are imported only when their
command is used, so ``folding --help`` and light commands stay fast.

User-fixable problems are raised as :class:`folding.errors.FoldingError` and printed
as one line (``folding: error: ...``) with a non-zero exit status.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from folding import __version__
from folding.errors import FoldingError


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, the module that implements it and a one-line help."""

    name: str
    module: str
    help: str


COMMANDS: tuple[Command, ...] = (
    Command("inputs", "folding.inputs_cli", "check FASTA inputs and list the targets"),
    Command("search", "folding.data.search_cli", "run an MSA or template search for one target"),
    Command("templates", "folding.data.templates.cli", "search for and featurise templates"),
    Command("features", "folding.data.features_cli", "build AlphaFold's raw input features"),
    Command("multimer", "folding.data.multimer.cli",
            "check complexes and build multimer input features"),
    Command("model", "folding.model.cli", "run the AlphaFold2 model (folding model run ...)"),
    Command("relax", "folding.relax.cli", "Amber-relax a structure"),
    Command("report", "folding.report.cli", "rank models, write confidence files, plots, report"),
    Command("databases", "folding.databases.cli", "download, check or build databases"),
    Command("demo", "folding.demo", "build the demo databases and run the demo workflow"),
    Command("workflow", "folding.workflow.cli", "helpers the Snakemake rules call (internal)"),
)


def _build_parser(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, Command | None]:
    parser = argparse.ArgumentParser(
        prog="folding",
        description="Protein structure prediction: AlphaFold2 in JAX, with search, relax, report.",
    )
    parser.add_argument("--version", action="version", version=f"folding {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = next((a for a in argv if not a.startswith("-")), None)
    chosen = None
    for command in COMMANDS:
        sub_parser = sub.add_parser(command.name, help=command.help, description=command.help)
        if command.name == wanted:
            chosen = command
            module = importlib.import_module(command.module)
            module.configure(sub_parser)
            sub_parser.set_defaults(_run=module.run)
    return parser, chosen


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser, chosen = _build_parser(argv)
    except FoldingError as error:
        print(f"folding: error: {error}", file=sys.stderr)
        return error.exit_code
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if chosen is None or not hasattr(args, "_run"):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except FoldingError as error:
        print(f"folding: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("folding: interrupted", file=sys.stderr)
        return 130
