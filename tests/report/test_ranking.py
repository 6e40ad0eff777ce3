"""Ranking by mean pLDDT and ranking_debug.json as AlphaFold writes it."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from folding.report.ranking import RANKING_FILE, rank_models, read_ranking
from folding.report.results import ModelResult, RelaxOutcome, load_models, natural_key


def _model(name: str, plddt, ptm=None, iptm=None) -> ModelResult:
    return ModelResult(
        name=name, plddt=np.asarray(plddt, np.float32), pae=None, max_pae=None, ptm=ptm,
        iptm=iptm, params_id="", num_recycles=None, asym_id=None, unrelaxed_pdb=None,
        relaxed_pdb=None, relax=RelaxOutcome("not relaxed"),
    )


def test_rank_by_mean_plddt_ties_keep_run_order():
    models = [_model("model_1", [50, 70]), _model("model_2", [80, 80]),
              _model("model_3", [60, 60]), _model("model_4", [90, 70])]
    ranking = rank_models(models)
    assert ranking.label == "plddts"
    assert ranking.order == ("model_2", "model_4", "model_1", "model_3")
    assert ranking.confidences["model_1"] == pytest.approx(60.0)


def test_multimer_models_rank_by_iptm_plus_ptm():
    models = [_model("a", [90], ptm=0.9, iptm=0.5), _model("b", [40], ptm=0.6, iptm=0.8)]
    ranking = rank_models(models)
    assert ranking.label == "iptm+ptm"
    assert ranking.order == ("b", "a")
    assert ranking.confidences["b"] == pytest.approx(0.8 * 0.8 + 0.2 * 0.6)


def test_natural_model_order():
    names = ["model_10_ptm", "model_2_ptm", "model_1_ptm"]
    assert sorted(names, key=natural_key) == ["model_1_ptm", "model_2_ptm", "model_10_ptm"]


def test_rank_command_writes_ranking_debug(target_folder, venv_bin):
    done = subprocess.run(
        [venv_bin / "folding", "report", "rank", "--target-dir", target_folder.path],
        capture_output=True, text=True, check=True)
    assert done.stdout.split() == list(target_folder.expected_order)
    path = target_folder.path / RANKING_FILE
    text = path.read_text()
    document = json.loads(text)
    assert list(document) == ["plddts", "order"]
    assert document["order"] == list(target_folder.expected_order)
    for name, plddt in target_folder.plddts.items():
        assert document["plddts"][name] == pytest.approx(float(plddt.astype(np.float64).mean()))
    # AlphaFold writes it with json.dumps(..., indent=4).
    assert text.rstrip("\n") == json.dumps(document, indent=4)
    assert read_ranking(path).order == target_folder.expected_order
    assert load_models(target_folder.path)[0].name == "model_1_ptm"


def test_rank_command_without_results_fails_cleanly(tmp_path, venv_bin):
    empty = tmp_path / "T"
    empty.mkdir()
    done = subprocess.run([venv_bin / "folding", "report", "rank", "--target-dir", empty],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("folding: error: ")
    assert "result_<model>.npz" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert list(empty.iterdir()) == []


def test_corrupt_result_is_named(target_folder, venv_bin):
    bad = target_folder.path / "result_model_2_ptm.npz"
    bad.write_bytes(b"not a zip file")
    done = subprocess.run(
        [venv_bin / "folding", "report", "rank", "--target-dir", target_folder.path],
        capture_output=True, text=True)
    assert done.returncode == 2
    assert str(bad) in done.stderr
    assert not (target_folder.path / RANKING_FILE).exists()


def _rewrite(path, **changes):
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    arrays.update(changes)
    for key, value in list(arrays.items()):
        if value is None:
            del arrays[key]
    np.savez(path, **arrays)


def test_non_finite_plddt_is_refused(target_folder):
    from folding.errors import InputError

    path = target_folder.path / "result_model_1_ptm.npz"
    plddt = target_folder.plddts["model_1_ptm"].copy()
    plddt[3] = np.nan
    _rewrite(path, plddt=plddt)
    with pytest.raises(InputError, match=r"result_model_1_ptm\.npz.*outside 0-100 or not finite"):
        load_models(target_folder.path)


def test_untrained_is_read_from_the_pdb_remark_when_metadata_lacks_it(target_folder):
    path = target_folder.path / "result_model_1_ptm.npz"
    _rewrite(path, params_id=None)
    model = {m.name: m for m in load_models(target_folder.path)}["model_1_ptm"]
    assert model.untrained and "REMARK 250" in model.params_id
