"""The multimer-specific modules against the reference's own modules (random weights).

Each test builds one module of ours and the reference's counterpart on the same inputs,
checks that both create the same parameter tree, and compares outputs under random
non-zero parameters (float32, deterministic): fused triangle multiplication, the
multimer Evoformer block (outer product mean first) in its main and extra-MSA forms,
chain-aware relative positions, the multimer template embedding and its chi-angle MSA
rows, the multimer structure module, the in-pass MSA sampling (bit for bit, from the
reference's key derivation) and ipTM.
"""

from __future__ import annotations

from pathlib import Path

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from folding.model.multimer.embeddings import RelativePositionConfig, relative_position_features
from folding.model.multimer.sampling import (
    MsaSamplingConfig,
    RawMsa,
    padding_consistent_uniform,
    recycling_pass_keys,
    sample_msa,
    sampling_keys,
)

NUM_RES = 18
#: Three chains: two copies of entity 1 (7 residues each), one chain of entity 2.
ASYM = np.array([1] * 7 + [2] * 7 + [3] * 4)
ENTITY = np.array([1] * 14 + [2] * 4)
SYM = np.array([1] * 7 + [2] * 7 + [1] * 4)


def test_relative_position_features_known_answers():
    residue_index = np.concatenate([np.arange(7), np.arange(7), np.arange(100, 104)])
    feats = np.asarray(relative_position_features(
        jnp.asarray(residue_index), jnp.asarray(ASYM), jnp.asarray(ENTITY), jnp.asarray(SYM),
        RelativePositionConfig()))
    assert feats.shape == (NUM_RES, NUM_RES, 73)
    assert np.all(feats.sum(-1) == np.where(ENTITY[:, None] == ENTITY[None, :], 3, 2))
    position = feats[..., :66].argmax(-1)
    assert position[0, 3] == 32 - 3 and position[3, 0] == 32 + 3  # same chain: i - j + 32
    assert position[0, 7] == 65 and position[0, 14] == 65  # other chains: class 65
    assert position[14, 17] == 29  # within the third chain (residues 100..103)
    same_entity = feats[..., 66]
    assert same_entity[0, 7] == 1 and same_entity[0, 14] == 0
    copy = feats[..., 67:].argmax(-1)
    assert copy[0, 7] == 2 - 1 and copy[7, 0] == 2 + 1  # sym 1 vs 2: clipped offset + 2
    assert copy[0, 0] == 2 and copy[0, 14] == 5  # same copy; another entity: class 5


def test_padding_consistent_uniform_ignores_padding():
    key = jax.random.PRNGKey(3)
    small = np.asarray(padding_consistent_uniform(key, (4, 5)))
    large = np.asarray(padding_consistent_uniform(key, (9, 7)))
    np.testing.assert_array_equal(small, large[:4, :5])
    assert large.min() >= 0.0 and large.max() < 1.0 and np.unique(large).size == large.size


# --- against the reference ------------------------------------------------------------

def _reference():
    return pytest.importorskip("multimer_oracle")


def _compare(ref_fn, our_fn, *args, seed=0, scale=0.3, rng_key=None):
    """(reference output, our output) under the same random parameters."""
    from oracle import randomize

    key = jax.random.PRNGKey(0)
    ref, ours = hk.transform(ref_fn), hk.transform(our_fn)
    ref_shapes = jax.eval_shape(ref.init, key, *args)
    our_shapes = jax.eval_shape(ours.init, key, *args)
    assert jax.tree_util.tree_map(lambda s: s.shape, our_shapes) == \
        jax.tree_util.tree_map(lambda s: s.shape, ref_shapes)
    params = randomize(ref_shapes, seed, scale)
    return (jax.jit(ref.apply)(params, rng_key or key, *args),
            jax.jit(ours.apply)(params, rng_key or key, *args))


def _pair_inputs(channels=128, seed=0):
    rng = np.random.default_rng(seed)
    pair = jnp.asarray(rng.normal(size=(NUM_RES, NUM_RES, channels)), jnp.float32)
    mask = np.ones((NUM_RES, NUM_RES), np.float32)
    mask[-2:, :] = mask[:, -2:] = 0.0  # two padded residues
    return pair, jnp.asarray(mask)


