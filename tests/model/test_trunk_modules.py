"""Each trunk module against the reference's own module: parameter names and numbers.

Every Evoformer sub-layer, the extra-MSA stack, the template embedding (pair features,
template pair stack, point-wise attention). The embeddings, recycling embedder and
template torsion rows are covered by the whole-model and per-iteration parity tests.
"""

from __future__ import annotations

import dataclasses

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from model_cases import WEIGHT_SCALE, max_diff

from folding.model import (
    evoformer,
    msa_attention,
    outer_product_mean,
    template,
    transition,
    triangle,
    trunk,
)
from folding.model.global_config import GlobalConfig

oracle = pytest.importorskip("oracle")
af = pytest.importorskip("alphafold.model.modules")
layer_stack_ref = pytest.importorskip("alphafold.model.layer_stack")
prng_ref = pytest.importorskip("alphafold.model.prng")

pytestmark = pytest.mark.reference

REF = oracle.reference_config("model_1_ptm").model
GC = REF.global_config
EVO = REF.embeddings_and_evoformer.evoformer
TEMPLATE = REF.embeddings_and_evoformer.template
OURS = evoformer.EvoformerBlockConfig()
G = GlobalConfig()


def _tree(params):
    return {module: {name: tuple(v.shape) for name, v in leaves.items()}
            for module, leaves in params.items()}


def _compare(reference_fn, our_fn, *args, tolerance=2e-5, seed=1):
    """Same random parameters through both; relative max difference must be small."""
    ref = hk.transform(reference_fn)
    ours = hk.transform(our_fn)
    key = jax.random.PRNGKey(0)
    ref_params = jax.eval_shape(ref.init, key, *args)
    assert _tree(ref_params) == _tree(jax.eval_shape(ours.init, key, *args))
    params = oracle.randomize(ref_params, seed, WEIGHT_SCALE)
    expected = jax.jit(ref.apply)(params, key, *args)
    got = jax.jit(ours.apply)(params, None, *args)
    for e, g in zip(jax.tree_util.tree_leaves(expected), jax.tree_util.tree_leaves(got),
                    strict=True):
        scale = float(np.abs(np.asarray(e)).max())
        assert scale > 1e-3
        diff = max_diff(e, g)
        print(f"max |diff| {diff:.2e} of max |value| {scale:.2f}")
        assert diff <= tolerance * scale


def _inputs(num_seq=9, num_res=14, msa_channel=256, seed=0):
    rng = np.random.default_rng(seed)
    msa = rng.normal(size=(num_seq, num_res, msa_channel)).astype(np.float32)
    pair = rng.normal(size=(num_res, num_res, 128)).astype(np.float32)
    msa_mask = np.ones((num_seq, num_res), np.float32)
    msa_mask[-2:] = 0  # padded rows
    msa_mask[:, -1] = 0  # a padded residue
    pair_mask = np.ones((num_res, num_res), np.float32)
    pair_mask[-1, :] = pair_mask[:, -1] = 0
    return msa, pair, msa_mask, pair_mask


MSA, PAIR, MSA_MASK, PAIR_MASK = _inputs()
SUBLAYERS = {
    "msa_row_attention_with_pair_bias": (
        lambda m, p: af.MSARowAttentionWithPairBias(
            EVO.msa_row_attention_with_pair_bias, GC, name="x")(m, MSA_MASK, p, False),
        lambda m, p: msa_attention.MSARowAttentionWithPairBias(
            OURS.msa_row_attention_with_pair_bias, G, name="x")(m, MSA_MASK, p)),
    "msa_column_attention": (
        lambda m, p: af.MSAColumnAttention(EVO.msa_column_attention, GC, name="x")(
            m, MSA_MASK, False),
        lambda m, p: msa_attention.MSAColumnAttention(OURS.msa_column_attention, G, name="x")(
            m, MSA_MASK)),
    "msa_column_global_attention": (
        lambda m, p: af.MSAColumnGlobalAttention(EVO.msa_column_attention, GC, name="x")(
            m[..., :64], MSA_MASK, False),
        lambda m, p: msa_attention.MSAColumnGlobalAttention(
            OURS.msa_column_attention, G, name="x")(m[..., :64], MSA_MASK)),
    "msa_transition": (
        lambda m, p: af.Transition(EVO.msa_transition, GC, name="x")(m, MSA_MASK, False),
        lambda m, p: transition.Transition(OURS.msa_transition, G, name="x")(m)),
    "outer_product_mean": (
        lambda m, p: af.OuterProductMean(EVO.outer_product_mean, GC, 128, name="x")(
            m, MSA_MASK, False),
        lambda m, p: outer_product_mean.OuterProductMean(OURS.outer_product_mean, G, 128,
                                                         name="x")(m, MSA_MASK)),
    "triangle_multiplication_outgoing": (
        lambda m, p: af.TriangleMultiplication(
            EVO.triangle_multiplication_outgoing, GC, name="x")(p, PAIR_MASK, False),
        lambda m, p: triangle.TriangleMultiplication(
            OURS.triangle_multiplication_outgoing, G, name="x")(p, PAIR_MASK)),
    "triangle_multiplication_incoming": (
        lambda m, p: af.TriangleMultiplication(
            EVO.triangle_multiplication_incoming, GC, name="x")(p, PAIR_MASK, False),
        lambda m, p: triangle.TriangleMultiplication(
            OURS.triangle_multiplication_incoming, G, name="x")(p, PAIR_MASK)),
    "triangle_attention_starting_node": (
        lambda m, p: af.TriangleAttention(
            EVO.triangle_attention_starting_node, GC, name="x")(p, PAIR_MASK, False),
        lambda m, p: triangle.TriangleAttention(
            OURS.triangle_attention_starting_node, G, False, name="x")(p, PAIR_MASK)),
    "triangle_attention_ending_node": (
        lambda m, p: af.TriangleAttention(
            EVO.triangle_attention_ending_node, GC, name="x")(p, PAIR_MASK, False),
        lambda m, p: triangle.TriangleAttention(
            OURS.triangle_attention_ending_node, G, True, name="x")(p, PAIR_MASK)),
    "pair_transition": (
        lambda m, p: af.Transition(EVO.pair_transition, GC, name="x")(p, PAIR_MASK, False),
        lambda m, p: transition.Transition(OURS.pair_transition, G, name="x")(p)),
}


