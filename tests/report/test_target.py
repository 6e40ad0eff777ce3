"""``folding report target``: every file of one target, and the self-contained report."""

from __future__ import annotations

import json
import re
import subprocess

import gemmi
import numpy as np
import pytest

from folding.common.mmcif import read_plddt
from folding.common.pdb import from_pdb
from folding.report.target import make_target_report

EXPECTED_FILES = (
    "ranking_debug.json", "timings.json", "plddt.png", "pae.png", "msa_coverage.png",
    "report.html",
)


def test_target_command_writes_every_output(target_folder, venv_bin):
    done = subprocess.run(
        [venv_bin / "folding", "report", "target", "--target-dir", target_folder.path,
         "--name", "human lysozyme"], capture_output=True, text=True, check=True)
    folder = target_folder.path
    assert done.stdout.strip() == str(folder / "report.html")
    for name in EXPECTED_FILES:
        assert (folder / name).stat().st_size > 0, name
    for model in target_folder.plddts:
        for prefix in ("pae", "scores", "confidence"):
            assert (folder / f"{prefix}_{model}.json").exists()
    for png in ("plddt.png", "pae.png", "msa_coverage.png"):
        assert (folder / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (folder / "report.html").read_text()
    assert "human lysozyme" in report


def test_ranked_structures_are_relaxed_where_relax_succeeded(target_folder):
    make_target_report(target_folder.path)
    folder = target_folder.path
    order = target_folder.expected_order
    for rank, model in enumerate(order):
        pdb = folder / f"ranked_{rank}.pdb"
        relaxed = folder / f"relaxed_{model}.pdb"
        source = relaxed if relaxed.exists() else folder / f"unrelaxed_{model}.pdb"
        assert pdb.read_text() == source.read_text()
        protein = from_pdb(pdb)
        assert np.allclose(protein.residue_b_factors(), target_folder.plddts[model], atol=0.006)
        assert any("UNTRAINED" in r for r in protein.remarks)
        # The mmCIF carries the same atoms and the pLDDT as ModelCIF metrics.
        cif = folder / f"ranked_{rank}.cif"
        structure = gemmi.read_structure(str(cif))
        assert structure[0].count_atom_sites() == int(protein.atom_mask.sum())
        local = read_plddt(cif)
        assert np.allclose([local[("A", i + 1)] for i in range(target_folder.length)],
                           target_folder.plddts[model], atol=0.006)
        assert "UNTRAINED" in cif.read_text()
    assert not (folder / f"ranked_{len(order)}.pdb").exists()


def test_relaxed_file_without_plddt_gets_it_restored(target_folder):
    folder = target_folder.path
    best = target_folder.expected_order[0]
    relaxed = folder / f"relaxed_{best}.pdb"
    protein = from_pdb(relaxed)
    from folding.common.pdb import to_pdb

    relaxed.write_text(to_pdb(protein.replace(b_factors=np.zeros_like(protein.b_factors))))
    make_target_report(folder)
    restored = from_pdb(folder / "ranked_0.pdb")
    assert np.allclose(restored.residue_b_factors(), target_folder.plddts[best], atol=0.006)
    assert np.allclose(restored.atom_positions, protein.atom_positions)


def test_report_is_self_contained_and_says_what_happened(target_folder):
    make_target_report(target_folder.path)
    text = (target_folder.path / "report.html").read_text()
    # Nothing is loaded from elsewhere: no src/href to another host, no CDN, no @import.
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text, flags=re.I)
    assert "@import" not in text and "cdn." not in text.lower()
    assert text.count("data:image/png;base64,") == 3
    assert "$3Dmol" in text and "3Dmol.js 2.5.5" in text
    # The structures are embedded; every model is selectable.
    data = json.loads(re.search(
        r'<script type="application/json" id="report-data">(.*?)</script>', text, re.S).group(1))
    assert [m["name"] for m in data["models"]] == list(target_folder.expected_order)
    assert data["models"][0]["relaxed"] is True
    assert data["models"][0]["pdb"].startswith("REMARK 250 UNTRAINED")
    assert data["bands"] == [[90.0, "#0053D6"], [70.0, "#65CBF3"], [50.0, "#FFDB13"],
                             [0.0, "#FF7D45"]]
    # Untrained parameters, the failed relaxation and the provenance are all shown.
    assert 'id="untrained-banner"' in text
    assert "relaxation failed: OpenMM minimisation raised NaN energies" in text
    assert "database.sha256" in text and "versions.hmmer" in text and "3.3.2" in text
    assert "untrained:seed=0" in text