@pytest.mark.reference
@pytest.mark.parametrize("blocks", [False, True], ids=["whole", "blocks"])
@pytest.mark.parametrize("outgoing", [True, False])
def test_fused_triangle_multiplication(outgoing, blocks):
    """Against the reference; with ``blocks`` a budget that cuts the channels into the
    most blocks allowed and the rows one at a time, as long sequences run."""
    mo = _reference()
    from alphafold.model import modules

    from folding.model.global_config import GlobalConfig
    from folding.model.multimer.triangle import FusedTriangleMultiplication
    from folding.model.triangle import TriangleMultiplicationConfig

    cfg = mo.reference_config().model
    name = "triangle_multiplication_" + ("outgoing" if outgoing else "incoming")
    ref_cfg = cfg.embeddings_and_evoformer.evoformer[name]
    assert ref_cfg.fuse_projection_weights
    pair, mask = _pair_inputs()
    ref, ours = _compare(
        lambda p, m: modules.TriangleMultiplication(ref_cfg, cfg.global_config, name=name)(
            p, m, is_training=False),
        lambda p, m: FusedTriangleMultiplication(
            TriangleMultiplicationConfig(outgoing),
            GlobalConfig(chunk_bytes=100) if blocks else GlobalConfig(), name=name)(p, m),
        pair, mask)
    assert mo.max_diff(ref, ours) < 1e-5 * float(jnp.abs(ref).max())


@pytest.mark.reference
@pytest.mark.parametrize("is_extra_msa", [False, True])
def test_multimer_evoformer_block(is_extra_msa):
    mo = _reference()
    from alphafold.model import modules

    from folding.model.evoformer import EvoformerBlockConfig
    from folding.model.global_config import GlobalConfig
    from folding.model.multimer.evoformer import multimer_evoformer_iteration

    cfg = mo.reference_config().model
    evo = cfg.embeddings_and_evoformer.evoformer
    assert evo.outer_product_mean.first
    rng = np.random.default_rng(1)
    channels = 64 if is_extra_msa else 256
    msa = jnp.asarray(rng.normal(size=(6, NUM_RES, channels)), jnp.float32)
    msa_mask = jnp.asarray((rng.random((6, NUM_RES)) > 0.2).astype(np.float32))
    pair, pair_mask = _pair_inputs(seed=2)
    name = "extra_msa_stack" if is_extra_msa else "evoformer_iteration"

    def ref_fn(m, p, mm, pm):
        out = modules.EvoformerIteration(evo, cfg.global_config, is_extra_msa, name=name)(
            {"msa": m, "pair": p}, {"msa": mm, "pair": pm}, is_training=False)
        return out["msa"], out["pair"]

    def our_fn(m, p, mm, pm):
        return multimer_evoformer_iteration(EvoformerBlockConfig(), GlobalConfig(),
                                            is_extra_msa, name=name)(m, p, mm, pm)

    (ref_msa, ref_pair), (our_msa, our_pair) = _compare(ref_fn, our_fn, msa, pair, msa_mask,
                                                        pair_mask, seed=3)
    assert mo.max_diff(ref_pair, our_pair) < 2e-5 * float(jnp.abs(ref_pair).max())
    assert mo.max_diff(ref_msa, our_msa) < 2e-5 * float(jnp.abs(ref_msa).max())


@pytest.mark.reference
def test_relative_position_encoding():
    mo = _reference()
    from alphafold.model import modules_multimer

    from folding.model.multimer.embeddings import relative_position_encoding

    cfg = mo.reference_config().model
    residue_index = jnp.asarray(np.concatenate([np.arange(7), np.arange(7) + 40, np.arange(4)]))
    batch = {"residue_index": residue_index, "asym_id": jnp.asarray(ASYM, jnp.float32),
             "entity_id": jnp.asarray(ENTITY, jnp.float32),
             "sym_id": jnp.asarray(SYM, jnp.float32)}

    class Evoformer(hk.Module):  # our function under the reference's scope names
        def __init__(self):
            super().__init__(name="evoformer")

        def _relative_encoding(self, b):
            return relative_position_encoding(b["residue_index"], b["asym_id"], b["entity_id"],
                                              b["sym_id"], RelativePositionConfig(), 128)

    ref, ours = _compare(
        lambda b: modules_multimer.EmbeddingsAndEvoformer(
            cfg.embeddings_and_evoformer, cfg.global_config)._relative_encoding(b),
        lambda b: Evoformer()._relative_encoding(b), batch)
    assert mo.max_diff(ref, ours) < 1e-6 * float(jnp.abs(ref).max())