@pytest.mark.parametrize("name", sorted(SUBLAYERS))
def test_evoformer_sublayer(name):
    reference_fn, our_fn = SUBLAYERS[name]
    _compare(reference_fn, our_fn, MSA, PAIR)


def test_outer_product_mean_deep_msa_path():
    """At 32 rows or more the outer product is formed before the output projection."""
    msa, _, mask, _ = _inputs(num_seq=40, msa_channel=256, seed=2)
    _compare(lambda m: af.OuterProductMean(EVO.outer_product_mean, GC, 128, name="x")(
                 m, mask, False),
             lambda m: outer_product_mean.OuterProductMean(OURS.outer_product_mean, G, 128,
                                                           name="x")(m, mask), msa)


def test_chunked_equals_unchunked():
    """A tiny chunk budget (many chunks plus a remainder) changes no number."""
    small = GlobalConfig(chunk_bytes=50_000)
    for name in ("msa_row_attention_with_pair_bias", "triangle_attention_ending_node"):
        modules = {
            "msa_row_attention_with_pair_bias": lambda g: lambda m, p: (
                msa_attention.MSARowAttentionWithPairBias(
                    OURS.msa_row_attention_with_pair_bias, g, name="x")(m, MSA_MASK, p)),
            "triangle_attention_ending_node": lambda g: lambda m, p: triangle.TriangleAttention(
                OURS.triangle_attention_ending_node, g, True, name="x")(p, PAIR_MASK),
        }
        whole, chunked = hk.transform(modules[name](G)), hk.transform(modules[name](small))
        params = oracle.randomize(whole.init(jax.random.PRNGKey(0), MSA, PAIR), 3, WEIGHT_SCALE)
        a = jax.jit(whole.apply)(params, None, MSA, PAIR)
        b = jax.jit(chunked.apply)(params, None, MSA, PAIR)
        assert max_diff(a, b) <= 1e-5 * float(np.abs(np.asarray(a)).max()), name


@pytest.mark.parametrize("direction", ["outgoing", "incoming"])
def test_triangle_multiplication_in_blocks(direction):
    """A budget that cuts the channels into the most blocks allowed and the rows one
    at a time still matches the reference."""
    tiny = GlobalConfig(chunk_bytes=100)
    name = f"triangle_multiplication_{direction}"
    assert triangle.TRIANGLE_BUDGET_FACTOR * tiny.chunk_bytes < 7 * 14 * 14 * 4
    _compare(lambda m, p: af.TriangleMultiplication(getattr(EVO, name), GC, name="x")(
                 p, PAIR_MASK, False),
             lambda m, p: triangle.TriangleMultiplication(getattr(OURS, name), tiny,
                                                          name="x")(p, PAIR_MASK),
             MSA, PAIR)


