"""Parameters: the official layout key for key, loading, and clear errors for bad files."""

from __future__ import annotations

import dataclasses
import re
import time

import numpy as np
import pytest

from folding.errors import InputError, MissingResourceError
from folding.model import params as model_params
from folding.model.config import MONOMER_MODEL_NAMES, model_config


@pytest.mark.reference
@pytest.mark.slow
def test_parameter_tree_equals_reference_for_every_model():
    oracle = pytest.importorskip("oracle")
    import jax
    from model_cases import synthetic_raw

    raw = synthetic_raw(8, 4)
    for name in MONOMER_MODEL_NAMES:
        processed = oracle.process_features(name, raw, max_msa_clusters=8, max_extra_msa=4)
        cfg = oracle.reference_config(name)
        tree = jax.eval_shape(oracle._forward(cfg).init, jax.random.PRNGKey(0),
                              oracle.first_recycle(processed))
        reference = {f"{m}//{n}": tuple(v.shape) for m, d in tree.items() for n, v in d.items()}
        ours = model_params.parameter_shapes(model_config(name).network)
        assert sorted(set(reference) ^ set(ours)) == [], name
        assert reference == ours, name


def test_official_layout_without_the_reference():
    """The official spellings, stacked layouts and sizes (Suppl. Table 5 model 1 + pTM)."""
    ours = model_params.parameter_shapes(model_config("model_1_ptm").network)
    assert ours["alphafold/alphafold_iteration/evoformer/preprocess_1d//weights"] == (22, 256)
    assert ours["alphafold/alphafold_iteration/evoformer/pair_activiations//weights"] == (65, 128)
    assert ours["alphafold/alphafold_iteration/evoformer/evoformer_iteration/"
                "msa_transition/transition1//weights"] == (48, 256, 1024)
    assert any("/template_pair_stack/__layer_stack_no_state/" in key for key in ours)
    assert len(ours) == 338
    assert sum(int(np.prod(s)) for s in ours.values()) == 93_237_338


def test_model_table():
    for name in MONOMER_MODEL_NAMES:
        config = model_config(name)
        number = int(name.split("_")[1])
        assert config.uses_templates == (number in (1, 2))
        assert config.network.trunk.template.embed_torsion_angles == (number in (1, 2))
        assert config.has_pae_head == name.endswith("_ptm")
        assert config.data.max_extra_msa == (5120 if number in (1, 3, 4) else 1024)
        assert config.data.num_msa_clusters == (508 if number in (1, 2) else 512)
    with pytest.raises(InputError, match="unknown model name"):
        model_config("model_6")


def test_random_params_fast_complete_and_non_zero():
    config = model_config("model_1_ptm").network
    model_params.parameter_shapes(config)  # shapes are cached after the first call
    start = time.perf_counter()
    params = model_params.random_params(config, seed=3)
    assert time.perf_counter() - start < 10
    flat = model_params.flatten(params)
    model_params.check_params(flat, config, "model_1_ptm", "random")
    for key, value in flat.items():
        assert value.dtype == np.float32
        assert np.count_nonzero(value) >= 0.999 * value.size, key
        assert np.std(value) > 0, key
    again = model_params.flatten(model_params.random_params(config, seed=3))
    assert all(np.array_equal(flat[k], again[k]) for k in flat)


def _small(name):
    """A model's network with one Evoformer block (the file tests need no 93 M parameters)."""
    network = model_config(name).network
    return dataclasses.replace(network, trunk=dataclasses.replace(network.trunk,
                                                                  evoformer_num_block=1))


@pytest.fixture(scope="module")
def saved_params(tmp_path_factory):
    """model_3 random parameters (one Evoformer block) saved in the official layout."""
    config = _small("model_3")
    flat = model_params.flatten(model_params.random_params(config, seed=1))
    path = tmp_path_factory.mktemp("params") / "params_model_3.npz"
    np.savez(path, **flat)
    return path, flat


def test_load_official_layout(saved_params):
    path, flat = saved_params
    loaded = model_params.load_params(path, _small("model_3"), "model_3")
    again = model_params.flatten(loaded)
    assert again.keys() == flat.keys()
    assert all(np.array_equal(again[k], flat[k]) for k in flat)


def test_parameter_file_of_another_model(saved_params):
    path, _ = saved_params
    with pytest.raises(InputError) as error:
        model_params.load_params(path, _small("model_1_ptm"), "model_1_ptm")
    message = str(error.value)
    assert str(path) in message and "is missing" in message and "model_1_ptm" in message


def test_missing_extra_and_misshapen_keys(saved_params, tmp_path):
    _, flat = saved_params
    config = _small("model_3")
    key = "alphafold/alphafold_iteration/evoformer/preprocess_msa//weights"

    missing = {k: v for k, v in flat.items() if k != key}
    np.savez(tmp_path / "missing.npz", **missing)
    with pytest.raises(InputError, match=re.escape(f"missing.npz: parameter '{key}' is missing")):
        model_params.load_params(tmp_path / "missing.npz", config, "model_3")

    extra = {**flat, "alphafold/alphafold_iteration/extra_head//weights": np.ones((2, 2))}
    np.savez(tmp_path / "extra.npz", **extra)
    with pytest.raises(InputError, match=r"extra\.npz: unexpected parameter "
                       r"'alphafold/alphafold_iteration/extra_head//weights'"):
        model_params.load_params(tmp_path / "extra.npz", config, "model_3")

    misshapen = {**flat, key: np.ones((49, 255), np.float32)}
    np.savez(tmp_path / "misshapen.npz", **misshapen)
    with pytest.raises(InputError, match=r"misshapen\.npz: parameter .*preprocess_msa//weights' "
                       r"has shape \(49, 255\), model_3 expects \(49, 256\)"):
        model_params.load_params(tmp_path / "misshapen.npz", config, "model_3")


def test_truncated_and_foreign_files(saved_params, tmp_path):
    path, _ = saved_params
    config = _small("model_3")
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InputError, match=r"truncated\.npz is not a readable \.npz"):
        model_params.load_params(truncated, config, "model_3")
    text = tmp_path / "notes.npz"
    text.write_text("not parameters\n")
    with pytest.raises(InputError, match=r"notes\.npz is not a readable \.npz"):
        model_params.load_params(text, config, "model_3")
    with pytest.raises(MissingResourceError, match=r"absent\.npz not found"):
        model_params.load_params(tmp_path / "absent.npz", config, "model_3")
