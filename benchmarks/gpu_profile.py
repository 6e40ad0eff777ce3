"""Where the GPU time of one model call goes, by model module, from a profiler trace.

    python3 benchmarks/gpu_profile.py PROFILE_DIR [--top 40] [--out summary.json]

``PROFILE_DIR`` is what ``benchmarks/gpu_model.py --profile PROFILE_DIR`` wrote: per
variant a Perfetto trace of one warm call and XLA's optimised HLO. Each GPU kernel of
the trace names its HLO instruction; the HLO's metadata names the JAX ops it came
from, whose names carry the Haiku module path (the same in our model and the
reference, as the parameter names are). The script sums kernel time per module and
prints the variants side by side, so the modules where one side loses show up first.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from collections import defaultdict
from pathlib import Path

NAME = re.compile(r"^\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=")
OP_NAME = re.compile(r"metadata=\{[^}]*?op_name=\"([^\"]+)\"")
CALLS = re.compile(r"calls=%?([\w.\-]+)")
COMPUTATION = re.compile(r"^(?:ENTRY\s+)?%?([\w.\-]+)\s.*\{\s*$")
#: Path components that are JAX transformations, not model modules.
TRANSFORM = re.compile(r"^(jit|pjit|vmap|remat|checkpoint|jvp|transpose|cond|while|body|"
                       r"branch|closed_call|core_call|custom_jvp_call|custom_vjp_call|scan|"
                       r"shard_map|named_call)\b|\(|^\d+$|->|,")
#: The sublayers of the trunk's blocks and the other top-level parts (official names).
SUBLAYERS = ("msa_row_attention_with_pair_bias", "msa_column_attention",
             "msa_column_global_attention", "msa_transition", "outer_product_mean",
             "triangle_multiplication_outgoing", "triangle_multiplication_incoming",
             "triangle_attention_starting_node", "triangle_attention_ending_node",
             "pair_transition", "attention", "template_pointwise_attention",
             "template_embedding_1d", "structure_module", "predicted_lddt_head",
             "predicted_aligned_error_head", "distogram_head", "masked_msa_head",
             "experimentally_resolved_head", "preprocess_1d", "preprocess_msa", "left_single",
             "right_single", "prev_pos_linear", "prev_msa_first_row_norm", "prev_pair_norm",
             "pair_activiations", "extra_msa_activations", "single_activations")


def hlo_op_names(folder: Path) -> dict[str, dict[str, str]]:
    """module -> instruction -> op_name, from the optimised HLO text dumps.

    A fusion often carries no metadata of its own: it gets the op name of the root (else
    the first named instruction) of the computation it calls."""
    names: dict[str, dict[str, str]] = {}
    for path in sorted(folder.glob("*after_optimizations.txt")):
        module = None
        own: dict[str, str] = {}
        calls: dict[str, str] = {}
        computation_op: dict[str, str] = {}
        computation = ""
        with path.open() as handle:
            for line in handle:
                if module is None and line.startswith("HloModule "):
                    module = line.split()[1].rstrip(",")
                    continue
                header = COMPUTATION.match(line)
                if header:
                    computation = header.group(1)
                    continue
                instruction = NAME.match(line)
                if not instruction:
                    continue
                name = instruction.group(1)
                op = OP_NAME.search(line)
                if op:
                    own[name] = op.group(1)
                    if line.lstrip().startswith("ROOT") or computation not in computation_op:
                        computation_op[computation] = op.group(1)
                called = CALLS.search(line)
                if called:
                    calls[name] = called.group(1)
        if module is None:
            continue
        table = names.setdefault(module, {})
        table.update(own)
        for name, computation in calls.items():
            if name not in own and computation in computation_op:
                table[name] = computation_op[computation]
    return names


def op_name_of(event: dict, names: dict[str, dict[str, str]]) -> str | None:
    """The op name of a kernel event: from its ``hlo_op``/``hlo_module`` arguments when
    the trace has them, else from the kernel's name (XLA names a fusion's kernel after
    the instruction, ``.N`` written ``_N``), looked up in the largest module first."""
    args = event.get("args", {})
    module = str(args.get("hlo_module", "")).split("(")[0]
    kernel = str(event.get("name", ""))
    candidates = ([str(args["hlo_op"])] if "hlo_op" in args
                  and not str(args["hlo_op"]).startswith("command_buffer")
                  else [kernel, re.sub(r"_(\d+)$", r".\1", kernel)])
    modules = [module] if module in names else []
    modules += sorted(names, key=lambda m: -len(names[m]))
    for candidate in candidates:
        for name in modules:
            if candidate in names[name]:
                return names[name][candidate]
    return None


def module_key(op_name: str) -> str:
    """"stack/sublayer" of an op name: the trunk stack (evoformer, extra_msa, template or
    other) and the official sublayer the op belongs to."""
    parts = [p for p in op_name.split("/") if p and not TRANSFORM.search(p)]
    text = "/".join(parts)
    stack = ("template" if "template" in text else "extra_msa" if "extra_msa" in text
             else "evoformer" if "evoformer_iteration" in text else "other")
    sub = next((p for p in parts if p in SUBLAYERS and p != "attention"), None)
    if sub is None and "attention" in parts:
        sub = "template_pointwise_attention" if stack == "template" else "attention"
    if sub is None:
        sub = "/".join(parts[-3:-1]) if len(parts) > 1 else (parts[0] if parts else "?")
    return f"{stack}/{sub}"


def kernel_events(trace: Path) -> list[dict]:
    """The complete events that ran on a GPU stream (on CPU: those naming an HLO op)."""
    with gzip.open(trace) as handle:
        data = json.load(handle)
    events = data["traceEvents"] if isinstance(data, dict) else data
    process, thread = {}, {}
    for event in events:
        if event.get("ph") == "M" and event.get("name") == "process_name":
            process[event["pid"]] = event["args"]["name"]
        if event.get("ph") == "M" and event.get("name") == "thread_name":
            thread[(event["pid"], event["tid"])] = event["args"]["name"]
    out = []
    for event in events:
        if event.get("ph") != "X":
            continue
        pname = process.get(event["pid"], "")
        tname = thread.get((event["pid"], event["tid"]), "")
        if "GPU" in pname and "stream" in tname.lower():
            out.append(event)
    if not out:
        out = [e for e in events if e.get("ph") == "X" and "hlo_op" in e.get("args", {})]
    return out


def summarise(folder: Path) -> dict:
    names = hlo_op_names(folder / "hlo")
    traces = sorted(folder.rglob("perfetto_trace.json.gz"))
    if not traces:
        return {}
    events = kernel_events(traces[-1])
    samples = [{"name": e.get("name"), "args": e.get("args", {})} for e in events[:3]]
    by_module: dict[str, float] = defaultdict(float)
    by_kind: dict[str, float] = defaultdict(float)
    unmatched = 0.0
    total = 0.0
    for event in events:
        dur = float(event.get("dur", 0.0)) / 1e6
        op = op_name_of(event, names)
        total += dur
        kernel = event.get("name", "")
        kind = ("attention (cuDNN)" if "cudnn" in kernel.lower() or "fmha" in kernel.lower()
                else "matmul" if any(k in kernel.lower() for k in ("gemm", "cutlass", "sm90",
                                                                   "nvjet", "xmma"))
                else "triton/pallas" if "triton" in kernel.lower() or "pallas" in kernel.lower()
                else "memcpy" if "memcpy" in kernel.lower() or "memset" in kernel.lower()
                else "other")
        by_kind[kind] += dur
        if op is None:
            unmatched += dur
            by_module["(no op name) " + re.sub(r"[._]\d+$", "", kernel)[:40]] += dur
            continue
        by_module[module_key(op)] += dur
    return {"total_s": total, "kernels": len(events), "unmatched_s": unmatched,
            "by_module": dict(by_module), "by_kind": dict(by_kind), "samples": samples,
            "unmatched_examples": _unmatched_examples(events, names, folder / "hlo")}


def _unmatched_examples(events: list[dict], names: dict[str, dict[str, str]],
                        dump: Path) -> list[dict]:
    """The longest kernels without an op name, with what the dump says of them."""
    longest: dict[str, dict] = {}
    for event in events:
        if op_name_of(event, names) is not None:
            continue
        key = re.sub(r"[._]\d+$", "", str(event.get("name", "")))
        entry = longest.setdefault(key, {"kernel": event.get("name"), "seconds": 0.0,
                                         "args": event.get("args", {})})
        entry["seconds"] += float(event.get("dur", 0.0)) / 1e6
    out = sorted(longest.values(), key=lambda e: -e["seconds"])[:6]
    for entry in out:
        op = str(entry["args"].get("hlo_op", ""))
        module = str(entry["args"].get("hlo_module", ""))
        entry["module_known"] = module in names
        entry["dump_lines"] = []
        if op:
            for path in dump.glob(f"*{module}*after_optimizations.txt"):
                with path.open() as handle:
                    entry["dump_lines"] += [ln[:300] for ln in handle if f"{op} =" in ln][:2]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    variants = sorted(p for p in args.profile.iterdir() if p.is_dir())
    summary = {v.name: summarise(v) for v in variants}
    summary = {k: v for k, v in summary.items() if v}
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1))
    names = list(summary)
    for name in names:
        s = summary[name]
        kinds = ", ".join(f"{k} {v:.3f}" for k, v in sorted(s["by_kind"].items(),
                                                            key=lambda kv: -kv[1]))
        print(f"{name}: {s['total_s']:.3f} s GPU kernel time, {s['kernels']} kernels, "
              f"{s['unmatched_s']:.3f} s unmatched; {kinds}")
    modules = sorted({m for s in summary.values() for m in s["by_module"]},
                     key=lambda m: -max(s["by_module"].get(m, 0.0) for s in summary.values()))
    print("\nseconds per module (" + " | ".join(names) + ")")
    for module in modules[:args.top]:
        cells = " | ".join(f"{summary[n]['by_module'].get(module, 0.0):8.4f}" for n in names)
        print(f"{cells} | {module}")


if __name__ == "__main__":
    main()