def test_extra_msa_stack():
    """Three extra-MSA blocks with stacked parameters (the official ``layer_stack``
    layout; the 48 Evoformer blocks are checked in the whole-model parity)."""
    is_extra_msa = True
    name = "extra_msa_stack"
    msa = MSA[..., :64]

    def reference(m, p):
        block = af.EvoformerIteration(EVO, GC, is_extra_msa, name=name)

        def step(x):
            act, key = x
            key, sub = key.split()
            return block(act, {"msa": MSA_MASK, "pair": PAIR_MASK}, False, sub), key

        out, _ = layer_stack_ref.layer_stack(3)(step)(
            ({"msa": m, "pair": p}, prng_ref.SafeKey(hk.next_rng_key())))
        return out["msa"], out["pair"]

    def ours(m, p):
        block = evoformer.EvoformerIteration(OURS, G, is_extra_msa, name=name)
        return evoformer.run_stack(block, 3, m, p, MSA_MASK, PAIR_MASK, None)

    _compare(reference, ours, msa, PAIR)


def _template_batch(num_res, num_templates=3, seed=0):
    rng = np.random.default_rng(seed)
    positions = rng.normal(scale=8.0, size=(num_templates, num_res, 37, 3)).astype(np.float32)
    masks = (rng.random((num_templates, num_res, 37)) > 0.2).astype(np.float32)
    aatype = rng.integers(0, 21, (num_templates, num_res)).astype(np.int32)
    beta_mask = (rng.random((num_templates, num_res)) > 0.1).astype(np.float32)
    return {
        "template_aatype": aatype,
        "template_all_atom_positions": positions,
        "template_all_atom_masks": masks,
        "template_mask": np.array([1.0, 1.0, 0.0], np.float32)[:num_templates],
        "template_pseudo_beta": positions[:, :, 3],
        "template_pseudo_beta_mask": beta_mask,
    }


def test_template_embedding():
    """Suppl. Alg. 2 lines 9-13: pair features, pair stack, point-wise attention."""
    batch = _template_batch(PAIR.shape[0])
    config = template.TemplateConfig(enabled=True)
    _compare(lambda p: af.TemplateEmbedding(TEMPLATE, GC)(p, batch, PAIR_MASK, False),
             lambda p: template.TemplateEmbedding(config, G)(p, batch, PAIR_MASK), PAIR)


def test_trunk_config_defaults_match_reference():
    """The paper defaults beside our modules equal the reference's config values."""
    e = REF.embeddings_and_evoformer
    ours = trunk.TrunkConfig()
    assert ours.evoformer_num_block == e.evoformer_num_block == 48
    assert ours.extra_msa.num_block == e.extra_msa_stack_num_block
    assert ours.extra_msa.channel == e.extra_msa_channel
    emb = ours.embeddings
    assert (emb.msa_channel, emb.pair_channel, emb.seq_channel) == (
        e.msa_channel, e.pair_channel, e.seq_channel)
    assert emb.max_relative_feature == e.max_relative_feature
    assert (emb.prev_pos_min_bin, emb.prev_pos_max_bin, emb.prev_pos_num_bins) == (
        e.prev_pos.min_bin, e.prev_pos.max_bin, e.prev_pos.num_bins)
    for field in dataclasses.fields(OURS):
        ours_cfg, ref_cfg = getattr(OURS, field.name), e.evoformer[field.name]
        assert ours_cfg.dropout_rate == ref_cfg.dropout_rate, field.name
        if hasattr(ours_cfg, "num_head"):
            assert ours_cfg.num_head == ref_cfg.num_head, field.name
    t = template.TemplateConfig()
    assert (t.dgram_min_bin, t.dgram_max_bin, t.dgram_num_bins) == (
        e.template.dgram_features.min_bin, e.template.dgram_features.max_bin,
        e.template.dgram_features.num_bins)
    assert t.template_pair_stack.num_block == e.template.template_pair_stack.num_block


def test_triangle_multiplication_blocks_alike_at_any_budget_from_256_mib():
    """Above 256 MiB a larger chunk budget no longer leaves the triangle update's
    channel blocks whole (TRIANGLE_MAX_BYTES): at L = 2,304 in bfloat16 (a transient of
    8.9 GiB) the traced update has the same loops at 256 MiB and 4,096 MiB."""
    pair = jax.ShapeDtypeStruct((2304, 2304, 128), jnp.bfloat16)
    mask = jax.ShapeDtypeStruct((2304, 2304), jnp.float32)

    def loops(chunk_mb):
        g = GlobalConfig(dtype="bfloat16", chunk_bytes=chunk_mb << 20)
        fn = hk.transform(lambda p, m: triangle.TriangleMultiplication(
            OURS.triangle_multiplication_outgoing, g, name="x")(p, m))
        params = jax.eval_shape(fn.init, jax.random.PRNGKey(0), pair, mask)
        jaxpr = jax.make_jaxpr(fn.apply)(params, None, pair, mask)
        return [e.params["length"] for e in jaxpr.jaxpr.eqns if e.primitive.name == "scan"]

    assert loops(256) == loops(4096) != []
