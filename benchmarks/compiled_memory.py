"""XLA's own memory figures for one model iteration, from compilation alone (no run).

    python3 benchmarks/compiled_memory.py --lengths 256,512 [--dtype bfloat16]
        [--chunk-mb 16] [--clusters 512] [--extra 5120] [--templates 4] [--peak 12]

Compiles one recycling iteration of model_1_ptm (abstract inputs: nothing is
allocated) on the default backend and prints ``memory_analysis()`` of the executable:
arguments, outputs, the temporaries, which XLA places in one buffer (on a GPU the
single allocation that must fit beside everything else), the outputs held in the
donated recycled state's buffers, and what a pass needs (arguments + temporaries +
outputs - those), the figure ``folding model run`` checks before running, and what the
pair heads (distogram and PAE, run once on the last pass's pair) need. Comparing the
temporaries of two versions of the model at the same shape shows what a change saves;
on CPU the buffer assignment differs from a GPU's, so the figures there are a proxy. ``--peak N``
also lists the N largest buffers alive at the peak of the schedule, with the model
operation that made each (from XLA's buffer live-range dump).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def abstract_pass(length: int, global_config, clusters: int = 512, extra: int = 5120,
                  templates: int = 4) -> tuple:
    """model_1_ptm's config and one pass's arguments as shapes (nothing allocated):
    (config, params, inputs, recycled state)."""
    import jax
    import jax.numpy as jnp

    from folding.model.config import model_config
    from folding.model.features import ModelInputs, RecycledState
    from folding.model.params import nest, parameter_shapes

    config = model_config("model_1_ptm")
    spec = jax.ShapeDtypeStruct
    f32, i32 = jnp.float32, jnp.int32
    n, e, t, r = clusters, extra, templates, length
    inputs = ModelInputs(
        aatype=spec((r,), i32), residue_index=spec((r,), i32), seq_mask=spec((r,), f32),
        target_feat=spec((r, 22), f32), msa_feat=spec((n, r, 49), f32),
        msa_mask=spec((n, r), f32), extra_msa=spec((e, r), i32),
        extra_has_deletion=spec((e, r), f32), extra_deletion_value=spec((e, r), f32),
        extra_msa_mask=spec((e, r), f32), template_aatype=spec((t, r), i32),
        template_all_atom_positions=spec((t, r, 37, 3), f32),
        template_all_atom_masks=spec((t, r, 37), f32), template_mask=spec((t,), f32),
        template_pseudo_beta=spec((t, r, 3), f32),
        template_pseudo_beta_mask=spec((t, r), f32))
    embeddings = config.network.trunk.embeddings
    zeros = RecycledState.zeros(r, embeddings.msa_channel, embeddings.pair_channel,
                                global_config.compute_dtype)
    prev = jax.tree_util.tree_map(lambda x: spec(x.shape, x.dtype), zeros)
    params = nest({k: spec(v, f32) for k, v in parameter_shapes(config.network).items()})
    return config, params, inputs, prev


def abstract_multimer_pass(length: int, global_config, templates: int = 4) -> tuple:
    """model_1_multimer_v3's config and one pass's arguments as shapes, the whole
    length one complex at its sampled sizes (508 centres, 2,048 extra rows):
    (config, params, inputs, recycled state)."""
    import jax
    import jax.numpy as jnp

    from folding.model.features import RecycledState
    from folding.model.multimer.config import multimer_model_config
    from folding.model.multimer.features import MultimerInputs
    from folding.model.multimer.params import multimer_parameter_shapes
    from folding.model.params import nest

    config = multimer_model_config("model_1_multimer_v3")
    spec = jax.ShapeDtypeStruct
    f32, i32 = jnp.float32, jnp.int32
    r, s, e, t = length, config.sampling.num_msa, config.sampling.num_extra_msa, templates
    residues = {name: spec((r,), i32) for name in
                ("aatype", "residue_index", "asym_id", "entity_id", "sym_id")}
    inputs = MultimerInputs(
        **residues, seq_mask=spec((r,), f32), msa=spec((s, r), i32),
        deletion_matrix=spec((s, r), f32), msa_mask=spec((s, r), f32),
        cluster_profile=spec((s, r, 23), f32), cluster_deletion_mean=spec((s, r), f32),
        extra_msa=spec((e, r), i32), extra_deletion_matrix=spec((e, r), f32),
        extra_msa_mask=spec((e, r), f32), template_aatype=spec((t, r), i32),
        template_all_atom_positions=spec((t, r, 37, 3), f32),
        template_all_atom_mask=spec((t, r, 37), f32))
    params = nest({k: spec(v, f32)
                   for k, v in multimer_parameter_shapes(config.network).items()})
    embeddings = config.network.trunk.embeddings
    zeros = RecycledState.zeros(r, embeddings.msa_channel, embeddings.pair_channel,
                                global_config.compute_dtype)
    prev = jax.tree_util.tree_map(lambda x: spec(x.shape, x.dtype), zeros)
    return config, params, inputs, prev


def _gib(stats) -> dict:
    """``memory_analysis()`` in GiB, and what a pass needs (arguments + temporaries +
    outputs not held in donated buffers)."""
    gib = 2.0 ** 30
    return {"argument_gib": round(stats.argument_size_in_bytes / gib, 3),
            "output_gib": round(stats.output_size_in_bytes / gib, 3),
            "temp_gib": round(stats.temp_size_in_bytes / gib, 3),
            "alias_gib": round(stats.alias_size_in_bytes / gib, 3),
            "needed_gib": round((stats.argument_size_in_bytes + stats.temp_size_in_bytes
                                 + stats.output_size_in_bytes
                                 - stats.alias_size_in_bytes) / gib, 3)}


def compiled_multimer_memory(length: int, dtype: str, chunk_mb: int, templates: int) -> dict:
    """:func:`compiled_memory` for one model_1_multimer_v3 pass and its pair heads."""
    import jax

    from folding.model.global_config import GlobalConfig
    from folding.model.multimer import runner

    global_config = GlobalConfig(dtype=dtype, chunk_bytes=chunk_mb << 20)
    config, params, inputs, prev = abstract_multimer_pass(length, global_config, templates)
    start = time.perf_counter()
    with jax.default_matmul_precision(global_config.resolved_matmul_precision):
        heads = runner.compiled_pair_heads(config.network, global_config).lower(
            params, None, prev.prev_pair, inputs.seq_mask, inputs.asym_id).compile()
        compiled = runner.compiled_pass(config.network, global_config).lower(
            params, None, inputs, prev).compile()
    return {"model": config.name, "length": length, "dtype": dtype, "chunk_mb": chunk_mb,
            "templates": templates, "backend": jax.default_backend(),
            "compile_s": round(time.perf_counter() - start, 1),
            **_gib(compiled.memory_analysis()),
            "pair_heads_needed_gib": _gib(heads.memory_analysis())["needed_gib"]}


def compiled_memory(length: int, dtype: str, chunk_mb: int, clusters: int, extra: int,
                    templates: int) -> dict:
    import jax

    from folding.model.global_config import GlobalConfig
    from folding.model.runner import compiled_iteration, compiled_pair_heads

    global_config = GlobalConfig(dtype=dtype, chunk_bytes=chunk_mb << 20)
    config, params, inputs, prev = abstract_pass(length, global_config, clusters, extra,
                                                 templates)
    start = time.perf_counter()
    with jax.default_matmul_precision(global_config.resolved_matmul_precision):
        # As the runner compiles them: the pair heads (run once, on the last pass's
        # pair) and the pass, whose recycled state is donated to the next one. The
        # pass is compiled last, so that ``--peak`` reads its dump.
        heads = compiled_pair_heads(config.network, global_config).lower(
            params, None, prev.prev_pair, inputs.seq_mask).compile()
        compiled = compiled_iteration(config.network, global_config).lower(
            params, None, inputs, prev).compile()
    seconds = time.perf_counter() - start
    return {"length": length, "dtype": dtype, "chunk_mb": chunk_mb, "clusters": clusters,
            "extra": extra, "templates": templates, "backend": jax.default_backend(),
            "compile_s": round(seconds, 1), **_gib(compiled.memory_analysis()),
            "pair_heads_needed_gib": _gib(heads.memory_analysis())["needed_gib"]}


def peak_buffers(dump_dir: Path, count: int) -> list[str]:
    """The ``count`` largest buffers alive at the schedule's peak, from XLA's dump."""
    ranges = sorted(dump_dir.glob("*jit_apply_fn*after_optimizations-live-range.txt"))
    hlo = sorted(dump_dir.glob("*jit_apply_fn*after_optimizations.txt"))
    if not ranges or not hlo:
        return ["(no live-range dump found)"]
    text = ranges[-1].read_text()
    section = text.split("(peak):", 1)[1].split("Stack trace", 1)[0]
    live = re.findall(r"^\s+(\S+)\{\S*\}: (\d+) bytes", section, re.M)
    module = hlo[-1].read_text()
    rows = []
    for name, size in sorted(live, key=lambda x: -int(x[1]))[:count]:
        line = re.search(rf"%{re.escape(name)} = (\S+) .*", module)
        shape = line.group(1) if line else "?"
        op = re.search(r'op_name="([^"]*)"', line.group(0)) if line else None
        where = op.group(1).split("/while/body/closed_call/")[-1] if op else "(argument)"
        rows.append(f"{int(size) / 2**20:9.1f} MiB  {shape:28s} {name:28s} {where}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", default="256")
    parser.add_argument("--dtype", default="bfloat16", choices=("float32", "bfloat16"))
    parser.add_argument("--chunk-mb", type=int, default=16)
    parser.add_argument("--clusters", type=int, default=512)
    parser.add_argument("--extra", type=int, default=5120)
    parser.add_argument("--templates", type=int, default=4)
    parser.add_argument("--multimer", action="store_true",
                        help="model_1_multimer_v3 at its sampled sizes (--clusters and "
                             "--extra do not apply)")
    parser.add_argument("--peak", type=int, default=0,
                        help="list this many of the largest buffers alive at the peak")
    args = parser.parse_args()
    dump_dir = None
    if args.peak:
        # Read by XLA when JAX initialises its backend (below, inside compiled_memory).
        dump_dir = Path(tempfile.mkdtemp(prefix="compiled_memory_"))
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                                   + f" --xla_dump_to={dump_dir} --xla_dump_hlo_as_text")
    for length in (int(x) for x in args.lengths.split(",") if x):
        if args.multimer:
            row = compiled_multimer_memory(length, args.dtype, args.chunk_mb, args.templates)
        else:
            row = compiled_memory(length, args.dtype, args.chunk_mb, args.clusters,
                                  args.extra, args.templates)
        print(json.dumps(row), flush=True)
        if dump_dir is not None:
            print("\n".join(peak_buffers(dump_dir, args.peak)), flush=True)
            shutil.rmtree(dump_dir)
            dump_dir.mkdir()


if __name__ == "__main__":
    main()
