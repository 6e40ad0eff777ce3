"""The attention core at the model's shapes: plain XLA, cuDNN and our Pallas kernel.

    python3 benchmarks/attention_kernels.py [--length 1000] [--configs 64x64x4x2,...]

For each attention of the trunk (MSA row with pair bias, MSA column, triangle, extra-MSA
row with head size 8, template triangle with head size 16) at sequence length
``--length`` (bfloat16, a batch of items as one chunk of the model would run, a random
key mask with one fully masked item), it times each implementation (median of 10 warm
calls) and prints its largest error against a float32 evaluation of the plain path.
Pallas configurations are ``block_q x block_k x num_warps x num_stages``. On CPU
(no GPU) it runs small sizes, the Pallas kernel in Pallas' interpreter.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _time(fn, *args) -> float:
    import jax

    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(10):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--length", type=int, default=1000)
    parser.add_argument("--msa-rows", type=int, default=508)
    parser.add_argument("--configs", default="64x64x4x2,128x64x4x2,64x32x4x3,128x32x4x2,"
                                             "128x128x8x2,64x128x4x2")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import jax
    import jax.numpy as jnp

    from folding.model.attention_core import attend, cuda_flash_attention_available
    from folding.model.pallas_attention import KernelBlocks, flash_attention

    on_gpu = cuda_flash_attention_available()
    length, rows = (args.length, args.msa_rows) if on_gpu else (40, 24)
    configs = [KernelBlocks(*map(int, c.split("x"))) for c in args.configs.split(",") if c]
    if not on_gpu:
        configs = [KernelBlocks(16, 16, 4, 2)]
    # (what, batch, queries/keys, heads, head size, pair bias)
    cases = [("MSA row", 128, length, 8, 32, True), ("MSA column", 256, rows, 8, 32, False),
             ("triangle", 128, length, 4, 32, True), ("extra MSA row", 256, length, 8, 8, True),
             ("template triangle", 128, length, 4, 16, True)]
    rng = np.random.default_rng(0)
    records = []
    for what, batch, seq, heads, dim, pair in cases:
        if not on_gpu:
            batch = 3
        q = jnp.asarray(rng.normal(size=(batch, seq, heads, dim)) * dim ** -0.5, jnp.bfloat16)
        k, v = (jnp.asarray(rng.normal(size=(batch, seq, heads, dim)), jnp.bfloat16)
                for _ in range(2))
        keep = rng.random((batch, seq)) > 0.1
        keep[0] = False
        key_bias = jnp.asarray(np.where(keep, 0.0, -1e9), jnp.float32)
        shared = (jnp.asarray(rng.normal(size=(heads, seq, seq)), jnp.bfloat16) if pair
                  else None)
        bias4 = key_bias[:, None, None, :]
        f32 = [None if x is None else x.astype(jnp.float32) for x in (q, k, v, bias4, shared)]
        exact = np.asarray(jax.jit(lambda *a: attend(*a, implementation="xla"))(*f32))
        impls = {"xla": jax.jit(lambda q, k, v, b, s: attend(q, k, v, b[:, None, None, :], s,
                                                             "xla"))}
        if on_gpu:
            impls["cudnn"] = jax.jit(lambda q, k, v, b, s: attend(
                q, k, v, b[:, None, None, :], s, "cudnn"))
        for blocks in configs:
            b = blocks
            name = f"pallas {b.block_q}x{b.block_k}x{b.num_warps}x{b.num_stages}"
            impls[name] = jax.jit(lambda q, k, v, b, s, blocks=blocks: flash_attention(
                q, k, v, b, s, blocks, interpret=not on_gpu))
        for name, fn in impls.items():
            try:
                out = np.asarray(fn(q, k, v, key_bias, shared), np.float32)
                ms = _time(fn, q, k, v, key_bias, shared) if on_gpu else None
                record = {"what": what, "impl": name, "shape": [batch, seq, heads, dim],
                          "ms": ms, "max_err_vs_f32": float(np.abs(out - exact).max()),
                          "finite": bool(np.isfinite(out).all())}
            except Exception as error:  # one failing configuration does not stop the rest
                record = {"what": what, "impl": name, "error": f"{type(error).__name__}: "
                                                             f"{str(error)[:200]}"}
            records.append(record)
            print(json.dumps(record), flush=True)
    if args.out:
        args.out.write_text("\n".join(json.dumps(r) for r in records) + "\n")


if __name__ == "__main__":
    main()
