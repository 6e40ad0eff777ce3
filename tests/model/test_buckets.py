"""Shape buckets and the persistent compilation cache: padding is invisible (padded runs
equal unpadded runs on the real residues, pTM included), targets of one bucket share one
compilation, and a second process loads the compiled model instead of compiling it."""

from __future__ import annotations

import dataclasses
import functools
import re
import subprocess

import numpy as np
import pytest
from model_cases import max_diff, real_template, synthetic_raw

from folding.data.processing.config import processing_config_for
from folding.data.processing.pipeline import process_features
from folding.model import params as model_params
from folding.model.buckets import (
    BucketShape,
    bucket_residues,
    bucket_rows,
    bucket_shape,
    crop_output,
    feature_shape,
    pad_features,
)
from folding.model.compile_cache import CompileCounter
from folding.model.config import model_config
from folding.model.features import ProcessedFeatures, validate_processed
from folding.model.runner import ModelRunner, run_shape


def test_residue_and_row_buckets():
    assert [bucket_residues(n) for n in (1, 24, 32, 33, 256, 257, 1000, 1025, 2049, 2600)] == \
        [32, 32, 32, 64, 256, 320, 1024, 1152, 2304, 2816]
    for n in range(1, 3000, 7):
        assert 0 <= bucket_residues(n) - n < (32 if n <= 256 else 0.25 * n if n <= 1024
                                              else 0.125 * n)
    assert [bucket_rows(n) for n in (1, 3, 30, 64, 65, 300)] == [1, 4, 32, 64, 128, 512]
    assert bucket_rows(300, cap=508) == 508 and bucket_rows(3000, cap=5120) == 4096
    assert bucket_rows(5000, cap=5120) == 5120 and bucket_rows(600, cap=512) == 600


def _processed(name, raw, num_recycle=0):
    processed = process_features(raw, processing_config_for(name, num_recycle), seed=0,
                                 num_recycle=num_recycle)
    uses_templates = model_config(name).uses_templates
    return ProcessedFeatures(validate_processed(processed, uses_templates), uses_templates)


def test_pad_and_crop_shapes():
    features = _processed("model_3_ptm", synthetic_raw(24, 30, seed=7))
    assert feature_shape(features) == BucketShape(24, 64, 64, 0)  # compact MSA padding
    features = features.trimmed()
    shape = bucket_shape(features)
    assert shape == BucketShape(32, 32, 1, 0)
    padded = pad_features(features, shape)
    assert feature_shape(padded) == shape
    a = padded.arrays
    assert np.array_equal(a["seq_mask"][:, 24:], np.zeros((1, 8)))
    assert not a["msa_mask"][:, 30:].any() and not a["msa_mask"][:, :, 24:].any()
    assert np.array_equal(a["msa_feat"][:, :30, :24], features.arrays["msa_feat"])
    with pytest.raises(ValueError, match="more than the bucket"):
        pad_features(padded, BucketShape(16, 32, 1))


@functools.lru_cache(maxsize=2)
def _params(network):
    return model_params.random_params(network, 0)


def _runner(name, buckets, num_recycle=0):
    config = model_config(name, num_recycle=num_recycle)
    return ModelRunner(config, _params(config.network), "untrained:seed=0", buckets=buckets)


def _assert_same(a, b, length):
    assert b.final_atom_positions.shape[0] == length
    assert max_diff(a.final_atom_positions, b.final_atom_positions) <= 1e-3
    assert max_diff(a.plddt, b.plddt) <= 1e-3
    assert max_diff(a.mean_plddt, b.mean_plddt) <= 1e-3
    assert max_diff(a.distogram_logits, b.distogram_logits) <= 1e-3
    if a.ptm is not None:
        assert max_diff(a.predicted_aligned_error, b.predicted_aligned_error) <= 1e-3
        assert max_diff(a.ptm, b.ptm) <= 1e-4


@pytest.mark.slow
def test_padded_equals_unpadded_without_templates():
    features = _processed("model_3_ptm", synthetic_raw(24, 30, seed=7), num_recycle=1)
    plain = _runner("model_3_ptm", False, 1).predict(features)
    padded = _runner("model_3_ptm", True, 1).predict(features)
    _assert_same(plain.output, padded.output, 24)
    assert np.array_equal(plain.aatype, padded.aatype) and padded.seq_mask.shape == (24,)
    # The recycled state crosses passes padded; the early-stop criterion ignores padding.
    assert np.allclose(plain.recycle_changes, padded.recycle_changes, atol=1e-3)
    # pTM over the padded length would differ: the padded residues are really excluded.
    assert padded.output.ptm.shape == ()


