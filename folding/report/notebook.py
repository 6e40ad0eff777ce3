"""Notebook view of a target: ``folding.report.show(target_dir)``.

Returns a py3Dmol view of the top-ranked model coloured by pLDDT in AlphaFold's bands
and colours, the same scheme as the HTML report. By default the bundled 3Dmol.js is
embedded in the view as a data URI, so it works without internet access.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

from folding.common.pdb import from_pdb
from folding.errors import InputError
from folding.report.confidence_files import PLDDT_BANDS, plddt_category
from folding.report.ranking import RANKING_FILE, rank_models, read_ranking
from folding.report.results import load_models
from folding.report.vendor import threedmol_js


def top_structure(target_dir: Path, rank: int = 0) -> Path:
    """The structure file of the model ranked ``rank`` (0 = best)."""
    ranked = target_dir / f"ranked_{rank}.pdb"
    if ranked.exists():
        return ranked
    ranking_path = target_dir / RANKING_FILE
    if ranking_path.exists():
        order = read_ranking(ranking_path).order
    else:
        order = rank_models(load_models(target_dir)).order
    if rank >= len(order):
        raise InputError(f"{target_dir}: rank {rank} asked, but there are {len(order)} models")
    name = order[rank]
    for candidate in (f"relaxed_{name}.pdb", f"unrelaxed_{name}.pdb"):
        if (target_dir / candidate).exists():
            return target_dir / candidate
    raise InputError(f"{target_dir}: no structure for {name}; run `folding report target` first")


def plddt_selections(pdb_path: Path) -> list[tuple[dict[str, Any], str]]:
    """(3Dmol atom selection, colour) pairs that colour each residue by its pLDDT band."""
    protein = from_pdb(pdb_path)
    plddt = protein.residue_b_factors()
    chains = protein.residue_chain_ids()
    colours = {letter: colour for _, _, colour, letter in PLDDT_BANDS}
    groups: dict[tuple[str, str], list[int]] = {}
    for i, value in enumerate(plddt):
        key = (chains[i], colours[plddt_category(min(max(float(value), 0.0), 100.0))])
        groups.setdefault(key, []).append(int(protein.residue_index[i]))
    return [({"chain": chain, "resi": residues}, colour)
            for (chain, colour), residues in groups.items()]


def show(
    target_dir: str | os.PathLike[str],
    rank: int = 0,
    width: int = 640,
    height: int = 480,
    embed_js: bool = True,
) -> Any:
    """A py3Dmol view of a ranked model (the top one by default) coloured by pLDDT."""
    import py3Dmol

    target_dir = Path(target_dir)
    if not target_dir.is_dir():
        raise InputError(f"{target_dir}: no such target folder; pass the folder of one target")
    path = top_structure(target_dir, rank)
    options: dict[str, Any] = {"width": width, "height": height}
    if embed_js:
        encoded = base64.b64encode(threedmol_js().encode("utf-8")).decode("ascii")
        options["js"] = f"data:text/javascript;base64,{encoded}"
    view = py3Dmol.view(**options)
    view.addModel(path.read_text(), "pdb")
    view.setStyle({"cartoon": {"color": "white"}})
    for selection, colour in plddt_selections(path):
        view.setStyle(selection, {"cartoon": {"color": colour}})
    view.zoomTo()
    return view
