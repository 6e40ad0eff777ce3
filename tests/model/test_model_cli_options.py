"""`folding model run` memory planning and MSA-size options: the plan is logged, a target
estimated not to fit stops with one clear error before compiling (or, where spilling
to host RAM could hold it, is decided on XLA's compiled figures), --max-msa-clusters and
--max-extra-msa shrink the MSA the model sees, and chunk budgets do not change results."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pytest
from model_cases import max_diff, synthetic_raw

from folding.cli import main
from folding.data.processing.config import processing_config_for
from folding.data.processing.pipeline import process_features
from folding.model import memory_plan
from folding.model import params as model_params
from folding.model.config import model_config
from folding.model.features import ProcessedFeatures, validate_processed
from folding.model.runner import ModelRunner


def _fake_gpu(monkeypatch, gib):
    """Plan as if on a GPU with ``gib`` free (the plan runs before anything compiles)."""
    size = int(gib * memory_plan.GIB)
    gpu = memory_plan.DeviceMemory("gpu", "Tiny GPU", size, size, "test")
    monkeypatch.setattr(memory_plan, "device_memory", lambda device=None: gpu)
    return gpu


@pytest.fixture
def tiny_gpu(monkeypatch):
    return _fake_gpu(monkeypatch, 1.0)


@pytest.fixture
def no_room(monkeypatch):
    """A GPU where nothing fits: only the logged plan is looked at, nothing runs."""
    return _fake_gpu(monkeypatch, 0.3)


def _cli(tmp_path, capsys, caplog, raw, *extra):
    path = tmp_path / "features.npz"
    np.savez(path, **raw)
    out = tmp_path / "out.npz"
    with caplog.at_level(logging.INFO, logger="folding.model"):
        code = main(["model", "run", "--untrained-params", "--model-name", "model_3_ptm",
                     "--features", str(path), "--output", str(out), "--num-recycle", "0",
                     *extra])
    plans = [r.getMessage() for r in caplog.records if "memory plan" in r.getMessage()]
    return code, out, capsys.readouterr().err.strip().splitlines(), plans


def test_too_long_for_the_device_is_one_error_before_compiling(tmp_path, capsys, caplog,
                                                               tiny_gpu):
    code, out, err, plans = _cli(tmp_path, capsys, caplog, synthetic_raw(600, 40, seed=1),
                                 "--no-spill")
    assert code != 0 and not out.exists()
    assert len(err) == 1 and err[0].startswith("folding: error: ")
    for words in ("features.npz", "640 residues", "Tiny GPU", "longest sequence that fits "
                  "here is about", "--dtype bfloat16", "--no-memory-check"):
        assert words in err[0], words
    assert len(plans) == 1 and "does NOT fit" in plans[0]


def test_too_long_for_the_gpu_runs_again_spilling_to_host_ram(tmp_path, capsys, caplog,
                                                               tiny_gpu, relaunches):
    """Without --no-spill the CLI decides to re-run with more memory (the relaunch
    itself, an exec of the same command, is replaced by a recorder here)."""
    from model_cases import RelaunchedError

    from folding.model import host_spill

    with pytest.raises(RelaunchedError):
        _cli(tmp_path, capsys, caplog, synthetic_raw(600, 40, seed=1))
    seen = relaunches
    assert len(seen) == 1 and seen[0].spill
    # The decision was taken on XLA's figures for the compiled model, not the estimate.
    messages = [r.getMessage() for r in caplog.records]
    assert any("deciding from XLA's compiled memory figures" in m for m in messages)
    assert any("memory plan" in m and "compiled: arguments" in m for m in messages)
    assert seen[0].environment[host_spill.SPILL_ENV] == "1"
    assert float(seen[0].environment["XLA_PYTHON_CLIENT_MEM_FRACTION"]) > 1.0
    assert seen[0].environment["TF_FORCE_UNIFIED_MEMORY"] == "1"


def test_msa_size_options_reach_the_model(tmp_path, capsys, caplog, no_room):
    raw = synthetic_raw(300, 40, seed=1)
    code, _, _, plans = _cli(tmp_path, capsys, caplog, raw, "--no-buckets", "--no-spill",
                             "--max-msa-clusters", "5", "--max-extra-msa", "7")
    assert code != 0
    assert "L=300, 5 MSA rows, 7 extra rows" in plans[0]
    caplog.clear()
    code, _, _, plans = _cli(tmp_path, capsys, caplog, raw, "--no-buckets", "--no-spill")
    assert "L=300, 40 MSA rows, 1 extra rows" in plans[0]
    # Processed features keep their first rows.
    processed = process_features(raw, processing_config_for("model_3_ptm", 0), seed=0,
                                 num_recycle=0)
    caplog.clear()
    code, _, _, plans = _cli(tmp_path, capsys, caplog, processed, "--no-buckets",
                             "--no-spill", "--max-msa-clusters", "6")
    assert "L=300, 6 MSA rows" in plans[0]


@pytest.mark.parametrize("flag,value,words", [
    ("--max-msa-clusters", "0", "--max-msa-clusters must be at least 1"),
    ("--max-extra-msa", "-1", "--max-extra-msa must be 0 or more"),
    ("--chunk-mb", "0", "--chunk-mb must be at least 1"),
])
def test_bad_option_values(tmp_path, capsys, caplog, flag, value, words):
    code, out, err, _ = _cli(tmp_path, capsys, caplog, synthetic_raw(20, 10), flag, value)
    assert code != 0 and not out.exists()
    assert len(err) == 1 and words in err[0]


@pytest.mark.slow
def test_msa_options_run_end_to_end(tmp_path, capsys, caplog):
    code, out, err, plans = _cli(tmp_path, capsys, caplog, synthetic_raw(20, 30, seed=2),
                                 "--max-msa-clusters", "4", "--max-extra-msa", "3",
                                 "--compilation-cache", "none")
    assert code == 0, err
    assert "L=32, 4 MSA rows, 3 extra rows" in plans[0] and "fits" in plans[0]
    result = np.load(out)
    assert result["plddt"].shape == (20,) and np.isfinite(result["ptm"])
    # --dtype auto (the default) is float32 on a CPU, and the result says so.
    assert str(result["dtype"]) == "float32"
    assert any("trunk in float32 (auto: " in r.getMessage() for r in caplog.records)


@pytest.mark.slow
def test_planned_chunk_budget_gives_the_same_outputs_as_tiny_chunks():
    """The planner's budget (no chunking at this size) against a 4 KiB budget that cuts
    every attention, transition and outer product into many chunks."""
    name = "model_3_ptm"
    raw = synthetic_raw(24, 30, seed=7)
    features = ProcessedFeatures(validate_processed(process_features(
        raw, processing_config_for(name, 0), seed=0, num_recycle=0), False), False)
    base = model_config(name, num_recycle=0)
    planned = memory_plan.plan_memory(memory_plan.ModelShape(24, 30, 1, 0),
                                      memory_plan.device_memory()).chunk_bytes
    params = model_params.random_params(base.network, 0)
    outputs = []
    for chunk_bytes in (planned, 4096):
        config = dataclasses.replace(base, global_config=dataclasses.replace(
            base.global_config, chunk_bytes=chunk_bytes))
        outputs.append(ModelRunner(config, params, "untrained").predict(features).output)
    a, b = outputs
    for field in ("final_atom_positions", "plddt", "distogram_logits",
                  "predicted_aligned_error"):
        assert max_diff(getattr(a, field), getattr(b, field)) <= 1e-4, field
    assert max_diff(a.ptm, b.ptm) <= 1e-5


def test_monomer_only_options_refused_for_multimer_models(tmp_path, capsys, caplog):
    path = tmp_path / "features.npz"
    np.savez(path, x=np.zeros(1))
    out = tmp_path / "out.npz"
    code = main(["model", "run", "--untrained-params", "--model-name", "model_1_multimer_v3",
                 "--features", str(path), "--output", str(out), "--max-extra-msa", "64"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and not out.exists()
    assert len(err) == 1 and "--max-extra-msa: monomer models only" in err[0]


def _device(platform, capability="", version="", kind="test device"):
    from types import SimpleNamespace

    return SimpleNamespace(platform=platform, device_kind=kind, compute_capability=capability,
                           client=SimpleNamespace(platform_version=version))


@pytest.mark.parametrize("device,dtype", [
    (_device("gpu", "9.0", "cuda 12080", "NVIDIA H100 80GB HBM3"), "bfloat16"),
    (_device("gpu", "8.0", "cuda 12080", "NVIDIA A100-SXM4-40GB"), "bfloat16"),
    (_device("gpu", "8.9", "cuda 12080", "NVIDIA L4"), "bfloat16"),
    (_device("gpu", "7.5", "cuda 12080", "Tesla T4"), "float32"),
    (_device("gpu", "7.0", "cuda 12080", "Tesla V100-SXM2-16GB"), "float32"),
    (_device("gpu", "gfx90a", "rocm 6.0", "AMD Instinct MI250X"), "float32"),
    (_device("tpu", kind="TPU v4"), "bfloat16"),
    (_device("cpu", kind="cpu"), "float32"),
])
def test_auto_dtype_is_bfloat16_where_the_hardware_has_it(device, dtype):
    """--dtype auto: bfloat16 on GPUs with bfloat16 tensor cores and TPUs (as AlphaFold
    runs there), float32 on CPUs, older and non-CUDA GPUs; an explicit dtype is kept."""
    from folding.model.global_config import resolve_dtype

    chosen, why = resolve_dtype("auto", device)
    assert chosen == dtype and why.startswith("auto: ") and device.device_kind in why
    assert resolve_dtype("float32", device)[0] == "float32"
    assert resolve_dtype("bfloat16", device)[0] == "bfloat16"
    with pytest.raises(ValueError, match="dtype must be one of"):
        resolve_dtype("half", device)


def test_auto_dtype_on_this_machine():
    import jax

    from folding.model.global_config import resolve_dtype

    expected = "float32" if jax.devices()[0].platform == "cpu" else None
    chosen, _ = resolve_dtype("auto")
    assert chosen in ("float32", "bfloat16") and (expected is None or chosen == expected)