def _template_batch(shared_data: Path):
    """Two template slots: a real structure (1AHS) with a gap, and an empty slot."""
    from model_cases import real_template

    template = real_template(shared_data, NUM_RES)
    aatype = np.stack([template["aatype"], np.full(NUM_RES, 21)])
    positions = np.stack([template["atom_positions"], np.zeros((NUM_RES, 37, 3))])
    mask = np.stack([template["atom_mask"], np.zeros((NUM_RES, 37))])
    mask[0, 9:11] = 0.0
    return (jnp.asarray(aatype, jnp.int32), jnp.asarray(positions, jnp.float32),
            jnp.asarray(mask, jnp.float32))


@pytest.mark.reference
def test_template_embedding(shared_data):
    mo = _reference()
    from alphafold.model import modules_multimer

    from folding.model.global_config import GlobalConfig
    from folding.model.multimer.template import MultimerTemplateConfig, TemplateEmbedding

    cfg = mo.reference_config().model
    aatype, positions, mask = _template_batch(shared_data)
    query, pair_mask = _pair_inputs(seed=4)
    asym = jnp.asarray(ASYM, jnp.float32)

    def ref_fn(q, a, p, m, pm):
        batch = {"template_aatype": a, "template_all_atom_positions": p,
                 "template_all_atom_mask": m}
        return modules_multimer.TemplateEmbedding(
            cfg.embeddings_and_evoformer.template, cfg.global_config)(
            q, batch, pm, asym[:, None] == asym[None, :], is_training=False)

    def our_fn(q, a, p, m, pm):
        return TemplateEmbedding(MultimerTemplateConfig(), GlobalConfig())(q, a, p, m, pm, asym)

    ref, ours = _compare(ref_fn, our_fn, query, aatype, positions, mask, pair_mask, seed=5)
    print("template embedding max |diff|", mo.max_diff(ref, ours), "of", float(jnp.abs(ref).max()))
    assert mo.max_diff(ref, ours) < 1e-5 * float(jnp.abs(ref).max())


@pytest.mark.reference
def test_template_backbone_unit_vectors_round_like_the_reference(shared_data):
    """Residue i's own CA in its own frame is zero in exact arithmetic; the reference's
    order of operations leaves rounding noise there that normalising blows up to unit
    length. Ours computes it in the same order and gets the same vectors."""
    _reference()
    from alphafold.model import folding_multimer, geometry

    from folding.model.multimer.template import backbone_frames, unit_vectors

    _, positions, mask = _template_batch(shared_data)

    def ref_fn(p, m):
        rigid, _ = folding_multimer.make_backbone_affine(geometry.Vec3Array.from_array(p), m,
                                                         None)
        points = rigid.translation
        return rigid[:, None].inverse().apply_to_point(points).normalized().to_array()

    def our_fn(p, m):
        return unit_vectors(backbone_frames(p, m)[0]).to_array()

    for fn in (lambda f: f, lambda f: (lambda p, m: jax.lax.scan(
            lambda c, _: (c, f(p, m)), 0, jnp.arange(1))[1][0])):
        ref = np.asarray(jax.jit(fn(ref_fn))(positions[0], mask[0]))
        ours = np.asarray(jax.jit(fn(our_fn))(positions[0], mask[0]))
        np.testing.assert_array_equal(ours, ref)


