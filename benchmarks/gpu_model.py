"""One monomer model on one GPU, ours beside the reference: time, peak memory, TFLOP/s.

    python3 benchmarks/gpu_model.py [--lengths 128,384,1000,2500] [--deadline 540]
        [--out results.jsonl] [--variants ours_bf16,ref_stock,ours_fp32,ref_fp32]
        [--model model_1_ptm] [--num-recycle 3] [--clusters 512] [--extra 5120]
        [--chunk-mb N] [--check-attention]

Features: for each length the parent process tiles one small target processed by the
reference's own pipeline (a synthetic homologue-like MSA and 4 random templates) to
``--clusters`` MSA clusters (508 rows + 4 template torsion rows for model_1), 5,120
extra-MSA rows and 4 templates, every mask on: a full-depth MSA, so neither side
skips padding. Timing does not depend on the values. Random parameters in the official
layout; model_1_ptm with 3 recycles (4 passes). Each variant runs in a fresh process
(its own compile caches and peak memory), times ``predict`` twice (the first call
compiles) and reports the peak device memory (``memory_stats()['peak_bytes_in_use']``;
peak RSS on CPU):

* ``ours_fp32``: ``GlobalConfig(dtype="float32")``: real float32 (matmul precision
  "highest"), plain attention;
* ``ours_bf16``: ``GlobalConfig(dtype="bfloat16")``: the fast mode, cuDNN attention on
  a GPU (``attention="auto"``);
* ``ref_stock``: the reference as ColabFold runs it: bfloat16 global config, with
  colabfold-kernels' fused Pallas kernels on a GPU (``dispatch()``: use_pallas,
  kernel_backend "pallas"), official (unfused) monomer weights;
* ``ref_fp32``: the reference with ``bfloat16=False`` and no fused kernels (its
  matmuls at JAX's default precision: TF32 on an NVIDIA GPU).

On request (``--variants``): ``ours_tf32`` (float32 at the "default" precision, as
``ref_fp32``), ``ours_bf16_xla`` and ``ref_bf16_xla`` (bfloat16 without cuDNN attention
or colabfold-kernels; also run automatically when ``ours_bf16``/``ref_stock`` fail),
``ours_bf16_pallas`` and ``ours_bf16_cudnn`` (bfloat16 with our Pallas attention kernel
or cuDNN's, whatever "auto" would choose).

Our chunk budget is ``--chunk-mb``; by default on a GPU the memory plan's choice for
these shapes on this device (what ``folding model run`` uses: 4,096 MiB at L = 1,000 on
an 80 GB card; at most 256 MiB before 2026-11-23), on CPU GlobalConfig's. The runs of
2026-11-22 used ``--chunk-mb 4096`` (then the default).

TFLOP/s: XLA's cost analysis counts the body of a loop once, not once per trip, and
both models run their 48 Evoformer blocks, chunked attention and templates in loops,
so the whole iteration's ``cost_analysis()`` undercounts by more than 10x. The
figure here is the trunk's matmul FLOPs counted per einsum (:func:`model_flops`, the
same count for every variant since all do the same arithmetic) times the passes,
divided by the warm time; XLA's figure of one pass (loop bodies once) is recorded too
as ``xla_flops_loops_once``.

``--deadline`` (seconds from the start) bounds the whole run: a variant that would
start too late is skipped, one still running at the deadline is killed, and the table
is printed with what finished. Results go to ``--out`` (JSON lines, one per variant
and length). ``--check-attention`` first compares cuDNN's fused attention with the
plain path at the model's head sizes (8, 16, 32) and prints the max errors and times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:                  # `folding` without an install (the GPU box)
    sys.path.insert(0, str(ROOT))
VARIANTS = ("ours_bf16", "ref_stock", "ours_fp32", "ref_fp32")
#: Run in place of a variant that fails (not for lack of memory or time), and used for
#: its ratios: ours in bfloat16 without cuDNN attention; the reference in bfloat16
#: without colabfold-kernels.
FALLBACKS = {"ours_bf16": "ours_bf16_xla", "ref_stock": "ref_bf16_xla"}
#: On request only: ours in float32 at the "default" matmul precision (TF32 on an
#: NVIDIA GPU, as the reference's float32 runs), ours in bfloat16 with a given kernel.
EXTRA_VARIANTS = ("ours_tf32", "ours_bf16_pallas", "ours_bf16_cudnn")
# Sizes of the small processed example that is tiled up (distinct from every fixed
# feature dimension: 1, 2, 3, 4, 14, 22, 37, 49).
_SMALL_L, _SMALL_CLUSTERS, _SMALL_EXTRA = 17, 13, 29


# --- inputs ---------------------------------------------------------------------------

def _small_example(model_name: str, num_recycle: int) -> dict[str, np.ndarray]:
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT / "tests" / "model"))
    import oracle
    from model_cases import random_templates, synthetic_raw

    rng = np.random.default_rng(0)
    length, num_templates = _SMALL_L, 4
    raw = synthetic_raw(length, 300, seed=0)
    raw.update(random_templates(length, num_templates, rng))
    return oracle.process_features(model_name, raw, num_recycle=num_recycle,
                                   max_msa_clusters=_SMALL_CLUSTERS,
                                   max_extra_msa=_SMALL_EXTRA)


def _tile(array: np.ndarray, sizes: dict[int, int]) -> np.ndarray:
    """Repeat ``array`` cyclically along every non-leading axis whose size is a key."""
    for axis in range(1, array.ndim):
        new = sizes.get(array.shape[axis])
        if new is not None:
            array = np.take(array, np.arange(new) % array.shape[axis], axis=axis)
    return array


def make_inputs(args, folder: Path) -> tuple[dict[int, Path], Path, dict]:
    """Features per length and one parameter file, written under ``folder``."""
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT / "tests" / "model"))
    import oracle
    from model_cases import WEIGHT_SCALE

    small = _small_example(args.model, args.num_recycle)
    msa_rows = small["msa_feat"].shape[1]
    reserved = _SMALL_CLUSTERS - msa_rows          # rows kept for template torsions
    clusters = args.clusters - reserved
    params = oracle.random_params(args.model, small, scale=WEIGHT_SCALE)
    params_path = folder / "params.npz"
    np.savez(params_path, **{f"{m}//{n}": v for m, d in params.items() for n, v in d.items()})
    paths = {}
    for length in args.lengths:
        sizes = {_SMALL_L: length, msa_rows: clusters, _SMALL_EXTRA: args.extra}
        big = {k: _tile(v, sizes) for k, v in small.items()}
        big["residue_index"] = np.broadcast_to(np.arange(length, dtype=np.int32),
                                               big["aatype"].shape).copy()
        big["seq_length"] = np.full_like(small["seq_length"], length)
        for mask in ("msa_mask", "msa_row_mask", "extra_msa_mask", "extra_msa_row_mask",
                     "seq_mask"):
            big[mask] = np.ones_like(big[mask])
        paths[length] = folder / f"features_{length}.npz"
        np.savez(paths[length], **big)
    shapes = {"msa_rows": clusters + reserved, "extra_rows": args.extra,
              "templates": int(small["template_aatype"].shape[1])}
    return paths, params_path, shapes


def model_flops(length: int, msa_rows: int, extra_rows: int, templates: int) -> float:
    """Matmul FLOPs of one pass of the monomer trunk (Evoformer, extra MSA, templates).

    Counted per einsum at the paper's sizes (c_m 256, c_z 128, c_e 64, template pair
    64; 48, 4 and 2 blocks); the structure module and heads (under 1% at L >= 128)
    are left out. 2 FLOPs per multiply-add.
    """
    L = length

    def pair_block(c: int, heads: int, tri_channels: int) -> float:
        tri_mul = 2 * (6 * 2 * L * L * c * tri_channels + 2 * L ** 3 * tri_channels)
        tri_att = 2 * (5 * 2 * L * L * c * c + 2 * L * L * c * heads + 4 * L ** 3 * c)
        transition = 2 * 2 * L * L * c * 4 * c
        return tri_mul + tri_att + transition

    def msa_block(n: int, c_m: int, global_column: bool) -> float:
        row = 5 * 2 * n * L * c_m * c_m + 2 * L * L * 128 * 8 + 4 * n * L * L * c_m
        if global_column:
            column = 2 * n * L * c_m * (c_m + 2 * c_m // 8) + 2 * 2 * n * L * c_m
        else:
            column = 5 * 2 * n * L * c_m * c_m + 4 * L * n * n * c_m
        transition = 2 * 2 * n * L * c_m * 4 * c_m
        opm = 2 * 2 * n * L * c_m * 32 + 2 * n * L * L * 32 * 32 + 2 * L * L * 1024 * 128
        return row + column + transition + opm + pair_block(128, 4, 128)

    evoformer = 48 * msa_block(msa_rows, 256, False)
    extra = 4 * msa_block(extra_rows, 64, True)
    template = templates * 2 * pair_block(64, 4, 64) if templates else 0.0
    return float(evoformer + extra + template)


# --- workers --------------------------------------------------------------------------

def _peak_memory() -> tuple[float, str]:
    import jax

    stats = jax.devices()[0].memory_stats() if jax.devices()[0].platform != "cpu" else None
    if stats and "peak_bytes_in_use" in stats:
        return stats["peak_bytes_in_use"] / 2**30, "device"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, "host_rss"


def _cost_flops(lowered) -> float | None:
    try:
        cost = lowered.cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        return float(cost["flops"])
    except Exception:  # an optional figure
        return None


def _timed_runs(predict, deadline: float, warm: bool) -> dict:
    """Time ``predict(stamps)`` (which appends a time stamp after each pass) twice.

    The first call compiles during its first pass; its later passes already run
    compiled code, so ``warm_est_s`` (passes x their median) estimates the warm time
    even when the second call is skipped (``--no-warm``, or the deadline is near).
    """
    stamps: list[float] = []
    start = time.perf_counter()
    predict(stamps)
    first = time.perf_counter() - start
    passes = np.diff([start, *stamps]).tolist()
    later = float(np.median(passes[1:])) if len(passes) > 1 else None
    result = {"first_s": first, "warm_s": None, "first_call_pass_s": passes,
              "warm_est_s": later * len(passes) if later else None,
              "compile_est_s": passes[0] - later if later else None}
    if warm and time.time() + 0.8 * first < deadline:
        start = time.perf_counter()
        predict([])
        result["warm_s"] = time.perf_counter() - start
    return result


def _profile(predict, variant: str, args) -> None:
    """One more (warm) call under JAX's profiler, its Perfetto trace in ``--profile``."""
    if args.profile is None:
        return
    import jax

    with jax.profiler.trace(str(args.profile / variant), create_perfetto_trace=True):
        predict([])


