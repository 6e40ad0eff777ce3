"""``folding model run`` with multimer models: predictions per seed, outputs, errors.

The input is a real A2B complex from our multimer data pipeline (two 2Q2K chains and
A0A024R1R8, see ``multimer_inputs.py``), each chain cropped to 16 residues and the MSA to
its first 96 rows (then padded as the pipeline pads), so that the full 48-block model runs
in seconds per pass with untrained parameters. The outputs then go through the report
(``folding report target``): ranking by 0.8 ipTM + 0.2 pTM, chains in the PDB and mmCIF
files, chain boundaries in the PAE plot.
"""

from __future__ import annotations

import json
import logging

import gemmi
import numpy as np
import pytest
from multimer_inputs import real_complex, synthetic_complex

from folding.cli import main
from folding.data.features import save_raw_npz
from folding.data.multimer.complex_features import pad_msa_rows
from folding.errors import InputError

MODEL = "model_1_multimer_v3"
MSA_ROWS = 96


def _shallow(features: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
    out = dict(features)
    for name in ("msa", "deletion_matrix", "msa_mask", "bert_mask", "cluster_bias_mask"):
        out[name] = out[name][:rows]
    out["num_alignments"] = np.asarray(rows, np.int32)
    return pad_msa_rows(out)


@pytest.fixture(scope="module")
def target(shared_data, tmp_path_factory):
    """A target folder with the complex's raw features (``features.npz``)."""
    folder = tmp_path_factory.mktemp("complex")
    complex_ = real_complex(shared_data, start=20, length=16)
    save_raw_npz(folder / "features.npz", _shallow(complex_.features, MSA_ROWS))
    return folder


def _run(folder, *args):
    return main(["model", "run", "--untrained-params", "--model-name", MODEL,
                 "--features", str(folder / "features.npz"), *args])


@pytest.fixture(scope="module")
def predictions(target):
    """Two predictions (seeds 0 and 1) of model_1_multimer_v3 with one recycle."""
    code = _run(target, "--output", str(target / f"result_{MODEL}.npz"),
                "--pdb", str(target / f"unrelaxed_{MODEL}.pdb"), "--num-recycle", "1",
                "--num-predictions-per-model", "2")
    assert code == 0
    return [dict(np.load(target / f"result_{MODEL}_pred_{k}.npz")) for k in range(2)]


@pytest.mark.slow
def test_predictions_per_seed_and_their_outputs(target, predictions):
    assert not (target / f"result_{MODEL}.npz").exists()
    for k, result in enumerate(predictions):
        for key in ("final_atom_positions", "plddt", "predicted_aligned_error", "ptm", "iptm",
                    "ranking_confidence", "asym_id", "entity_id", "sym_id", "mean_plddt"):
            assert key in result, key
        assert str(result["model_name"]) == f"{MODEL}_pred_{k}"
        assert int(result["seed"]) == k and int(result["num_recycles"]) == 1
        assert str(result["params_id"]) == "untrained:seed=0"
        assert float(result["ranking_confidence"]) == pytest.approx(
            0.8 * float(result["iptm"]) + 0.2 * float(result["ptm"]), abs=1e-6)
        assert 0.0 < float(result["iptm"]) < 1.0
        np.testing.assert_array_equal(result["asym_id"], np.repeat([1, 2, 3], 16))
        np.testing.assert_array_equal(result["entity_id"], np.repeat([1, 1, 2], 16))
    # Different seeds sample different MSA centres and masks: different predictions.
    assert not np.allclose(predictions[0]["final_atom_positions"],
                           predictions[1]["final_atom_positions"])


@pytest.mark.slow
def test_one_named_prediction_repeats_the_same_seed(target, predictions, tmp_path):
    """``--model-name model_1_multimer_v3_pred_1`` is prediction 1 of the batch run."""
    out = tmp_path / "one.npz"
    assert _run(target, "--model-name", f"{MODEL}_pred_1", "--output", str(out),
                "--num-recycle", "1") == 0
    again = dict(np.load(out))
    assert str(again["model_name"]) == f"{MODEL}_pred_1" and int(again["seed"]) == 1
    for key in ("final_atom_positions", "plddt", "predicted_aligned_error", "iptm"):
        np.testing.assert_array_equal(again[key], predictions[1][key], err_msg=key)


@pytest.mark.slow
def test_bfloat16_run_records_its_dtype(target, predictions, tmp_path):
    """``--dtype bfloat16`` reaches the multimer trunk: a different but close prediction,
    and the result says which dtype ran (``auto`` on this CPU ran float32)."""
    out = tmp_path / "bf16.npz"
    assert _run(target, "--model-name", f"{MODEL}_pred_0", "--output", str(out),
                "--num-recycle", "1", "--dtype", "bfloat16") == 0
    fast = dict(np.load(out))
    assert str(fast["dtype"]) == "bfloat16" and str(predictions[0]["dtype"]) == "float32"
    delta = np.abs(fast["plddt"] - predictions[0]["plddt"])
    assert 0.0 < float(delta.max()) < 0.05
    assert abs(float(fast["iptm"]) - float(predictions[0]["iptm"])) < 0.01


@pytest.mark.slow
def test_chains_in_pdb_mmcif_and_report(target, predictions):
    pdb = (target / f"unrelaxed_{MODEL}_pred_0.pdb").read_text()
    assert pdb.startswith("REMARK 250 UNTRAINED PARAMETERS")
    atoms = [line for line in pdb.splitlines() if line.startswith("ATOM")]
    assert [c for c in dict.fromkeys(line[21] for line in atoms)] == ["A", "B", "C"]
    ters = [line for line in pdb.splitlines() if line.startswith("TER")]
    assert [line[21] for line in ters] == ["A", "B", "C"]
    # residues keep their numbers within their chain (the crop starts at residue 21)
    assert {int(line[22:26]) for line in atoms if line[21] == "C"} == set(range(21, 37))

    assert main(["report", "target", "--target-dir", str(target), "--name", "A2B"]) == 0
    ranking = json.loads((target / "ranking_debug.json").read_text())
    scores = {f"{MODEL}_pred_{k}": 0.8 * float(p["iptm"]) + 0.2 * float(p["ptm"])
              for k, p in enumerate(predictions)}
    assert ranking["order"] == sorted(scores, key=lambda n: -scores[n])
    assert ranking["iptm+ptm"] == pytest.approx(scores, abs=1e-6)

    structure = gemmi.read_structure(str(target / "ranked_0.cif"))
    chains = [chain.name for chain in structure[0]]
    assert chains == ["A", "B", "C"]
    assert [len(chain) for chain in structure[0]] == [16, 16, 16]
    structure.setup_entities()
    entity_of = {sub: entity.name for entity in structure.entities for sub in entity.subchains}
    subchains = [chain.get_polymer().subchain_id() for chain in structure[0]]
    # the two 2Q2K copies are one entity, A0A024R1R8 another
    assert entity_of[subchains[0]] == entity_of[subchains[1]] != entity_of[subchains[2]]
    html = (target / "report.html").read_text()
    assert "<th>ipTM</th>" in html and 'option value="chain"' in html  # colour by chain
    assert (target / "pae.png").exists()  # with lines at the chain boundaries (plots.py)


def test_errors_name_the_input_and_write_nothing(tmp_path, capsys, small_monomer_raw):
    out = tmp_path / "out.npz"

    def error(*args):
        code = main(["model", "run", "--untrained-params", "--output", str(out), *args])
        assert code != 0 and not out.exists()
        return capsys.readouterr().err

    message = error("--model-name", MODEL, "--features", str(small_monomer_raw))
    assert "not multimer features" in message and "folding multimer features" in message
    message = error("--model-name", "model_1_multimer_v2", "--features", str(small_monomer_raw))
    assert "unknown multimer model name 'model_1_multimer_v2'" in message
    message = error("--model-name", f"{MODEL}_pred_1", "--num-predictions-per-model", "2",
                    "--features", str(small_monomer_raw))
    assert "names one prediction" in message
    message = error("--model-name", MODEL, "--num-predictions-per-model", "0",
                    "--features", str(small_monomer_raw))
    assert "--num-predictions-per-model must be at least 1" in message
    message = error("--model-name", "model_1_ptm", "--num-predictions-per-model", "2",
                    "--features", str(small_monomer_raw))
    assert "--num-predictions-per-model is for multimer models" in message
    message = error("--model-name", MODEL, "--features", str(tmp_path / "absent.npz"))
    assert "absent.npz does not exist" in message
    features = tmp_path / "complex.npz"
    save_raw_npz(features, synthetic_complex())
    code = main(["model", "run", "--params", str(tmp_path / "absent_params.npz"),
                 "--model-name", MODEL, "--features", str(features), "--output", str(out)])
    assert code != 0 and not out.exists()
    assert "absent_params.npz not found" in capsys.readouterr().err


@pytest.fixture
def small_monomer_raw(tmp_path):
    """Raw monomer features (no chain ids): what a multimer model must refuse."""
    from model_cases import synthetic_raw

    path = tmp_path / "monomer.npz"
    save_raw_npz(path, synthetic_raw(10, 4))
    return path


@pytest.mark.parametrize("change,words", [
    (lambda f: f.pop("msa"), "feature 'msa' is missing"),
    (lambda f: f.__setitem__("msa", np.full_like(f["msa"], 25)), "'msa' has values outside 0..21"),
    (lambda f: f.__setitem__("template_aatype", f["template_aatype"][:, :-1]),
     "'template_aatype' has shape (2, 38), which disagrees with 'aatype' on the L axis"),
    (lambda f: f.__setitem__("asym_id", f["asym_id"] + 0.5), "'asym_id' has dtype float64 or "
     "values that are not a numeric type with whole values"),
    (lambda f: f.__setitem__("asym_id", f["asym_id"] - 1), "must number chains from 1"),
    (lambda f: f["deletion_matrix"].__setitem__((0, 0), np.nan),
     "'deletion_matrix' holds non-finite values"),
    (lambda f: f.__setitem__("seq_mask", f["seq_mask"][None]), "'seq_mask' has shape (1, 39), "
     "expected 1 axes"),
])
def test_feature_errors(change, words):
    from folding.model.multimer.features import validate_multimer_features

    features = synthetic_complex()
    change(features)
    with pytest.raises(InputError) as error:
        validate_multimer_features(features, "complex.npz")
    assert str(error.value).startswith("complex.npz: ") and words in str(error.value)


def test_bert_mask_defaults_to_the_msa_mask():
    from folding.model.multimer.features import validate_multimer_features

    features = synthetic_complex()
    del features["bert_mask"]
    checked = validate_multimer_features(features)
    np.testing.assert_array_equal(checked["bert_mask"], checked["msa_mask"])
    assert checked["asym_id"].dtype == np.int32 and checked["msa"].dtype == np.int32


@pytest.mark.slow
def test_recycling_stops_early_at_the_tolerance(target, predictions):
    """With a tolerance no change can meet, recycling stops after the first recycle."""
    from dataclasses import replace

    from folding.model.multimer import params as multimer_params
    from folding.model.multimer.config import multimer_model_config
    from folding.model.multimer.features import load_multimer_features
    from folding.model.multimer.runner import MultimerRunner, rank_predictions

    config = replace(multimer_model_config(MODEL).with_recycles(3),
                     recycle_early_stop_tolerance=1e9)
    params = multimer_params.random_multimer_params(config.network, seed=0)
    runner = MultimerRunner(config, params, "untrained:seed=0")
    features = load_multimer_features(target / "features.npz")
    prediction = runner.predict(features, seed=1)
    assert prediction.num_recycles == 1 and len(prediction.recycle_changes) == 2
    # the same seed and passes as the CLI's prediction 1 (one recycle): the same result
    np.testing.assert_array_equal(prediction.output.final_atom_positions,
                                  predictions[1]["final_atom_positions"])
    other = runner.predict(features, seed=0)
    best = rank_predictions([other, prediction])[0]
    assert best.ranking_confidence == max(other.ranking_confidence,
                                          prediction.ranking_confidence)


def _tiny_gpu(monkeypatch, gib: float = 0.2):
    from folding.model import memory_plan

    size = int(gib * memory_plan.GIB)
    gpu = memory_plan.DeviceMemory("gpu", "Tiny GPU", size, size, "test")
    monkeypatch.setattr(memory_plan, "device_memory", lambda device=None: gpu)


def test_memory_plan_refuses_a_complex_too_long_for_the_device(target, tmp_path, capsys,
                                                              caplog, monkeypatch):
    """A GPU too small for the complex, no spilling: one error naming the input and the
    longest length that fits, before anything compiles; no MSA-size hints (multimer
    models do not take them); nothing written."""
    _tiny_gpu(monkeypatch)
    out = tmp_path / "out.npz"
    with caplog.at_level(logging.INFO, logger="folding.model"):
        code = _run(target, "--output", str(out), "--num-recycle", "0", "--no-spill")
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and not out.exists()
    assert len(err) == 1 and "features.npz" in err[0] and "Tiny GPU" in err[0]
    assert "longest sequence that fits here" in err[0] and "--dtype bfloat16" in err[0]
    assert "--max-extra-msa" not in err[0] and "--max-msa-clusters" not in err[0]
    plans = [r.getMessage() for r in caplog.records if "memory plan" in r.getMessage()]
    assert len(plans) == 1 and "L=48, 512 MSA rows, 2048 extra rows, 4 templates" in plans[0]


def test_a_complex_too_long_for_the_gpu_runs_again_with_more_memory(target, tmp_path,
                                                                    caplog, monkeypatch,
                                                                    relaunches):
    """As a monomer run: XLA's figures of the compiled multimer pass decide, then the
    command runs again with unified memory (the relaunch, an exec of the same command,
    is replaced by a recorder here)."""
    from model_cases import RelaunchedError

    _tiny_gpu(monkeypatch)
    with caplog.at_level(logging.INFO, logger="folding.model"), \
            pytest.raises(RelaunchedError):
        _run(target, "--output", str(tmp_path / "out.npz"), "--num-recycle", "0")
    seen = relaunches
    assert len(seen) == 1 and seen[0].spill
    assert seen[0].environment["TF_FORCE_UNIFIED_MEMORY"] == "1"
    messages = [r.getMessage() for r in caplog.records]
    assert any("deciding from XLA's compiled memory figures" in m for m in messages)
    assert any("memory plan" in m and "compiled: arguments" in m for m in messages)
