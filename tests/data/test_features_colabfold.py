"""`folding features` on ColabFold's outputs (real MMseqs2-server files of P61626 and A0A024R1R8).

* The MSA is ColabFold's: uniref.a3m rows, then the environmental A3M's rows (its query
  copy included), query first, deletions counted from the lower-case insertions; then
  deduplicated as AlphaFold's ``make_msa_features`` does (``--keep-duplicate-rows``:
  ColabFold's exact rows). Known answers are computed here from the files with plain
  string operations.
* ColabFold's own recipe, run with the reference fork's functions (``parse_a3m`` of the
  joined A3Ms + ``make_msa_features``; ``mk_template``: ``HHSearch`` against
  ``templates_101/pdb70`` + ``HhsearchHitFeaturizer`` on ``templates_101``), gives the
  same features as ``folding features --keep-duplicate-rows`` on the folder.
* An empty ``pdb70.m8`` (A0A024R1R8) gives no template and needs no template folder.
"""

from __future__ import annotations

import shutil
import string
import subprocess

import numpy as np
import pytest

from folding.common.alphabet import HHBLITS_AA_TO_ID
from folding.data.features import find_msa_files, load_raw_npz

P61626 = "alignments/P61626_colabfold"
A0A = "alignments/A0A024R1R8_colabfold"
ENV = "bfd.mgnify30.metaeuk30.smag30.a3m"
_LOWER = str.maketrans("", "", string.ascii_lowercase)


def _rows(path):
    """(aligned row without insertions, deletion counts) per record, by plain string work."""
    rows = []
    text = path.read_text().replace("\x00", "")
    for record in text.split(">")[1:]:
        sequence = "".join(record.splitlines()[1:])
        deletions, count = [], 0
        for symbol in sequence:
            if symbol.islower():
                count += 1
            else:
                deletions.append(count)
                count = 0
        rows.append((sequence.translate(_LOWER), deletions))
    return rows