def _worker_ours(variant: str, features_path: Path, params_path: Path, args) -> dict:
    import dataclasses

    import jax

    from folding.model.config import model_config
    from folding.model.features import RecycledState, load_processed
    from folding.model.global_config import GlobalConfig
    from folding.model.memory_plan import device_memory, plan_memory
    from folding.model.params import load_params
    from folding.model.runner import ModelRunner, memory_shape

    on_gpu = jax.devices()[0].platform == "gpu"
    global_config = GlobalConfig(
        dtype="float32" if variant in ("ours_fp32", "ours_tf32") else "bfloat16",
        matmul_precision="default" if variant == "ours_tf32" else "auto",
        attention={"ours_bf16_xla": "xla", "ours_bf16_pallas": "pallas",
                   "ours_bf16_cudnn": "cudnn"}.get(variant, "auto"))
    config = dataclasses.replace(model_config(args.model, num_recycle=args.num_recycle),
                                 global_config=global_config)
    features = load_processed(features_path, config.uses_templates)
    if args.chunk_mb is not None:
        chunk_bytes = int(args.chunk_mb * 2**20)
    elif on_gpu:  # what `folding model run` would choose here
        chunk_bytes = plan_memory(memory_shape(config, features, False),
                                  device_memory()).chunk_bytes
    else:
        chunk_bytes = global_config.chunk_bytes
    config = dataclasses.replace(config, global_config=dataclasses.replace(
        global_config, chunk_bytes=chunk_bytes))
    global_config = config.global_config
    params = load_params(params_path, config.network, args.model)
    runner = ModelRunner(config, params, "benchmark")
    del params
    outputs = {}

    def predict(stamps):
        outputs["p"] = runner.predict(
            features, callback=lambda r, out, change: stamps.append(time.perf_counter()))
        jax.block_until_ready(outputs["p"].output.plddt)

    result = _timed_runs(predict, args.worker_deadline, not args.no_warm)
    _profile(predict, variant, args)
    assert outputs["p"].num_recycles == args.num_recycle
    trimmed = features.trimmed() if global_config.trim_msa_padding else features
    emb = config.network.trunk.embeddings
    prev = RecycledState.zeros(trimmed.num_res, emb.msa_channel, emb.pair_channel,
                               global_config.compute_dtype)
    with jax.default_matmul_precision(global_config.resolved_matmul_precision):
        lowered = runner._apply.lower(runner.params, None, trimmed.inputs(0), prev)
    result.update({
        "mean_plddt": float(outputs["p"].output.mean_plddt),
        "xla_flops_loops_once": _cost_flops(lowered),
        "settings": {"dtype": global_config.dtype, "attention": global_config.attention,
                     "matmul_precision": global_config.resolved_matmul_precision,
                     "chunk_mb": global_config.chunk_bytes / 2**20},
    })
    return result


