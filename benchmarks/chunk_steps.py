"""Sequential work of one model pass by chunk budget, from the traced program (no GPU).

    python3 benchmarks/chunk_steps.py --lengths 384,1000 --chunk-mb 256,4096 \
        [--attention cudnn|pallas|xla] [--dtype bfloat16] [--multimer]

Traces one recycling pass of model_1_ptm (full MSA: 512 clusters, 5,120 extra rows, 4
templates; abstract inputs, nothing compiled or allocated) and walks its jaxpr: every
chunked operation of :mod:`folding.model.chunking` is a loop, and a GPU runs a loop's
iterations one after another, each launching its kernels. It prints, per pass, the
loop iterations (the 48 Evoformer blocks and the other layer stacks included) and the
operations executed counting each loop body once per iteration (before XLA's fusion,
so an upper bound on kernels, but the ratio between budgets is what it shows), and the
matmul FLOPs of the pass (every ``dot_general``, 2 per multiply-add; with ``--attention
xla`` they include the attention's, which the fused kernels hide), against which
``gpu_model.py``'s analytic count (``model_flops``) is checked.

The chunk sizes depend on the attention kernel (:func:`folding.model.attention.
attention_item_bytes`), so ``--attention cudnn`` or ``pallas`` traces the model as a
GPU would run it: this script tells the model those kernels are available and stands
a plain computation in for them (only the shapes matter here). It needs no GPU and
takes seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def pretend_kernels_available(kernel: str) -> None:
    """Let the model choose ``kernel`` on this backend, computed by plain JAX ops."""
    import jax
    import jax.numpy as jnp

    from folding.model import attention_core, pallas_attention

    attention_core.fused_attention_supported = lambda *a: kernel == "cudnn"
    attention_core.pallas_attention_supported = lambda *a: kernel == "pallas"
    plain = jax.nn.dot_product_attention

    def any_backend(*args, implementation=None, **kwargs):
        return plain(*args, implementation=None, **kwargs)

    jax.nn.dot_product_attention = any_backend
    pallas_attention.flash_attention = lambda q, k, v, key_bias, pair_bias: jnp.zeros(
        (*q.shape[:-1], v.shape[-1]), q.dtype)


def dot_flops(eqn) -> int:
    """FLOPs of one ``dot_general`` (2 per multiply-add)."""
    (contracting, _), _ = eqn.params["dimension_numbers"]
    lhs = eqn.invars[0].aval.shape
    out = eqn.outvars[0].aval.shape
    return 2 * math.prod(out) * math.prod(lhs[d] for d in contracting)


def count_steps(jaxpr, repeats: int = 1) -> dict[str, int]:
    """Loop iterations, executed operations and matmul FLOPs of ``jaxpr``, loops unrolled
    by count (of a conditional, the branch with the most iterations)."""
    from jax.extend import core

    total = {"loop_iterations": 0, "operations": 0, "matmul_flops": 0}
    for eqn in jaxpr.eqns:
        name = eqn.primitive.name
        if name == "dot_general":
            total["matmul_flops"] += repeats * dot_flops(eqn)
        if name == "scan":
            length = eqn.params["length"]
            total["loop_iterations"] += repeats * length
            inner = count_steps(eqn.params["jaxpr"].jaxpr, repeats * length)
        elif name == "cond":
            inner = max((count_steps(branch.jaxpr, repeats) for branch in eqn.params["branches"]),
                        key=lambda c: c["loop_iterations"])
        else:
            if name == "while":
                raise ValueError("a loop without a static trip count: cannot count it")
            total["operations"] += repeats
            inner = {"loop_iterations": 0, "operations": 0, "matmul_flops": 0}
            for value in eqn.params.values():
                for sub in value if isinstance(value, (list, tuple)) else (value,):
                    if isinstance(sub, core.ClosedJaxpr):
                        sub = sub.jaxpr
                    if isinstance(sub, core.Jaxpr):
                        found = count_steps(sub, repeats)
                        inner = {k: inner[k] + found[k] for k in inner}
        total = {k: total[k] + inner[k] for k in total}
    return total


def pass_steps(length: int, chunk_mb: int, dtype: str, attention: str) -> dict:
    import jax
    from compiled_memory import abstract_pass

    from folding.model.global_config import GlobalConfig
    from folding.model.runner import compiled_iteration

    global_config = GlobalConfig(dtype=dtype, chunk_bytes=chunk_mb << 20,
                                 attention="xla" if attention == "xla" else "auto")
    config, params, inputs, prev = abstract_pass(length, global_config)
    start = time.perf_counter()
    traced = jax.make_jaxpr(compiled_iteration(config.network, global_config))(
        params, None, inputs, prev)
    return {"length": length, "chunk_mb": chunk_mb, "dtype": dtype, "attention": attention,
            **count_steps(traced.jaxpr), "trace_s": round(time.perf_counter() - start, 1)}


def multimer_pass_steps(length: int, chunk_mb: int, dtype: str, attention: str) -> dict:
    """:func:`pass_steps` for one model_1_multimer_v3 pass: its sampled sizes (508
    centres, 2,048 extra rows) and 4 templates, the whole length one complex."""
    import jax
    from compiled_memory import abstract_multimer_pass

    from folding.model.global_config import GlobalConfig
    from folding.model.multimer.runner import compiled_pass

    global_config = GlobalConfig(dtype=dtype, chunk_bytes=chunk_mb << 20,
                                 attention="xla" if attention == "xla" else "auto")
    config, params, inputs, prev = abstract_multimer_pass(length, global_config)
    start = time.perf_counter()
    traced = jax.make_jaxpr(compiled_pass(config.network, global_config))(
        params, None, inputs, prev)
    return {"model": config.name, "length": length, "chunk_mb": chunk_mb, "dtype": dtype,
            "attention": attention, **count_steps(traced.jaxpr),
            "trace_s": round(time.perf_counter() - start, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", default="384,1000")
    parser.add_argument("--chunk-mb", default="256,4096")
    parser.add_argument("--dtype", default="bfloat16", choices=("float32", "bfloat16"))
    parser.add_argument("--attention", default="cudnn", choices=("cudnn", "pallas", "xla"))
    parser.add_argument("--multimer", action="store_true",
                        help="trace model_1_multimer_v3 instead of model_1_ptm")
    args = parser.parse_args()
    if args.attention != "xla":
        pretend_kernels_available(args.attention)
    steps = multimer_pass_steps if args.multimer else pass_steps
    for length in (int(x) for x in args.lengths.split(",") if x):
        for chunk_mb in (int(x) for x in args.chunk_mb.split(",") if x):
            print(json.dumps(steps(length, chunk_mb, args.dtype, args.attention)), flush=True)


if __name__ == "__main__":
    main()
