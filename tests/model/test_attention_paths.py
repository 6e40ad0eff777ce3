"""The attention core's implementations against each other (issue 7, fast attention path).

Every attention of the model goes through :func:`folding.model.attention_core.attend`; a
trace of whole models records the head sizes it meets (8, 16 and 32: ColabFold's fused
kernels once gave wrong results under 16, so each is tested). For each size, with
random inputs, masked keys and one fully masked query row:

* on any machine: JAX's own ``dot_product_attention(implementation="xla")``, through
  the same bias handling as the fused path, against our plain path;
* on any machine: our Pallas flash-attention kernel in Pallas' interpreter against the
  plain path (float32 and bfloat16), the pair bias and key mask read separately;
* on a CUDA GPU: cuDNN's fused attention and the compiled Pallas kernel against the
  plain path in bfloat16, per core and through the model's attention modules (skipped
  without a GPU).
"""

from __future__ import annotations

import dataclasses

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from folding.model import attention, attention_core
from folding.model import global_config as global_config_module
from folding.model.attention import AttentionConfig
from folding.model.attention_core import (
    attend,
    attention_implementation,
    cuda_flash_attention_available,
    dot_product_attention,
)
from folding.model.global_config import GlobalConfig

ON_CUDA = cuda_flash_attention_available()
needs_cuda = pytest.mark.skipif(not ON_CUDA, reason="needs a CUDA GPU with cuDNN attention")

# (name, batch, queries, keys, heads, head size, pair bias): the model's attentions at
# small sizes (odd lengths on purpose).
SHAPES = [
    ("msa_row_with_pair_bias", 3, 37, 37, 8, 32, True),
    ("msa_column", 5, 19, 19, 8, 32, False),
    ("extra_msa_row_with_pair_bias", 4, 37, 37, 8, 8, True),
    ("triangle_attention", 6, 21, 21, 4, 32, True),
    ("template_triangle_attention", 6, 21, 21, 4, 16, True),
    ("template_pointwise", 7, 1, 4, 4, 16, False),
    ("global_column", 9, 1, 23, 8, 8, False),
]


def _inputs(batch, num_q, num_k, heads, head_dim, pair_bias, dtype, seed=0, prefix=False):
    """Random q (pre-scaled), k, v, a key-mask bias with the first item fully masked.

    ``prefix``: each item keeps its first keys only (padding last, as in the model),
    which :func:`attention_core.dot_product_attention` passes as key lengths."""
    rng = np.random.default_rng(seed)
    q = rng.normal(size=(batch, num_q, heads, head_dim)) * head_dim ** -0.5
    k = rng.normal(size=(batch, num_k, heads, head_dim))
    v = rng.normal(size=(batch, num_k, heads, head_dim))
    if prefix:
        lengths = rng.integers(1, num_k + 1, size=batch)
        mask = (np.arange(num_k)[None] < lengths[:, None]).astype(np.float32)
    else:
        mask = (rng.random((batch, num_k)) > 0.3).astype(np.float32)
    mask[0] = 0.0                       # a fully masked row of the batch
    mask[1:, 0] = 1.0                   # every other item keeps a key
    bias = attention_core.mask_bias(jnp.asarray(mask), dtype)[:, None, None, :]
    shared = (jnp.asarray(rng.normal(size=(heads, num_q, num_k)), dtype)
              if pair_bias else None)
    cast = [jnp.asarray(x, dtype) for x in (q, k, v)]
    return (*cast, bias, shared)


def _plain_f32(q, k, v, bias, shared):
    """The plain path in float32 on the same (possibly rounded) inputs: the yardstick."""
    up = [None if x is None else jnp.asarray(x, jnp.float32) for x in (q, k, v, bias, shared)]
    with jax.default_matmul_precision("highest"):
        return np.asarray(attend(*up, implementation="xla"))


def test_model_head_sizes_all_go_through_attend(monkeypatch):
    """Tracing whole models: every attention calls ``attend``, at head sizes 8, 16, 32."""
    from folding.model.alphafold import forward
    from folding.model.config import model_config
    from folding.model.params import _dummy_inputs

    seen = []
    original = attention.attend

    def recording(q, k, v, bias, shared_bias=None, implementation="xla"):
        seen.append((q.shape[-1], v.shape[-1], q.shape[-3] if q.ndim >= 3 else 1))
        return original(q, k, v, bias, shared_bias, implementation)

    monkeypatch.setattr(attention, "attend", recording)
    for name in ("model_1_ptm", "model_3"):
        network = model_config(name).network
        inputs, prev = _dummy_inputs(network)
        jax.eval_shape(forward(network, GlobalConfig()).init, jax.random.PRNGKey(0),
                       inputs, prev)
    head_sizes = {c for c, _, _ in seen}
    assert head_sizes == {8, 16, 32}, head_sizes
    assert all(c == v for c, v, _ in seen)
    # 4 MSA attentions/block types + 2 template triangle + pointwise + extra row/column
    assert len(seen) >= 9