def _worker_reference(variant: str, features_path: Path, params_path: Path, args) -> dict:
    import jax
    from alphafold.model import config as af_config
    from alphafold.model import model as af_model
    from alphafold.model import utils

    sys.path.insert(0, str(ROOT / "tests"))
    import oracle

    cfg = af_config.model_config(args.model)
    oracle._unfuse(cfg.model)                          # the official monomer layout
    cfg.model.num_recycle = args.num_recycle
    cfg.data.common.num_recycle = args.num_recycle
    cfg.data.eval.num_ensemble = 1
    cfg.model.recycle_early_stop_tolerance = 0.0
    gc = cfg.model.global_config
    gc.bfloat16_output = False
    settings = {}
    if variant in ("ref_stock", "ref_bf16_xla"):
        if variant == "ref_stock" and jax.devices()[0].platform == "gpu":
            from colabfold_kernels import dispatch
            gc.update(dispatch())
        settings = {"bfloat16": bool(gc.bfloat16), "use_pallas": bool(gc.use_pallas),
                    "kernel_backend": gc.kernel_backend,
                    "compute_capability": gc.compute_capability,
                    "subbatch_size": gc.subbatch_size}
    else:
        gc.bfloat16 = False
        gc.use_pallas = False
        settings = {"bfloat16": False, "use_pallas": False, "subbatch_size": gc.subbatch_size}
    with np.load(params_path) as data:
        params = utils.flat_params_to_haiku({k: data[k] for k in data.files}, fuse=False)
    with np.load(features_path) as data:
        features = {k: data[k] for k in data.files}
    runner = af_model.RunModel(cfg, params)
    outputs = {}

    def predict(stamps):
        outputs["p"] = runner.predict(
            features, random_seed=0, callback=lambda res, r: stamps.append(time.perf_counter()))
        jax.block_until_ready(outputs["p"])

    result = _timed_runs(predict, args.worker_deadline, not args.no_warm)
    _profile(predict, variant, args)
    prediction, last = outputs["p"]
    assert last == args.num_recycle, last
    result["mean_plddt"] = float(np.mean(prediction["plddt"]))
    result["settings"] = settings
    return result


