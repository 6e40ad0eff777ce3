"""``folding.report.show``: a py3Dmol view of the top model coloured by pLDDT."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

import folding.report
from folding.report.confidence_files import PLDDT_BANDS, plddt_category
from folding.report.target import make_target_report
from folding.report.vendor import THREEDMOL_FILE, THREEDMOL_SHA256, threedmol_js

py3dmol = pytest.importorskip("py3Dmol")


def test_bundled_3dmol_is_the_recorded_file():
    path = Path(folding.report.vendor.__file__).parent / THREEDMOL_FILE
    assert hashlib.sha256(path.read_bytes()).hexdigest() == THREEDMOL_SHA256
    assert path.stat().st_size < 1_500_000
    assert threedmol_js().startswith("/*! For license information please see 3Dmol-min.js.LICENSE")
    assert "3dmol v2.5.5" in (path.parent / "3Dmol-min.js.LICENSE.txt").read_text()
    assert "BSD-3-Clause" in (path.parent / "3Dmol-LICENSE.txt").read_text()


def test_show_colours_the_top_model_by_plddt(target_folder):
    make_target_report(target_folder.path)
    view = folding.report.show(target_folder.path)
    assert isinstance(view, py3dmol.view)
    js = view.startjs + view.endjs
    best = target_folder.expected_order[0]
    plddt = target_folder.plddts[best]
    # Every residue gets the colour of its band (residues numbered from 1).
    colours = {letter: colour for _, _, colour, letter in PLDDT_BANDS}
    styles = re.findall(r'setStyle\(\{"chain": "A", "resi": \[([\d, ]+)\]\},'
                        r'\{"cartoon": \{"color": "(#[0-9A-F]{6})"\}\}\)', js)
    coloured = {int(r): colour for residues, colour in styles for r in residues.split(", ")}
    assert coloured == {i + 1: colours[plddt_category(round(float(v), 2))]
                        for i, v in enumerate(plddt)}
    assert len(set(coloured.values())) == 4
    # The structure shown is ranked_0 (the relaxed top model), and 3Dmol.js is embedded.
    assert (target_folder.path / "ranked_0.pdb").read_text()[:60].replace("\n", "\\n") in js
    assert "data:text/javascript;base64," in js and "cdn.jsdelivr" not in js


def test_show_works_before_the_report_exists(target_folder):
    view = folding.report.show(target_folder.path, embed_js=False)
    assert "unrelaxed" not in view.startjs  # the relaxed file of the best model is used
    assert "cdn.jsdelivr" in view.startjs


def test_show_names_a_missing_folder(tmp_path):
    from folding.errors import InputError

    with pytest.raises(InputError, match="no such target folder"):
        folding.report.show(tmp_path / "missing")