@pytest.mark.parametrize("prefix", [False, True], ids=["scattered_mask", "prefix_mask"])
@pytest.mark.parametrize("shape", SHAPES, ids=[s[0] for s in SHAPES])
def test_jax_dot_product_attention_matches_plain_path_float32(shape, prefix):
    _, batch, num_q, num_k, heads, head_dim, pair_bias = shape
    args = _inputs(batch, num_q, num_k, heads, head_dim, pair_bias, jnp.float32,
                   prefix=prefix)
    with jax.default_matmul_precision("highest"):  # float32, not TF32, on a GPU
        plain = np.asarray(attend(*args, implementation="xla"))
        fused_api = np.asarray(dot_product_attention(*args, implementation="xla"))
    np.testing.assert_allclose(fused_api, plain, atol=2e-5, rtol=1e-5)
    # The fully masked item attends uniformly to all keys (the reference's semantics).
    v = np.asarray(args[2])
    np.testing.assert_allclose(plain[0], np.broadcast_to(v[0].mean(0), plain[0].shape),
                               atol=1e-5)
    np.testing.assert_allclose(fused_api[0], plain[0], atol=1e-5)


@pytest.mark.parametrize("shape", SHAPES, ids=[s[0] for s in SHAPES])
def test_jax_dot_product_attention_matches_plain_path_bfloat16(shape):
    _, batch, num_q, num_k, heads, head_dim, pair_bias = shape
    args = _inputs(batch, num_q, num_k, heads, head_dim, pair_bias, jnp.bfloat16, seed=1)
    exact = _plain_f32(*args)
    for impl in ("xla-plain", "xla-api"):
        out = (attend(*args, implementation="xla") if impl == "xla-plain"
               else dot_product_attention(*args, implementation="xla"))
        assert out.dtype == jnp.bfloat16
        err = float(np.max(np.abs(np.asarray(out, np.float32) - exact)))
        # bfloat16 keeps 8 bits: outputs of magnitude ~1 round by up to ~4e-3, plus the
        # rounding of the attention weights before the second matmul.
        assert err < 3e-2, (impl, err)


def test_implementation_choice_on_this_machine():
    args = (jnp.bfloat16, 32, 32)
    assert attention_implementation("xla", *args) == "xla"
    assert attention_implementation("auto", jnp.float32, 32, 32) == "xla"
    # cuDNN needs head sizes in multiples of 8; the Pallas kernel pads any size to 16.
    assert attention_implementation("auto", jnp.bfloat16, 12, 12) == (
        "pallas" if ON_CUDA else "xla")
    assert attention_implementation("auto", *args) == (
        attention_core.AUTO_PREFERENCE[0] if ON_CUDA else "xla")
    if not ON_CUDA:
        with pytest.raises(ValueError, match="cuDNN attention needs"):
            attention_implementation("cudnn", *args)
        with pytest.raises(ValueError, match="Pallas attention kernel needs"):
            attention_implementation("pallas", *args)
    with pytest.raises(ValueError, match="attention must be one of"):
        attention_implementation("flash", *args)
    with pytest.raises(ValueError, match="attention must be one of"):
        GlobalConfig(attention="flash")
    assert global_config_module._ATTENTION == attention_core.ATTENTION_IMPLEMENTATIONS


def test_float32_mode_is_real_float32():
    assert GlobalConfig().resolved_matmul_precision == "highest"
    assert GlobalConfig(dtype="bfloat16").resolved_matmul_precision == "default"
    gc = dataclasses.replace(GlobalConfig(), dtype="bfloat16")
    assert gc.resolved_matmul_precision == "default"
    assert GlobalConfig(matmul_precision="high").resolved_matmul_precision == "high"
    with pytest.raises(ValueError, match="matmul_precision"):
        GlobalConfig(matmul_precision="fast")


# --- our Pallas kernel, interpreted (any machine) -----------------------------------