def _worker_attention() -> dict:
    """cuDNN fused attention against the plain path at the model's head sizes."""
    import jax
    import jax.numpy as jnp

    from folding.model.attention_core import (
        attend,
        cuda_flash_attention_available,
        dot_product_attention,
        mask_bias,
    )

    fused = "cudnn" if cuda_flash_attention_available() else "xla"
    rng = np.random.default_rng(0)
    rows = []
    # (what, batch, length, heads, head size, pair bias)
    for what, batch, length, heads, head_dim, pair in (
            ("extra MSA row", 64, 384, 8, 8, True), ("template triangle", 64, 384, 4, 16, True),
            ("MSA row", 64, 384, 8, 32, True), ("MSA column", 384, 512, 8, 32, False),
            ("triangle", 64, 384, 4, 32, True), ("odd length", 5, 37, 8, 32, True)):
        if fused == "xla":                  # no GPU: JAX's reference only, small sizes
            batch, length = min(batch, 4), min(length, 64)
        q = rng.normal(size=(batch, length, heads, head_dim)) * head_dim ** -0.5
        k, v = (rng.normal(size=(batch, length, heads, head_dim)) for _ in range(2))
        mask = (rng.random((batch, length)) > 0.2).astype(np.float32)
        mask[0] = 0.0
        mask[1:, 0] = 1.0
        bias = mask_bias(jnp.asarray(mask), jnp.bfloat16)[:, None, None, :]
        shared = (jnp.asarray(rng.normal(size=(heads, length, length)), jnp.bfloat16)
                  if pair else None)
        q16, k16, v16 = (jnp.asarray(x, jnp.bfloat16) for x in (q, k, v))
        up = [None if x is None else x.astype(jnp.float32) for x in (q16, k16, v16, bias, shared)]
        exact = np.asarray(attend(*up, implementation="xla"))
        timing = {}
        results = {}
        try:
            for name, fn in (("plain", lambda *a: attend(*a, implementation="xla")),
                             (fused, lambda *a: dot_product_attention(*a,
                                                                      implementation=fused))):
                jitted = jax.jit(fn)
                out = jax.block_until_ready(jitted(q16, k16, v16, bias, shared))
                start = time.perf_counter()
                for _ in range(5):
                    out = jax.block_until_ready(jitted(q16, k16, v16, bias, shared))
                timing[name] = (time.perf_counter() - start) / 5 * 1e3
                results[name] = np.asarray(out, np.float32)
        except Exception as error:  # report the head size that fails, test the others
            rows.append({"what": what, "head_dim": head_dim, "fused": fused,
                         "error": f"{type(error).__name__}: {str(error)[:300]}"})
            continue
        uniform = np.broadcast_to(np.asarray(v16, np.float32)[0].mean(0), exact[0].shape)
        rows.append({
            "what": what, "head_dim": head_dim, "shape": [batch, length, heads],
            "fused": fused,
            "max_err_fused_vs_f32": float(np.abs(results[fused] - exact).max()),
            "max_err_plain_bf16_vs_f32": float(np.abs(results["plain"] - exact).max()),
            "max_err_fused_vs_plain": float(np.abs(results[fused] - results["plain"]).max()),
            "masked_row_err_fused": float(np.abs(results[fused][0] - uniform).max()),
            "finite": bool(np.isfinite(results[fused]).all()),
            "ms_plain": timing["plain"], "ms_fused": timing[fused]})
    return {"attention": rows, "device": str(jax.devices()[0])}


