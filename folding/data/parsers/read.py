"""Read an alignment file by its name: the formats AlphaFold's MSA files come in."""

from __future__ import annotations

import os
from pathlib import Path

from folding.data.parsers.a3m import parse_a3m
from folding.data.parsers.msa import Msa
from folding.data.parsers.stockholm import parse_stockholm, truncate_stockholm
from folding.errors import InputError, MissingResourceError

#: AlphaFold's limits on rows read from its jackhmmer outputs (query included).
MAX_HITS: dict[str, int] = {"uniref90_hits.sto": 10_000, "mgnify_hits.sto": 501}


def read_msa(path: str | os.PathLike[str], max_sequences: int | None = None) -> Msa:
    """The :class:`Msa` in ``path`` (``.sto`` Stockholm or ``.a3m``).

    Stockholm files are truncated to ``max_sequences`` rows (query included) before they
    are parsed, as AlphaFold does; ``None`` reads them whole. A3M files are read whole and
    then truncated to ``max_sequences`` rows when it is given.
    """
    file = Path(path)
    if not file.is_file():
        raise MissingResourceError(f"alignment file {file} not found; run the MSA search first")
    if file.suffix == ".sto":
        return parse_stockholm(truncate_stockholm(file, max_sequences), source=str(file))
    if file.suffix == ".a3m":
        msa = parse_a3m(file.read_text(errors="replace"), source=str(file))
        return msa if max_sequences is None else msa.truncate(max_sequences)
    raise InputError(f"{file}: unknown alignment format; expected a .sto or .a3m file")
