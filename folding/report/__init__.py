"""Finishing a prediction: ranking, confidence files, plots and the HTML report.

Modules: :mod:`~folding.report.results` (reading a target folder),
:mod:`~folding.report.ranking` (``ranking_debug.json``),
:mod:`~folding.report.confidence_files` (PAE, pLDDT and ColabFold scores JSON),
:mod:`~folding.report.structures` (``ranked_<i>.pdb``/``.cif``),
:mod:`~folding.report.plots`, :mod:`~folding.report.html`,
:mod:`~folding.report.target` (all of one target), :mod:`~folding.report.index` (the
run's index), :mod:`~folding.report.notebook` (:func:`show`) and
:mod:`~folding.report.cli` (``folding report``).
"""

from __future__ import annotations

import os
from typing import Any


def show(target_dir: str | os.PathLike[str], rank: int = 0, **options: Any) -> Any:
    """A py3Dmol view of the top model of a target folder, coloured by pLDDT.

    See :func:`folding.report.notebook.show` for the options.
    """
    from folding.report.notebook import show as _show

    return _show(target_dir, rank=rank, **options)


__all__ = ["show"]
