"""Multimer parameters: the official v3 layout key for key, loading, errors; the model table."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from multimer_inputs import synthetic_complex

from folding.errors import InputError, MissingResourceError
from folding.model.multimer import params as multimer_params
from folding.model.multimer.config import (
    MULTIMER_MODEL_NAMES,
    is_multimer_model_name,
    multimer_model_config,
    parse_model_name,
)


@pytest.mark.reference
@pytest.mark.slow
def test_parameter_tree_equals_reference_for_every_v3_model():
    import jax
    mo = pytest.importorskip("multimer_oracle")

    raw = synthetic_complex((5, 5, 4), (1, 1, 2), num_seq=12)
    for name in MULTIMER_MODEL_NAMES:
        cfg = mo.reference_config(name, num_msa=4, num_extra_msa=4)
        batch = {**mo.model_inputs(raw), "prev": mo.zero_prev(len(raw["aatype"]))}
        tree = jax.eval_shape(mo._transform(cfg).init, jax.random.PRNGKey(0), batch)
        reference = {f"{m}//{n}": tuple(v.shape) for m, d in tree.items() for n, v in d.items()}
        ours = multimer_params.multimer_parameter_shapes(multimer_model_config(name).network)
        assert sorted(set(reference) ^ set(ours)) == [], name
        assert reference == ours, name


def test_official_layout_names_and_size():
    shapes = multimer_params.multimer_parameter_shapes(
        multimer_model_config("model_1_multimer_v3").network)
    assert len(shapes) == 330
    assert sum(int(np.prod(s)) for s in shapes.values()) == 93_223_705
    evo = "alphafold/alphafold_iteration/evoformer/"
    assert shapes[evo + "~_relative_encoding/position_activations//weights"] == (73, 128)
    assert shapes[evo + "evoformer_iteration/triangle_multiplication_outgoing/"
                  "projection//weights"] == (48, 128, 256)
    assert shapes[evo + "extra_msa_stack/triangle_multiplication_incoming/"
                  "left_norm_input//scale"] == (4, 128)
    single = evo + "template_embedding/single_template_embedding/"
    assert shapes[single + "template_pair_embedding_1//weights"] == (64,)
    assert shapes[single + "template_embedding_iteration/triangle_multiplication_outgoing/"
                  "center_norm//offset"] == (2, 64)
    assert shapes[evo + "template_single_embedding//weights"] == (34, 256)
    fold = "alphafold/alphafold_iteration/structure_module/fold_iteration/"
    assert shapes[fold + "quat_rigid/rigid//weights"] == (384, 6)
    assert shapes[fold + "invariant_point_attention/q_point_projection/"
                  "point_projection//weights"] == (384, 12, 12)
    assert shapes["alphafold/alphafold_iteration/masked_msa_head/logits//weights"] == (256, 22)
    assert not any(("triangle_multiplication" in key and "left_projection" in key)
                   or "__layer_stack_no_state" in key for key in shapes)


def test_model_table():
    for name in MULTIMER_MODEL_NAMES:
        config = multimer_model_config(name)
        number = int(name.split("_")[1])
        assert config.name == name and config.uses_templates
        assert config.sampling.num_msa == 508
        assert config.sampling.num_extra_msa == (1152 if number in (4, 5) else 2048)
        assert config.num_recycle == 20 and config.recycle_early_stop_tolerance == 0.5
        assert config.network.structure_module.position_scale == 20.0
    assert parse_model_name("model_3_multimer_v3_pred_4") == ("model_3_multimer_v3", 4)
    assert parse_model_name("model_3_multimer_v3") == ("model_3_multimer_v3", None)
    assert multimer_model_config("model_2_multimer_v3_pred_1").name == "model_2_multimer_v3"
    assert is_multimer_model_name("model_1_multimer_v2")
    assert not is_multimer_model_name("model_1_ptm")
    for bad in ("model_6_multimer_v3", "model_1_multimer_v2", "model_1_multimer"):
        with pytest.raises(InputError, match="unknown multimer model name"):
            multimer_model_config(bad)
    with pytest.raises(InputError, match="recycles must be 0 or more"):
        multimer_model_config("model_1_multimer_v3").with_recycles(-1)


def _small():
    """model_1_multimer_v3's network with one Evoformer block (for the file tests)."""
    network = multimer_model_config("model_1_multimer_v3").network
    return dataclasses.replace(network, trunk=dataclasses.replace(network.trunk,
                                                                  evoformer_num_block=1))