def worker_main(args) -> None:
    if args.worker == "attention":
        result = _worker_attention()
    else:
        run = _worker_reference if args.worker.startswith("ref") else _worker_ours
        result = run(args.worker, args.features, args.params, args)
        peak, kind = _peak_memory()
        result.update({"peak_gib": peak, "peak_kind": kind})
    import jax

    result["device"] = str(jax.devices()[0].device_kind)
    print("RESULT " + json.dumps(result), flush=True)


# --- parent ---------------------------------------------------------------------------

def _run_worker(variant: str, args, deadline: float, features: Path | None = None,
                params: Path | None = None, length: int | None = None) -> dict:
    remaining = deadline - time.time()
    if remaining < 20:
        return {"status": "skipped", "reason": "deadline"}
    command = [sys.executable, __file__, "--worker", variant, "--model", args.model,
               "--num-recycle", str(args.num_recycle), "--worker-deadline", str(deadline)]
    if features is not None:
        command += ["--features", str(features), "--params", str(params)]
    if args.chunk_mb is not None:
        command += ["--chunk-mb", str(args.chunk_mb)]
    if args.no_warm:
        command.append("--no-warm")
    profile = None if args.profile is None else args.profile / f"L{length}"
    if profile is not None:
        command += ["--profile", str(profile)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    env.pop("JAX_PLATFORMS", None) if args.platform is None else env.update(
        JAX_PLATFORMS=args.platform)
    env.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.95")
    if profile is not None and variant != "attention":
        # The optimised HLO names each kernel's source ops (module scopes) for the trace.
        dump = profile / variant / "hlo"
        env["XLA_FLAGS"] = " ".join([env.get("XLA_FLAGS", ""), f"--xla_dump_to={dump}",
                                     "--xla_dump_hlo_as_text",
                                     # CUDA graphs would hide each kernel's HLO op.
                                     "--xla_gpu_enable_command_buffer="]).strip()
    start = time.time()
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, env=env,
                              timeout=remaining)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "wall_s": time.time() - start}
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr or done.stdout)[-1500:]
        oom = "RESOURCE_EXHAUSTED" in done.stderr or "out of memory" in done.stderr.lower()
        return {"status": "oom" if oom else "error", "rc": done.returncode, "error": tail,
                "wall_s": time.time() - start}
    return {"status": "ok", "wall_s": time.time() - start, **json.loads(lines[-1][7:])}