@pytest.mark.reference
def test_template_chi_rows(shared_data):
    mo = _reference()
    from alphafold.model import modules_multimer

    from folding.model.multimer.template import template_torsion_rows

    cfg = mo.reference_config().model
    aatype, positions, mask = _template_batch(shared_data)

    def ref_fn(a, p, m):
        batch = {"template_aatype": a, "template_all_atom_positions": p,
                 "template_all_atom_mask": m}
        return modules_multimer.template_embedding_1d(batch, 256, cfg.global_config)

    (ref_rows, ref_mask), (our_rows, our_mask) = _compare(
        ref_fn, lambda a, p, m: template_torsion_rows(a, p, m, 256), aatype, positions, mask)
    np.testing.assert_array_equal(our_mask, ref_mask)
    assert float(jnp.sum(ref_mask)) > 5
    assert mo.max_diff(ref_rows, our_rows) < 1e-5 * float(jnp.abs(ref_rows).max())


@pytest.mark.reference
@pytest.mark.slow
@pytest.mark.parametrize("row_blocks", [False, True], ids=["whole", "row_blocks"])
def test_multimer_structure_module(row_blocks):
    """Against the reference; with ``row_blocks`` the pair's layer norm and the point
    attention run five query rows at a time (several blocks and a remainder)."""
    mo = _reference()
    chunk_bytes = 5 * NUM_RES * (4 * 12 * 12 + 8 * 128) if row_blocks else None
    from alphafold.model import folding_multimer

    from folding.model.multimer.structure_module import (
        MultimerStructureModule,
        multimer_structure_config,
    )

    cfg = mo.reference_config().model
    rng = np.random.default_rng(6)
    single = jnp.asarray(rng.normal(size=(NUM_RES, 384)), jnp.float32)
    pair = jnp.asarray(rng.normal(size=(NUM_RES, NUM_RES, 128)), jnp.float32)
    aatype = jnp.asarray(np.arange(NUM_RES) % 21, jnp.int32)
    seq_mask = jnp.asarray(np.r_[np.ones(NUM_RES - 2), np.zeros(2)], jnp.float32)

    def ref_fn(s, p, a, m):
        module = folding_multimer.StructureModule(cfg.heads.structure_module, cfg.global_config)
        with jax.default_matmul_precision("highest"):
            return module({"single": s, "pair": p}, {"aatype": a, "seq_mask": m},
                          is_training=False, compute_loss=True)

    def our_fn(s, p, a, m):
        return MultimerStructureModule(multimer_structure_config())(
            s, p, a, m, chunk_bytes=chunk_bytes)

    def diffs_at(scale):
        ref, ours = _compare(ref_fn, our_fn, single, pair, aatype, seq_mask, seed=7,
                             scale=scale)
        trajectory = jnp.concatenate([ours.trajectory.rot.to_array(),
                                      ours.trajectory.trans.to_array()[..., None]], axis=-1)
        # Padded residues attend with every key masked: their logits sit at -1e5, where
        # float32 keeps about two decimals, so only the real residues are compared.
        real = slice(0, NUM_RES - 2)
        diffs = {
            "final_atom_positions": mo.max_diff(ref["final_atom_positions"],
                                                ours.final_atom_positions),
            "final_atom14_positions": mo.max_diff(ref["final_atom14_positions"][real],
                                                  ours.final_atom14_positions[real]),
            "trajectory": mo.max_diff(ref["traj"][:, real], trajectory[:, real]),
            "single": mo.max_diff(ref["act"][real], ours.single[real]),
            "angles": mo.max_diff(ref["sidechains"]["angles_sin_cos"][:, real],
                                  ours.angles_sin_cos[:, real]),
        }
        print(f"multimer structure module, weight scale {scale}, max |diff|:", diffs)
        assert float(jnp.abs(ref["final_atom_positions"]).max()) > 10.0
        np.testing.assert_array_equal(ours.final_atom_mask, ref["final_atom_mask"])
        assert not np.asarray(ours.final_atom_positions)[-2:].any()  # padding has no atoms
        return diffs

    # The first iteration agrees to float32 rounding (2e-7); the eight iterations amplify
    # rounding the more, the larger the weights. At the test scale of the whole model:
    diffs = diffs_at(0.3)
    assert diffs["final_atom_positions"] < 2e-4 and diffs["trajectory"] < 2e-4, diffs
    assert diffs["single"] < 2e-5 and diffs["angles"] < 2e-5, diffs
    # At 0.5 a relative 1e-6 change of the weights moves the reference's own atoms by
    # 8e-3 A; we hold the bound of 0.01 A (measured 6e-4 A).
    diffs = diffs_at(0.5)
    assert diffs["final_atom_positions"] < 1e-2 and diffs["trajectory"] < 1e-2, diffs