@pytest.fixture(scope="module")
def saved_params(tmp_path_factory):
    flat = multimer_params.flatten(multimer_params.random_multimer_params(_small(), seed=1))
    path = tmp_path_factory.mktemp("params") / "params_model_1_multimer_v3.npz"
    np.savez(path, **flat)
    return path, flat


def test_random_params_complete_non_zero_and_reproducible(saved_params):
    _, flat = saved_params
    multimer_params.check_multimer_params(flat, _small(), "model_1_multimer_v3", "random")
    for key, value in flat.items():
        assert value.dtype == np.float32
        assert np.count_nonzero(value) >= 0.999 * value.size, key
        assert np.std(value) > 0, key
    again = multimer_params.flatten(multimer_params.random_multimer_params(_small(), seed=1))
    assert all(np.array_equal(flat[k], again[k]) for k in flat)


def test_load_official_layout(saved_params):
    path, flat = saved_params
    loaded = multimer_params.flatten(
        multimer_params.load_multimer_params(path, _small(), "model_1_multimer_v3"))
    assert loaded.keys() == flat.keys()
    assert all(np.array_equal(loaded[k], flat[k]) for k in flat)


def test_bad_parameter_files(saved_params, tmp_path):
    path, flat = saved_params
    config, name = _small(), "model_1_multimer_v3"
    key = ("alphafold/alphafold_iteration/evoformer/evoformer_iteration/"
           "triangle_multiplication_outgoing/projection//weights")

    # A monomer-style (unfused) file: the fused weights are missing, and the hint says why.
    unfused = {k: v for k, v in flat.items() if "/projection//" not in k}
    unfused[key.replace("/projection//", "/left_projection//")] = flat[key][..., :128]
    np.savez(tmp_path / "unfused.npz", **unfused)
    with pytest.raises(InputError, match=r"unfused\.npz: parameter .* is missing .*unfused "
                       r"triangle weights.*not a parameter file of model_1_multimer_v3"):
        multimer_params.load_multimer_params(tmp_path / "unfused.npz", config, name)

    extra = {**flat, "alphafold/alphafold_iteration/extra_head//weights": np.ones((2, 2))}
    np.savez(tmp_path / "extra.npz", **extra)
    with pytest.raises(InputError, match=r"extra\.npz: unexpected parameter"):
        multimer_params.load_multimer_params(tmp_path / "extra.npz", config, name)

    misshapen = {**flat, key: np.ones((1, 128, 255), np.float32)}
    np.savez(tmp_path / "misshapen.npz", **misshapen)
    with pytest.raises(InputError, match=re.escape(
            f"misshapen.npz: parameter '{key}' has shape (1, 128, 255), {name} expects "
            "(1, 128, 256)")):
        multimer_params.load_multimer_params(tmp_path / "misshapen.npz", config, name)

    nan = {**flat, key: np.full_like(flat[key], np.nan)}
    np.savez(tmp_path / "nan.npz", **nan)
    with pytest.raises(InputError, match=r"nan\.npz: parameter .* holds non-finite values"):
        multimer_params.load_multimer_params(tmp_path / "nan.npz", config, name)

    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InputError, match=r"truncated\.npz is not a readable \.npz"):
        multimer_params.load_multimer_params(truncated, config, name)
    with pytest.raises(MissingResourceError, match=r"absent\.npz not found"):
        multimer_params.load_multimer_params(tmp_path / "absent.npz", config, name)