def _ratio(a: dict | None, b: dict | None, key: str) -> str:
    if not a or not b or not a.get(key) or not b.get(key):
        return "-"
    return f"{a[key] / b[key]:.2f}"


def _fmt(value, digits=1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", default="128,384,1000,2500")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--model", default="model_1_ptm")
    parser.add_argument("--num-recycle", type=int, default=3)
    parser.add_argument("--clusters", type=int, default=512,
                        help="MSA clusters incl. the template torsion rows (model_1/2: 4)")
    parser.add_argument("--extra", type=int, default=5120, help="extra-MSA rows")
    parser.add_argument("--chunk-mb", type=float, default=None,
                        help="our chunk budget (default: the memory plan's on a GPU, as "
                             "`folding model run` chooses; GlobalConfig's on CPU)")
    parser.add_argument("--deadline", type=float, default=540.0,
                        help="seconds from the start for the whole run")
    parser.add_argument("--out", type=Path, default=None, help="JSON lines results")
    parser.add_argument("--check-attention", action="store_true")
    parser.add_argument("--no-warm", action="store_true",
                        help="skip the second call: warm time estimated from the first "
                             "call's later passes")
    parser.add_argument("--profile", type=Path, default=None,
                        help="folder for a profiler trace of one more warm call per variant "
                             "and the optimised HLO (summarise: benchmarks/gpu_profile.py)")
    parser.add_argument("--platform", default=None, help="JAX_PLATFORMS for the workers")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-deadline", type=float, default=float("inf"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--features", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--params", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return

    t0 = time.time()
    deadline = t0 + args.deadline
    args.lengths = [int(x) for x in str(args.lengths).split(",") if x]
    variants = [v for v in args.variants.split(",") if v]
    known = (*VARIANTS, *FALLBACKS.values(), *EXTRA_VARIANTS)
    unknown = set(variants) - set(known)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; choose from {known}")
    out = args.out.open("a") if args.out else None

    def emit(record: dict) -> None:
        print(json.dumps(record), flush=True)
        if out:
            out.write(json.dumps(record) + "\n")
            out.flush()

    if args.check_attention:
        record = _run_worker("attention", args, deadline)
        emit({"kind": "attention", **record})
        for row in record.get("attention", []):
            if "error" in row:
                print(f"  attention {row['what']:>17} head {row['head_dim']:>2}: "
                      f"{row['fused']} FAILED: {row['error']}", flush=True)
                continue
            print(f"  attention {row['what']:>17} head {row['head_dim']:>2}: {row['fused']} "
                  f"vs f32 {row['max_err_fused_vs_f32']:.2e}, plain bf16 vs f32 "
                  f"{row['max_err_plain_bf16_vs_f32']:.2e}, masked row "
                  f"{row['masked_row_err_fused']:.2e}, finite {row['finite']}, "
                  f"{row['ms_plain']:.2f} ms -> {row['ms_fused']:.2f} ms", flush=True)

    # The parent only prepares inputs: it keeps JAX off the GPU.
    os.environ["JAX_PLATFORMS"] = "cpu"
    table: dict[int, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory(prefix="gpu_model_") as tmp:
        start = time.time()
        paths, params_path, shapes = make_inputs(args, Path(tmp))
        print(f"inputs ready in {time.time() - start:.0f} s: {shapes}", flush=True)
        for length in args.lengths:
            flops = model_flops(length, shapes["msa_rows"], shapes["extra_rows"],
                                shapes["templates"]) * (args.num_recycle + 1)
            table[length] = {}
            queue = list(variants)
            while queue:
                variant = queue.pop(0)
                record = _run_worker(variant, args, deadline, paths[length], params_path,
                                     length)
                warm = record.get("warm_s") or record.get("warm_est_s")
                if warm:
                    record["tflops"] = flops / warm / 1e12
                record.update({"kind": "model", "variant": variant, "length": length,
                               "model": args.model, "num_recycle": args.num_recycle,
                               "model_flops": flops, **shapes})
                table[length][variant] = record
                emit({k: v for k, v in record.items() if k != "error"}
                     if record["status"] == "ok" else record)
                if record["status"] == "error" and variant in FALLBACKS:
                    queue.insert(0, FALLBACKS[variant])
            paths[length].unlink()
    if out:
        out.close()

    print(f"\n{args.model}, {args.num_recycle} recycles, {shapes['msa_rows']} MSA rows, "
          f"{shapes['extra_rows']} extra rows, {shapes['templates']} templates; "
          f"total {time.time() - t0:.0f} s")
    print("| L | variant | status | first s | warm s | warm est s | compile est s | peak GiB "
          "| TFLOP/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for length, rows in table.items():
        for variant, r in rows.items():
            print(f"| {length} | {variant} | {r['status']} | {_fmt(r.get('first_s'))} | "
                  f"{_fmt(r.get('warm_s'), 2)} | {_fmt(r.get('warm_est_s'), 2)} | "
                  f"{_fmt(r.get('compile_est_s'))} | {_fmt(r.get('peak_gib'), 2)} | "
                  f"{_fmt(r.get('tflops'), 1)} |")
    print("\n| L | ref_stock/ours_bf16 | ref_fp32/ours_fp32 | ref_fp32/ours_bf16 | "
          "peak ref_stock/ours_bf16 | first call ref_stock/ours_bf16 |")
    print("|---|---|---|---|---|---|")
    for length, r in table.items():
        def g(name, r=r):
            """A variant's record, its fallback's where it failed, warm estimated if needed."""
            record = r.get(name)
            if (record is None or record["status"] != "ok") and name in FALLBACKS:
                record = r.get(FALLBACKS[name]) or record
            if record and not record.get("warm_s") and record.get("warm_est_s"):
                record = {**record, "warm_s": record["warm_est_s"]}
            return record

        print(f"| {length} | {_ratio(g('ref_stock'), g('ours_bf16'), 'warm_s')} | "
              f"{_ratio(g('ref_fp32'), g('ours_fp32'), 'warm_s')} | "
              f"{_ratio(g('ref_fp32'), g('ours_bf16'), 'warm_s')} | "
              f"{_ratio(g('ref_stock'), g('ours_bf16'), 'peak_gib')} | "
              f"{_ratio(g('ref_stock'), g('ours_bf16'), 'first_s')} |")
    print("warm-time ratios above 1: ours is faster (a failed ours_bf16/ref_stock is "
          "replaced by its fallback, ours_bf16_xla/ref_bf16_xla; a skipped warm call by "
          "the first call's estimate)")


if __name__ == "__main__":
    main()