def _raw_msa(num_seq, num_res, live, seed):
    rng = np.random.default_rng(seed)
    msa = rng.integers(0, 22, (num_seq, num_res)).astype(np.int32)
    mask = np.ones((num_seq, num_res), np.float32)
    mask[live:] = 0.0
    msa[live:] = 0
    mask[3, : num_res // 2] = 0.0  # a row of a chain that was not paired
    deletions = (rng.random((num_seq, num_res)) < 0.2) * rng.integers(1, 7, (num_seq, num_res))
    bias = np.zeros(num_seq)
    bias[0] = 1.0
    return {"msa": msa, "msa_mask": mask, "deletion_matrix": deletions.astype(np.float32),
            "bert_mask": mask.copy(), "cluster_bias_mask": bias}


@pytest.mark.reference
@pytest.mark.parametrize("num_seq,live,num_msa,num_extra", [
    (70, 60, 20, 24),   # more rows than centres + extra: extra truncated
    (40, 40, 16, 64),   # every remaining row is extra
    (12, 10, 16, 8),    # fewer rows than centres: no extra rows at all
])
def test_msa_sampling_equals_reference(num_seq, live, num_msa, num_extra):
    """Our sampler from the pass key gives the reference sampler's arrays bit for bit."""
    _reference()
    from alphafold.model import config as af_config
    from alphafold.model import msa_sampling

    evo = af_config.model_config("model_1_multimer_v3").model.embeddings_and_evoformer
    evo.num_msa, evo.num_extra_msa = num_msa, num_extra
    reference = msa_sampling.make_sampler(evo)
    raw = _raw_msa(num_seq, 15, live, seed=num_seq)
    ours = jax.jit(sample_msa, static_argnums=3)
    config = MsaSamplingConfig(num_msa=num_msa, num_extra_msa=num_extra)
    for seed in (0, 11):
        for pass_key in recycling_pass_keys(seed, 2):
            expected = reference(raw, pass_key)
            got = ours(RawMsa(**{k: jnp.asarray(v) for k, v in raw.items()}),
                       *sampling_keys(pass_key), config)
            for name, value in expected.items():
                np.testing.assert_array_equal(np.asarray(getattr(got, name)),
                                              np.asarray(value), err_msg=name)
            assert np.asarray(got.bert_mask).any()  # some positions were masked


@pytest.mark.reference
def test_iptm_ptm_and_ranking_equal_reference():
    _reference()
    from alphafold.common import confidence as af_confidence

    from folding.model import confidence
    from folding.model.multimer.alphafold import ranking_confidence

    rng = np.random.default_rng(8)
    logits = rng.normal(size=(NUM_RES, NUM_RES, 64)).astype(np.float32) * 3
    breaks = np.linspace(0.0, 31.0, 63).astype(np.float32)
    mask = np.r_[np.ones(NUM_RES - 2), np.zeros(2)].astype(np.float32)
    ptm = float(confidence.predicted_tm_score(logits, breaks, mask))
    iptm = float(confidence.predicted_tm_score(logits, breaks, mask, jnp.asarray(ASYM)))
    ref_ptm = float(af_confidence.predicted_tm_score(logits, breaks, mask))
    ref_iptm = float(af_confidence.predicted_tm_score(logits, breaks, mask, asym_id=ASYM))
    assert abs(ptm - ref_ptm) < 1e-6 and abs(iptm - ref_iptm) < 1e-6
    assert iptm != ptm
    assert float(ranking_confidence(iptm, ptm)) == pytest.approx(0.8 * iptm + 0.2 * ptm)