@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16], ids=["f32", "bf16"])
@pytest.mark.parametrize("prefix", [False, True], ids=["scattered_mask", "prefix_mask"])
@pytest.mark.parametrize("shape", [s for s in SHAPES if s[2] > 1], ids=lambda s: s[0])
def test_pallas_kernel_interpreted_matches_plain_path(shape, prefix, dtype):
    from folding.model.pallas_attention import KernelBlocks, flash_attention

    _, batch, num_q, num_k, heads, head_dim, pair_bias = shape
    q, k, v, bias, shared = _inputs(batch, num_q, num_k, heads, head_dim, pair_bias, dtype,
                                    seed=5, prefix=prefix)
    exact = _plain_f32(q, k, v, bias, shared)
    key_bias = bias[:, 0, 0, :].astype(jnp.float32)
    with jax.default_matmul_precision("highest"):      # a GPU's default would be TF32
        out = np.asarray(flash_attention(q, k, v, key_bias, shared, KernelBlocks(16, 16),
                                         interpret=True), np.float32)
    assert out.shape == exact.shape and out.dtype == np.float32
    tolerance = 1e-5 if dtype == jnp.float32 else 3e-2
    np.testing.assert_allclose(out, exact, atol=tolerance, rtol=0)
    # The fully masked item: uniform weights over its keys, as the plain path.
    vf = np.asarray(v, np.float32)
    np.testing.assert_allclose(out[0], np.broadcast_to(vf[0].mean(0), out[0].shape),
                               atol=tolerance)


def test_pallas_kernel_interpreted_several_key_blocks():
    """Keys spread over several blocks (the online softmax's rescaling) and padding of
    both sequence axes to the block sizes."""
    from folding.model.pallas_attention import KernelBlocks, flash_attention

    q, k, v, bias, shared = _inputs(2, 45, 70, 2, 32, True, jnp.float32, seed=6)
    exact = _plain_f32(q, k, v, bias, shared)
    with jax.default_matmul_precision("highest"):
        out = flash_attention(q, k, v, bias[:, 0, 0, :], shared, KernelBlocks(16, 16),
                              interpret=True)
    np.testing.assert_allclose(np.asarray(out), exact, atol=1e-5, rtol=0)


# --- cuDNN and Pallas on a GPU ---------------------------------------------------------

@needs_cuda
@pytest.mark.parametrize("fused", ["cudnn", "pallas"])
@pytest.mark.parametrize("prefix", [False, True], ids=["scattered_mask", "prefix_mask"])
@pytest.mark.parametrize("shape", [s for s in SHAPES if s[2] > 1], ids=lambda s: s[0])
def test_fused_matches_plain_path(shape, prefix, fused):
    _, batch, num_q, num_k, heads, head_dim, pair_bias = shape
    args = _inputs(batch, num_q, num_k, heads, head_dim, pair_bias, jnp.bfloat16, seed=2,
                   prefix=prefix)
    exact = _plain_f32(*args)
    out = np.asarray(jax.jit(lambda *a: attend(*a, implementation=fused))(*args), np.float32)
    plain = np.asarray(attend(*args, implementation="xla"), np.float32)
    err_fused = float(np.max(np.abs(out - exact)))
    err_plain = float(np.max(np.abs(plain - exact)))
    print(f"head {head_dim}: {fused} {err_fused:.2e}, plain bf16 {err_plain:.2e}")
    assert np.all(np.isfinite(out))
    assert err_fused < 3e-2
    # The fully masked item: uniform weights over its keys.
    v = np.asarray(args[2], np.float32)
    np.testing.assert_allclose(out[0], np.broadcast_to(v[0].mean(0), out[0].shape),
                               atol=2e-2)


@needs_cuda
@pytest.mark.parametrize("fused", ["cudnn", "pallas"])
@pytest.mark.parametrize("ending", [False, True])
@pytest.mark.parametrize("head_dim", [16, 32])
def test_fused_triangle_attention_module(head_dim, ending, fused):
    from folding.model.triangle import TriangleAttention

    length, heads = 24, 4
    channels = heads * head_dim
    config = AttentionConfig(num_head=heads, key_dim=channels, value_dim=channels)
    rng = np.random.default_rng(3)
    pair = jnp.asarray(rng.normal(size=(length, length, channels)), jnp.bfloat16)
    seq_mask = np.ones(length, np.float32)
    seq_mask[-5:] = 0.0
    pair_mask = jnp.asarray(seq_mask[:, None] * seq_mask[None], jnp.bfloat16)
    outs = {}
    for impl in ("xla", fused):
        gc = GlobalConfig(dtype="bfloat16", attention=impl)
        fn = hk.without_apply_rng(hk.transform(
            lambda p, m, gc=gc: TriangleAttention(config, gc, ending)(p, m)))
        params = fn.init(jax.random.PRNGKey(0), pair, pair_mask)
        params = jax.tree_util.tree_map(
            lambda x: x + 0.1 * jax.random.normal(jax.random.PRNGKey(1), x.shape, x.dtype),
            params)
        outs[impl] = np.asarray(jax.jit(fn.apply)(params, pair, pair_mask), np.float32)
    scale = float(np.max(np.abs(outs["xla"])))
    err = float(np.max(np.abs(outs[fused] - outs["xla"])))
    assert err < 3e-2 * max(1.0, scale), (err, scale)