@pytest.mark.slow
def test_padded_equals_unpadded_with_a_real_template(shared_data):
    raw = synthetic_raw(28, 20, seed=8, template=real_template(shared_data, 28))
    features = _processed("model_1_ptm", raw)
    assert feature_shape(features).num_templates == 4  # processing pads to max_templates
    # Keep the real template only: the bucket adds three masked ones again.
    arrays = {k: v[:, :1] if k.startswith("template_") else v
              for k, v in features.arrays.items()}
    features = ProcessedFeatures(arrays, True)
    assert feature_shape(features).num_templates == 1
    assert bucket_shape(features).num_templates == 4
    plain = _runner("model_1_ptm", False).predict(features)
    padded = _runner("model_1_ptm", True).predict(features)
    _assert_same(plain.output, padded.output, 28)


@pytest.mark.slow
def test_targets_in_one_bucket_compile_once():
    first = _processed("model_3_ptm", synthetic_raw(24, 30, seed=7))
    second = _processed("model_3_ptm", synthetic_raw(29, 20, seed=9))
    runner = _runner("model_3_ptm", True)
    assert run_shape(runner.config, first, True) == run_shape(runner.config, second, True)
    runner.predict(first)
    counter = CompileCounter().start()
    try:
        result = runner.predict(second)
    finally:
        counter.stop()
    assert counter.requests == 0 and counter.compiled == 0, counter.describe()
    assert result.output.final_atom_positions.shape == (29, 37, 3)
    # Without buckets the other length needs an executable of its own: compiled, or
    # loaded from the persistent cache when an earlier run in this process or on this
    # machine already compiled that shape (the cache setting is process-wide).
    counter = CompileCounter().start()
    try:
        _runner("model_3_ptm", False).predict(second)
    finally:
        counter.stop()
    assert counter.requests >= 1, counter.describe()


def _cli_run(venv_bin, raw_path, out, cache):
    done = subprocess.run(
        [str(venv_bin / "folding"), "model", "run", "--untrained-params",
         "--model-name", "model_3_ptm", "--features", str(raw_path), "--num-recycle", "0",
         "--output", str(out), "--compilation-cache", str(cache)],
        capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    match = re.search(r"(\d+) XLA compilations, (\d+) executables loaded", done.stderr)
    assert match, done.stderr
    return int(match.group(1)), int(match.group(2))


@pytest.mark.slow
def test_second_process_loads_from_the_compilation_cache(tmp_path, venv_bin):
    cache = tmp_path / "cache"
    for name, (length, depth, seed) in {"a": (20, 12, 1), "b": (27, 14, 2)}.items():
        np.savez(tmp_path / f"{name}.npz", **synthetic_raw(length, depth, seed=seed))
    compiled, loaded = _cli_run(venv_bin, tmp_path / "a.npz", tmp_path / "a1.npz", cache)
    assert compiled >= 1 and loaded == 0
    entries = len(list(cache.iterdir()))
    assert entries >= 1
    # Another target of the same bucket, in a new process: nothing compiles.
    compiled, loaded = _cli_run(venv_bin, tmp_path / "b.npz", tmp_path / "b1.npz", cache)
    assert compiled == 0 and loaded >= 1
    assert len(list(cache.iterdir())) == entries
    result = np.load(tmp_path / "b1.npz")
    assert result["plddt"].shape == (27,) and result["distogram_logits"].shape == (27, 27, 64)


def test_crop_output_cuts_every_residue_axis():
    from folding.model.alphafold import IterationOutput
    from folding.model.features import RecycledState

    n, m, p = 10, 6, 4
    z = np.zeros
    out = IterationOutput(
        final_atom_positions=z((n, 37, 3)), final_atom_mask=z((n, 37)), plddt=z(n),
        mean_plddt=z(()), distogram_logits=z((n, n, 64)), distogram_bin_edges=z(63),
        masked_msa_logits=z((m, n, 23)), experimentally_resolved_logits=z((n, 37)),
        plddt_logits=z((n, 50)), recycled=RecycledState(z((n, 37, 3)), z((n, 8)),
                                                         z((n, n, 4))),
        single=z((n, 8)), predicted_aligned_error=z((n, n)),
        max_predicted_aligned_error=z(()), ptm=z(()))
    cut = crop_output(out, p, 3)
    for field in dataclasses.fields(cut):
        value = getattr(cut, field.name)
        if isinstance(value, np.ndarray) and value.ndim:
            assert n not in value.shape, field.name
    assert cut.masked_msa_logits.shape == (3, p, 23)
    assert cut.recycled.prev_pair.shape == (p, p, 4)
    assert cut.distogram_bin_edges.shape == (63,)