def _features(venv_bin, tmp_path, msa_dir, fasta, *extra):
    output = tmp_path / "raw.npz"
    done = subprocess.run([str(venv_bin / "folding"), "features", "--fasta", str(fasta),
                           "--msa-dir", str(msa_dir), "--output", str(output), *map(str, extra)],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return load_raw_npz(output), done.stderr


def test_colabfold_msa_rows_deduplicated(shared_data, tmp_path, venv_bin):
    folder = shared_data / P61626
    raw, log = _features(venv_bin, tmp_path, folder, shared_data / "queries/P61626.fasta",
                         "--no-templates")
    rows = _rows(folder / "uniref.a3m") + _rows(folder / ENV)
    assert len(rows) == 3922 + 1245
    kept, seen = [], set()
    for row in rows:
        if row[0] not in seen:
            seen.add(row[0])
            kept.append(row)
    assert len(kept) == 5111 and raw["msa"].shape == (5111, 148)
    assert raw["num_alignments"].tolist() == [5111] * 148
    expected = [[HHBLITS_AA_TO_ID[c] for c in sequence] for sequence, _ in kept]
    assert np.array_equal(raw["msa"], np.array(expected))
    assert kept[0][0] == raw["sequence"][0].decode()  # the query first
    assert np.array_equal(raw["deletion_matrix_int"], np.array([d for _, d in kept]))
    assert raw["deletion_matrix_int"].sum() > 0  # the files do hold insertions
    assert set(raw["msa_species_identifiers"].tolist()) == {b""}
    assert "5111 rows after deduplication of 5167" in log


def test_keep_duplicate_rows_is_colabfold_row_for_row(shared_data, tmp_path, venv_bin):
    folder = shared_data / P61626
    raw, _ = _features(venv_bin, tmp_path, folder, shared_data / "queries/P61626.fasta",
                       "--no-templates", "--keep-duplicate-rows")
    rows = _rows(folder / "uniref.a3m") + _rows(folder / ENV)
    assert raw["msa"].shape == (5167, 148)
    assert np.array_equal(raw["msa"][0], raw["msa"][3922])  # the env A3M's query copy
    assert np.array_equal(raw["deletion_matrix_int"], np.array([d for _, d in rows]))


def test_layout_choice(shared_data, tmp_path):
    both = tmp_path / "both"
    both.mkdir()
    for name in ("uniref.a3m", ENV):
        shutil.copy(shared_data / P61626 / name, both)
    assert [f.path.name for f in find_msa_files(both)] == ["uniref.a3m", ENV]
    shutil.copy(shared_data / "alignments/P61626/uniref90_hits.sto", both)
    assert [f.path.name for f in find_msa_files(both)] == ["uniref90_hits.sto"]
    assert [f.path.name for f in find_msa_files(both, "colabfold")] == ["uniref.a3m", ENV]
    (both / ENV).unlink()
    assert [f.path.name for f in find_msa_files(both, "colabfold")] == ["uniref.a3m"]


def test_m8_templates_from_the_server_folder(shared_data, tmp_path, venv_bin):
    """pdb70.m8 + templates_101/ in the folder: 20 lysozyme templates, no other option."""
    raw, _ = _features(venv_bin, tmp_path, shared_data / P61626,
                       shared_data / "queries/P61626.fasta", "--max-template-date", "2100-01-01")
    names = {name.decode() for name in raw["template_domain_names"]}
    cifs = {p.stem for p in (shared_data / P61626 / "templates_101").glob("*.cif")}
    assert len(names) == 20 and {n.split("_")[0] for n in names} == cifs
    assert raw["template_aatype"].shape == (20, 148, 22)
    assert np.all(raw["template_sum_probs"][:, 0] > 100)
    # mature lysozyme: residues 19-148 of the precursor, every template covers them
    masks = raw["template_all_atom_masks"]
    assert masks[:, 18:, 1].mean() > 0.95 and not masks[:, :18].any()


def test_empty_m8_gives_no_template(shared_data, tmp_path, venv_bin):
    raw, log = _features(venv_bin, tmp_path, shared_data / A0A,
                         shared_data / "queries/A0A024R1R8.fasta", "--max-template-date",
                         "2100-01-01")
    assert raw["template_domain_names"].shape == (0,)
    assert raw["msa"].shape == (1806, 64)  # 1389 + 685 rows, 268 repeats
    assert "templates from" in log and ": none" in log


def test_alignment_of_another_target_is_refused(shared_data, tmp_path, venv_bin):
    done = subprocess.run([str(venv_bin / "folding"), "features", "--fasta",
                           str(shared_data / "queries/A0A024R1R8.fasta"), "--msa-dir",
                           str(shared_data / P61626), "--no-templates", "--output",
                           str(tmp_path / "raw.npz")], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 2
    assert "uniref.a3m: its first row is not the query sequence" in done.stderr
    assert not (tmp_path / "raw.npz").exists()


@pytest.mark.reference
def test_equals_colabfold_recipe_with_the_reference(shared_data, tmp_path, venv_bin):
    """ColabFold's build_monomer_feature + mk_template, with the fork's own functions."""
    for program in ("hhsearch", "kalign"):
        if shutil.which(program) is None:
            pytest.skip(f"{program} is not installed")
    af = pytest.importorskip("alphafold.data", reason="the reference is not installed")
    from alphafold.data import parsers, pipeline, templates
    from alphafold.data.tools import hhsearch

    folder = shared_data / P61626
    sequence = (shared_data / "queries/P61626.fasta").read_text().split("\n", 1)[1]
    sequence = "".join(sequence.split())
    a3m = "".join((folder / name).read_text().replace("\x00", "")
                  for name in ("uniref.a3m", ENV))
    msa = parsers.parse_a3m(a3m)
    reference = {**pipeline.make_sequence_features(sequence=sequence, description="none",
                                                   num_res=len(sequence)),
                 **pipeline.make_msa_features([msa])}
    featurizer = templates.HhsearchHitFeaturizer(
        mmcif_dir=str(folder / "templates_101"), max_template_date="2100-01-01", max_hits=20,
        kalign_binary_path=shutil.which("kalign"), release_dates_path=None,
        obsolete_pdbs_path=None)
    runner = hhsearch.HHSearch(binary_path=shutil.which("hhsearch"),
                               databases=[str(folder / "templates_101/pdb70")])
    hits = af.parsers.parse_hhr(runner.query(a3m))
    reference.update(featurizer.get_templates(query_sequence=sequence, hits=hits).features)

    ours, _ = _features(venv_bin, tmp_path, folder, shared_data / "queries/P61626.fasta",
                        "--keep-duplicate-rows", "--max-template-date", "2100-01-01")
    assert set(ours) == set(reference)
    for key in sorted(set(ours) - {"domain_name"}):
        a, b = np.asarray(ours[key]), np.asarray(reference[key])
        assert a.shape == b.shape, key
        if b.dtype == object:
            assert a.tolist() == b.tolist(), key
        else:
            assert a.dtype == b.dtype, key
            np.testing.assert_allclose(a, b, atol=1e-6, err_msg=key)