def test_rerun_gives_the_same_files_and_removes_stale_ones(target_folder):
    folder = target_folder.path
    make_target_report(folder)
    before = {p.name: p.read_bytes() for p in folder.glob("*") if p.suffix in (".json", ".pdb",
                                                                               ".cif", ".png")}
    (folder / "ranked_7.pdb").write_text("stale")
    make_target_report(folder)
    after = {p.name: p.read_bytes() for p in folder.glob("*") if p.suffix in (".json", ".pdb",
                                                                              ".cif", ".png")}
    assert before == after


def test_missing_optional_inputs_degrade_gracefully(tmp_path, target_factory):
    target = target_factory(tmp_path, name="bare", untrained=False)
    folder = target.path
    (folder / "features.npz").unlink()
    for path in folder.glob("relax*_*"):
        path.unlink()
    for path in (folder / "provenance").iterdir():
        path.unlink()
    # A model without the PAE head (model_1 rather than model_1_ptm).
    for path in folder.glob("result_*.npz"):
        with np.load(path) as data:
            kept = {k: data[k] for k in data.files
                    if k not in ("predicted_aligned_error", "ptm", "max_predicted_aligned_error")}
        np.savez(path, **kept)
    make_target_report(folder)
    assert not (folder / "pae.png").exists() and not (folder / "msa_coverage.png").exists()
    assert not list(folder.glob("pae_*.json"))
    assert set(json.loads((folder / "scores_model_1_ptm.json").read_text())) == {
        "plddt", "params_id", "untrained_parameters", "dtype"}
    assert json.loads((folder / "timings.json").read_text()) == {}
    text = (folder / "report.html").read_text()
    assert "No MSA coverage plot" in text and "No PAE plot" in text
    assert 'id="untrained-banner"' not in text
    assert text.count("not relaxed") == 3


def test_inconsistent_structure_fails_without_output(target_folder, venv_bin):
    folder = target_folder.path
    pdb = folder / "unrelaxed_model_1_ptm.pdb"
    lines = pdb.read_text().splitlines()
    pdb.write_text("\n".join(line for line in lines if " A 130 " not in line[16:27]) + "\n")
    done = subprocess.run(["folding", "report", "target", "--target-dir", folder],
                          capture_output=True, text=True, env={"PATH": str(venv_bin)})
    assert done.returncode == 2, done.stderr
    assert "129 residues" in done.stderr and "unrelaxed_model_1_ptm.pdb" in done.stderr
    assert not (folder / "report.html").exists() and not (folder / "ranked_0.pdb").exists()
    assert not (folder / "ranking_debug.json").exists()


@pytest.mark.parametrize("missing", ["folder", "results"])
def test_target_command_names_a_missing_input(tmp_path, venv_bin, missing):
    folder = tmp_path / "T"
    if missing == "results":
        folder.mkdir()
    done = subprocess.run([venv_bin / "folding", "report", "target", "--target-dir", folder],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert str(folder) in done.stderr and done.stderr.startswith("folding: error:")


def test_target_keeps_the_ranking_written_before_relaxation(target_folder, venv_bin):
    folder = target_folder.path
    subprocess.run([venv_bin / "folding", "report", "rank", "--target-dir", folder], check=True,
                   capture_output=True)
    ranking = folder / "ranking_debug.json"
    written = ranking.stat().st_mtime_ns
    make_target_report(folder)
    assert ranking.stat().st_mtime_ns == written  # relax outputs stay up to date
    # A stale ranking (results changed since) is rewritten.
    ranking.write_text(json.dumps({"plddts": {"model_1_ptm": 1.0}, "order": ["model_1_ptm"]}))
    make_target_report(folder)
    assert json.loads(ranking.read_text())["order"] == list(target_folder.expected_order)


@pytest.mark.slow
def test_real_relax_output_becomes_ranked_0(target_folder, venv_bin):
    """`folding relax` on the top model (about 20 s), then the report takes its output."""
    folder = target_folder.path
    best = target_folder.expected_order[0]
    subprocess.run(
        [venv_bin / "folding", "relax", "--input", folder / f"unrelaxed_{best}.pdb",
         "--output", folder / f"relaxed_{best}.pdb", "--record", folder / f"relax_{best}.json"],
        check=True, capture_output=True)
    record = json.loads((folder / f"relax_{best}.json").read_text())
    make_target_report(folder)
    ranked = (folder / "ranked_0.pdb").read_text()
    if record["relaxed"]:
        assert ranked == (folder / f"relaxed_{best}.pdb").read_text()
        assert any(line[76:78].strip() == "H" for line in ranked.splitlines()
                   if line.startswith("ATOM"))  # AlphaFold's relaxed models keep hydrogens
    else:
        assert ranked == (folder / f"unrelaxed_{best}.pdb").read_text()
    protein = from_pdb(folder / "ranked_0.pdb")
    assert np.allclose(protein.residue_b_factors(), target_folder.plddts[best], atol=0.006)
    text = (folder / "report.html").read_text()
    assert ("relaxed; violations" in text) == record["relaxed"]