@needs_cuda
@pytest.mark.parametrize("fused", ["cudnn", "pallas"])
@pytest.mark.parametrize("head_dim", [8, 32])
def test_fused_msa_row_attention_module(head_dim, fused):
    from folding.model.msa_attention import MSARowAttentionWithPairBias

    rows, length, heads = 6, 20, 8
    channels = heads * head_dim
    config = AttentionConfig(num_head=heads)
    rng = np.random.default_rng(4)
    msa = jnp.asarray(rng.normal(size=(rows, length, channels)), jnp.bfloat16)
    pair = jnp.asarray(rng.normal(size=(length, length, 32)), jnp.bfloat16)
    msa_mask = np.ones((rows, length), np.float32)
    msa_mask[-2:] = 0.0                         # padding rows: fully masked
    msa_mask = jnp.asarray(msa_mask, jnp.bfloat16)
    outs = {}
    for impl in ("xla", fused):
        gc = GlobalConfig(dtype="bfloat16", attention=impl)
        fn = hk.without_apply_rng(hk.transform(
            lambda m, mm, p, gc=gc: MSARowAttentionWithPairBias(config, gc)(m, mm, p)))
        params = fn.init(jax.random.PRNGKey(0), msa, msa_mask, pair)
        params = jax.tree_util.tree_map(
            lambda x: x + 0.1 * jax.random.normal(jax.random.PRNGKey(1), x.shape, x.dtype),
            params)
        outs[impl] = np.asarray(jax.jit(fn.apply)(params, msa, msa_mask, pair), np.float32)
    scale = float(np.max(np.abs(outs["xla"])))
    err = float(np.max(np.abs(outs[fused] - outs["xla"])))
    assert err < 3e-2 * max(1.0, scale), (err, scale)


@pytest.mark.parametrize("module", ["triangle", "msa_row"])
def test_pallas_path_through_model_modules_interpreted(module, monkeypatch):
    """The glue of the Pallas path (key bias from the mask, shared pair bias, batch
    flattening) inside the model's modules, with the kernel interpreted on this machine,
    against the plain path."""
    import functools

    from folding.model import pallas_attention
    from folding.model.msa_attention import MSARowAttentionWithPairBias
    from folding.model.triangle import TriangleAttention

    calls = []
    interpreted = functools.partial(pallas_attention.flash_attention,
                                    blocks=pallas_attention.KernelBlocks(16, 16),
                                    interpret=True)

    def counted(*args, **kwargs):
        calls.append(args[0].shape)
        return interpreted(*args, **kwargs)

    monkeypatch.setattr(pallas_attention, "flash_attention", counted)
    # float32 here (the kernel takes any dtype; the model asks for it in half precision).
    monkeypatch.setattr(attention_core, "pallas_attention_supported", lambda *args: True)
    rng = np.random.default_rng(7)
    length, heads, head_dim = 19, 4, 16
    channels = heads * head_dim
    seq_mask = np.ones(length, np.float32)
    seq_mask[-4:] = 0.0
    if module == "triangle":
        config = AttentionConfig(num_head=heads, key_dim=channels, value_dim=channels)
        pair = jnp.asarray(rng.normal(size=(length, length, channels)), jnp.float32)
        args = (pair, jnp.asarray(seq_mask[:, None] * seq_mask[None]))

        def build(gc):
            return lambda p, m: TriangleAttention(config, gc, False)(p, m)
    else:
        config = AttentionConfig(num_head=heads)
        msa = jnp.asarray(rng.normal(size=(5, length, channels)), jnp.float32)
        msa_mask = np.broadcast_to(seq_mask, (5, length)).copy()
        msa_mask[-1] = 0.0
        args = (msa, jnp.asarray(msa_mask),
                jnp.asarray(rng.normal(size=(length, length, 32)), jnp.float32))

        def build(gc):
            return lambda m, mm, p: MSARowAttentionWithPairBias(config, gc)(m, mm, p)
    outs = {}
    for impl in ("xla", "pallas"):
        gc = GlobalConfig(attention=impl)
        fn = hk.without_apply_rng(hk.transform(build(gc)))
        params = fn.init(jax.random.PRNGKey(0), *args)
        params = jax.tree_util.tree_map(
            lambda x: x + 0.1 * jax.random.normal(jax.random.PRNGKey(1), x.shape, x.dtype),
            params)
        with jax.default_matmul_precision("highest"):
            outs[impl] = np.asarray(fn.apply(params, *args))
    assert calls, "the Pallas path was not taken"
    np.testing.assert_allclose(outs["pallas"], outs["xla"], atol=1e-4, rtol=0)
