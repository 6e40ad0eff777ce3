"""`folding model run` and the runner: outputs, bad inputs, recycling, and properties that
hold whatever the weights (template rigid-motion invariance, padding invariance).

Features come from our own processing (folding.data.processing), parameters from
folding.model.params.random_params: no reference and no real weights needed.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import subprocess

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from model_cases import max_diff, real_template, synthetic_raw

from folding.cli import main
from folding.data.processing.config import processing_config_for
from folding.data.processing.pipeline import process_features
from folding.model import params as model_params
from folding.model.alphafold import forward, pair_heads_forward
from folding.model.config import model_config
from folding.model.features import ProcessedFeatures, RecycledState, validate_processed
from folding.model.runner import ModelRunner

pytestmark = pytest.mark.slow


def _processed(name, raw, num_recycle=1, seed=0):
    return process_features(raw, processing_config_for(name, num_recycle), seed=seed,
                            num_recycle=num_recycle)


@functools.lru_cache(maxsize=2)
def _random_params(network):
    return model_params.random_params(network, 0)


def _runner(name, num_recycle=1, **changes):
    config = dataclasses.replace(model_config(name, num_recycle=num_recycle), **changes)
    return ModelRunner(config, _random_params(config.network), "untrained:seed=0")


def _features(name, processed):
    uses_templates = model_config(name).uses_templates
    return ProcessedFeatures(validate_processed(processed, uses_templates), uses_templates)


@pytest.fixture(scope="module")
def small_target():
    return synthetic_raw(24, 30, seed=7)


def test_cli_untrained_run_raw_features_and_pdb(tmp_path, small_target, venv_bin):
    raw_path = tmp_path / "features.npz"
    np.savez(raw_path, **small_target)
    out, pdb = tmp_path / "result.npz", tmp_path / "model.pdb"
    done = subprocess.run(
        [str(venv_bin / "folding"), "model", "run", "--untrained-params", "--seed", "3",
         "--model-name", "model_3_ptm", "--features", str(raw_path), "--num-recycle", "1",
         "--output", str(out), "--pdb", str(pdb), "--compilation-cache", "none"],
        capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr
    assert "UNTRAINED PARAMETERS" in done.stderr
    # XLA's own memory figures are checked before running, from the compilation the run
    # then uses (no second compilation of the iteration).
    assert "memory plan: L=" in done.stderr and "compiled: arguments" in done.stderr
    # Once each for 2 passes: the pass, the pair heads after the last one, and JAX's
    # small helper computations (before the pair heads were split off: 3).
    compilations = re.search(r"(\d+) XLA compilations", done.stderr)
    assert compilations and int(compilations.group(1)) <= 4, done.stderr[-2000:]
    result = np.load(out)
    length = 24
    shapes = {"final_atom_positions": (length, 37, 3), "final_atom_mask": (length, 37),
              "plddt": (length,), "distogram_logits": (length, length, 64),
              "predicted_aligned_error": (length, length), "ptm": (),
              "max_predicted_aligned_error": (), "ranking_confidence": (), "mean_plddt": ()}
    for key, shape in shapes.items():
        assert result[key].shape == shape, key
        # The distogram's logits, the one [L, L, 64] array, are stored in float16.
        stored = np.float16 if key == "distogram_logits" else np.float32
        assert result[key].dtype == stored, key
        assert np.all(np.isfinite(result[key])), key
    assert result["distogram_bin_edges"].shape == (63,)
    assert np.all(np.diff(result["distogram_bin_edges"]) > 0)
    assert str(result["params_id"]) == "untrained:seed=3"
    assert str(result["model_name"]) == "model_3_ptm"
    assert int(result["num_recycles"]) == 1
    assert 0 <= float(result["ptm"]) <= 1
    text = pdb.read_text()
    assert "REMARK 250 UNTRAINED PARAMETERS" in text
    ca = [line for line in text.splitlines() if line.startswith("ATOM") and line[12:16] == " CA "]
    assert len(ca) == length
    assert abs(float(ca[0][60:66]) - float(result["plddt"][0])) < 0.01


def test_cli_official_parameter_file(tmp_path, small_target, capsys):
    """A parameter file in the official layout: read, checked, identified by its SHA-256."""
    config = model_config("model_5_ptm")
    flat = model_params.flatten(model_params.random_params(config.network, 5))
    params_path = tmp_path / "params_model_5_ptm.npz"
    np.savez(params_path, **flat)
    del flat
    features = tmp_path / "processed.npz"
    np.savez(features, **_processed("model_5_ptm", small_target, num_recycle=0))
    out = tmp_path / "result.npz"
    code = main(["model", "run", "--params", str(params_path), "--model-name", "model_5_ptm",
                 "--features", str(features), "--output", str(out)])
    assert code == 0, capsys.readouterr().err
    result = np.load(out)
    assert str(result["params_id"]) == "sha256:" + model_params.file_sha256(params_path)
    assert int(result["num_recycles"]) == 0
    assert result["predicted_aligned_error"].shape == (24, 24)

    # The same file for the model without the PAE head: one error naming file and key.
    code = main(["model", "run", "--params", str(params_path), "--model-name", "model_5",
                 "--features", str(features), "--output", str(tmp_path / "other.npz")])
    err = capsys.readouterr().err
    assert code != 0 and str(params_path) in err and "unexpected parameter" in err
    assert "predicted_aligned_error_head" in err and "not a parameter file of model_5" in err
    assert not (tmp_path / "other.npz").exists()


def _run_cli(tmp_path, capsys, args):
    out = tmp_path / "out.npz"
    code = main(["model", "run", "--model-name", "model_3", "--output", str(out), *args])
    assert code != 0
    assert not out.exists()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("folding: error: ")
    return err[0]


def test_cli_bad_parameter_files(tmp_path, capsys, small_target):
    features = tmp_path / "processed.npz"
    np.savez(features, **_processed("model_3", small_target, num_recycle=0))
    truncated = tmp_path / "truncated.npz"
    np.savez(truncated, a=np.zeros(1000))
    truncated.write_bytes(truncated.read_bytes()[:300])
    err = _run_cli(tmp_path, capsys, ["--params", str(truncated), "--features", str(features)])
    assert str(truncated) in err and "not a readable .npz" in err
    text = tmp_path / "params.txt"
    text.write_text("these are not parameters")
    err = _run_cli(tmp_path, capsys, ["--params", str(text), "--features", str(features)])
    assert str(text) in err
    err = _run_cli(tmp_path, capsys, ["--params", str(tmp_path / "absent.npz"),
                                      "--features", str(features)])
    assert "absent.npz not found" in err


@pytest.mark.parametrize("change, words", [
    (lambda f: f.pop("target_feat"), "'target_feat' is missing"),
    (lambda f: f.update(aatype=f["aatype"].astype(np.float32)), "'aatype' has dtype float32"),
    (lambda f: f.update(msa_mask=f["msa_mask"][..., :-1]), "'msa_mask' has shape"),
    (lambda f: f["msa_feat"].__setitem__((0, 0, 0, 0), np.nan), "'msa_feat' holds non-finite"),
])
def test_cli_bad_features(tmp_path, capsys, small_target, change, words):
    features = dict(_processed("model_3", small_target, num_recycle=0))
    features["msa_feat"] = features["msa_feat"].copy()
    change(features)
    path = tmp_path / "processed.npz"
    np.savez(path, **features)
    err = _run_cli(tmp_path, capsys, ["--untrained-params", "--features", str(path)])
    assert str(path) in err and words in err


def test_too_few_feature_slices(tmp_path, capsys, small_target):
    path = tmp_path / "processed.npz"
    np.savez(path, **_processed("model_3", small_target, num_recycle=0))
    err = _run_cli(tmp_path, capsys, ["--untrained-params", "--features", str(path),
                                      "--num-recycle", "2"])
    assert "2 recycles need 3 feature slices" in err


def test_early_stop_and_dropout_sampling(small_target):
    name = "model_3_ptm"  # the network (and compiled shapes) of the padding test
    processed = _processed(name, small_target, num_recycle=3)
    features = _features(name, processed)
    stopped = _runner(name, 3, recycle_early_stop_tolerance=1e6).predict(features)
    assert stopped.num_recycles == 1  # the first recycle is compared with the first pass
    full = _runner(name, 3).predict(features)
    assert full.num_recycles == 3 and len(full.recycle_changes) == 4

    one = _features(name, _processed(name, small_target, num_recycle=0))
    plain = _runner(name, 0)
    assert max_diff(plain.predict(one, seed=1).output.final_atom_positions,
                    plain.predict(one, seed=2).output.final_atom_positions) == 0
    sampling = _runner(name, 0, global_config=dataclasses.replace(
        model_config(name).global_config, eval_dropout=True))
    a = sampling.predict(one, seed=1).output.final_atom_positions
    b = sampling.predict(one, seed=2).output.final_atom_positions
    assert max_diff(a, b) > 1e-3  # different dropout masks, different samples
    assert max_diff(a, sampling.predict(one, seed=1).output.final_atom_positions) == 0


def test_pair_heads_after_the_last_pass_equal_the_whole_iteration(small_target):
    """The runner's passes skip the distogram and PAE heads and runs them once on the
    last pass's recycled pair: the same numbers as one iteration with every head, and
    under the official parameter paths (a subset of the iteration's)."""
    name = "model_3_ptm"
    features = _features(name, _processed(name, small_target, num_recycle=0))
    runner = _runner(name, 0)
    kept = runner.predict(features).output
    config = runner.config
    whole = jax.jit(forward(config.network, config.global_config).apply)(
        runner.params, None, features.inputs(0),
        RecycledState.zeros(features.num_res, 256, 128))
    assert whole.distogram_logits is not None and whole.ptm is not None
    for field in ("distogram_logits", "predicted_aligned_error", "ptm",
                  "max_predicted_aligned_error", "final_atom_positions"):
        scale = max(1.0, float(np.abs(getattr(whole, field)).max()))
        assert max_diff(getattr(kept, field), getattr(whole, field)) < 1e-5 * scale, field
    heads_tree = jax.eval_shape(
        pair_heads_forward(config.network.heads, config.global_config).init,
        jax.random.PRNGKey(0), jnp.zeros((8, 8, 128)), jnp.ones(8))
    shapes = model_params.parameter_shapes(config.network)
    flat = {f"{scope}//{name}": leaf.shape for scope, leaves in heads_tree.items()
            for name, leaf in leaves.items()}
    assert flat and all(shapes[key] == shape for key, shape in flat.items()), flat


def _rigid_motion(seed=0):
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    rotation = q * np.sign(np.diag(r))
    if np.linalg.det(rotation) < 0:
        rotation[:, 0] *= -1
    return rotation.astype(np.float32), rng.normal(scale=20.0, size=3).astype(np.float32)


def test_template_rigid_motion_changes_nothing(shared_data):
    """Template features are distances and torsion angles: a rigid motion of the template
    (its present atoms) changes no output.

    One exception is AlphaFold's own and kept for parity: it also computes the torsions
    whose atoms are missing, from the zeros in their slots (the first residue's pre-omega
    and phi read the zero padding before the chain; its frame is degenerate), and feeds
    those masked values to the template MSA rows of models 1 and 2
    (``placeholder_for_undefined=False``). So the torsion rows are checked on the
    unmasked torsions, and the whole model without them; with them, positions move by
    ~3e-3 A on this case (the reference moves identically: we match it to 1e-4 A).
    """
    from folding.model.torsion import atom37_to_torsion_angles

    length = 28
    raw = synthetic_raw(length, 20, seed=8, template=real_template(shared_data, length))
    processed = _processed("model_1_ptm", raw, num_recycle=0)
    rotation, translation = _rigid_motion()
    moved = dict(processed)
    for key, mask in (("template_all_atom_positions", "template_all_atom_masks"),
                      ("template_pseudo_beta", "template_pseudo_beta_mask")):
        moved[key] = ((processed[key] @ rotation.T + translation)
                      * processed[mask][..., None]).astype(np.float32)

    before = atom37_to_torsion_angles(processed["template_aatype"][0],
                                      processed["template_all_atom_positions"][0],
                                      processed["template_all_atom_masks"][0])
    after = atom37_to_torsion_angles(moved["template_aatype"][0],
                                     moved["template_all_atom_positions"][0],
                                     moved["template_all_atom_masks"][0])
    mask = np.asarray(before.mask)[..., None]
    assert np.array_equal(before.mask, after.mask)
    assert max_diff(np.asarray(before.sin_cos) * mask, np.asarray(after.sin_cos) * mask) < 1e-4

    config = model_config("model_1_ptm", num_recycle=0)
    trunk = config.network.trunk
    network = dataclasses.replace(config.network, trunk=dataclasses.replace(
        trunk, template=dataclasses.replace(trunk.template, embed_torsion_angles=False)))
    config = dataclasses.replace(config, network=network)
    runner = ModelRunner(config, _random_params(network), "untrained:seed=0")
    a = runner.predict(_features("model_1_ptm", processed)).output
    b = runner.predict(_features("model_1_ptm", moved)).output
    for field in ("final_atom_positions", "plddt", "predicted_aligned_error", "ptm",
                  "distogram_logits"):
        assert max_diff(getattr(a, field), getattr(b, field)) <= 1e-3, field


def _pad_residues(processed, extra):
    """Append ``extra`` masked residues to every per-residue axis."""
    residue_axis = {"aatype": 1, "residue_index": 1, "seq_mask": 1, "target_feat": 1,
                    "msa_feat": 2, "msa_mask": 2, "extra_msa": 2, "extra_has_deletion": 2,
                    "extra_deletion_value": 2, "extra_msa_mask": 2}
    padded = {}
    for key, axis in residue_axis.items():
        value = processed[key]
        widths = [(0, 0)] * value.ndim
        widths[axis] = (0, extra)
        padded[key] = np.pad(value, widths)
    return padded


def test_padding_with_masked_residues_changes_nothing(small_target):
    processed = _processed("model_3_ptm", small_target, num_recycle=0)
    length = processed["aatype"].shape[1]
    runner = _runner("model_3_ptm", 0)
    a = runner.predict(_features("model_3_ptm", processed)).output
    b = runner.predict(_features("model_3_ptm", _pad_residues(processed, 6))).output
    assert b.final_atom_positions.shape[0] == length + 6
    assert max_diff(a.final_atom_positions, b.final_atom_positions[:length]) <= 1e-3
    assert max_diff(a.plddt, b.plddt[:length]) <= 1e-3
    assert max_diff(a.predicted_aligned_error,
                    b.predicted_aligned_error[:length, :length]) <= 1e-3
    assert max_diff(a.ptm, b.ptm) <= 1e-4
    assert max_diff(a.distogram_logits, b.distogram_logits[:length, :length]) <= 1e-3
