"""Peak GPU memory and time of one prediction as the sequence grows (input to GPU memory
planning: the longest sequence each GPU size can take).

    python benchmarks/gpu_memory.py --lengths 512,1024,2048 [--depth 6000] [--chunk-mb 64]
        [--model model_1_ptm] [--dtype float32] [--deadline 540] [--out results.jsonl]

For each length it writes raw features of a random sequence with a synthetic MSA of
``--depth`` rows (the query and point mutants: deep enough to fill AlphaFold's 512 MSA
clusters and 5,120 extra-MSA rows, which is what sets the memory), then runs
``folding model run --untrained-params --num-recycle 0`` in a fresh process with
``XLA_PYTHON_CLIENT_PREALLOCATE=false`` (JAX takes GPU memory as it needs it) while
``nvidia-smi`` is polled every 0.1 s. It prints, per length: the peak GPU memory used
above the idle baseline (GiB), the wall seconds (parameter initialisation, feature
processing and XLA compilation included), and whether it ran or ran out of memory.
Untrained parameters take the same memory and time as trained ones; one recycling pass
peaks as high as four. Beside each measurement it prints the memory plan's estimate
(:mod:`folding.model.memory_plan`, logged by the run) and its chunk budget, so the
estimate can be checked; the runs pass ``--no-memory-check`` (to probe past the
estimate) and ``--compilation-cache none`` (seconds include compilation). Needs a CUDA
GPU and ``nvidia-smi``; not part of the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from folding.data.features import raw_features, save_raw_npz  # noqa: E402
from folding.data.parsers.msa import Msa  # noqa: E402

LETTERS = np.frombuffer(b"ACDEFGHIKLMNPQRSTVWY", dtype=np.uint8)


def write_features(path: Path, length: int, depth: int, seed: int = 0) -> None:
    """Raw features of a random ``length``-residue query with ``depth`` MSA rows."""
    rng = np.random.default_rng(seed)
    query = rng.choice(LETTERS, length)
    rows = np.repeat(query[None], depth, axis=0)
    mutated = rng.random((depth - 1, length)) < 0.3
    rows[1:][mutated] = rng.choice(LETTERS, int(mutated.sum()))
    rows[1:][rng.random((depth - 1, length)) < 0.05] = ord("-")
    sequences = tuple(row.tobytes().decode("ascii") for row in rows)
    msa = Msa(sequences, np.zeros((depth, length), dtype=np.int32),
              tuple(f"synthetic_{i}" for i in range(depth)))
    save_raw_npz(path, raw_features(sequences[0], "synthetic", [msa], {}))


def gpu_memory_used_mib() -> int:
    out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,"
                          "nounits", "--id=0"], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[0])


COMPILED = re.compile(r"compiled: arguments ([\d.]+) GiB, outputs ([\d.]+) GiB, temporaries "
                      r"([\d.]+) GiB")
PLAN = re.compile(r"memory plan: L=(\d+).*?estimated ([\d.]+) GiB.*?chunk budget (\d+) MiB"
                  r"(?:; (fits|does NOT fit) \(longest that fits here: about (\d+))?")


def measure(length: int, depth: int, model: str, chunk_mb: int | None, work: Path,
            timeout: float, dtype: str = "float32", plan: bool = False,
            extra_env: dict[str, str] | None = None) -> dict:
    features = work / f"features_{length}.npz"
    start = time.perf_counter()
    write_features(features, length, depth)
    prepare = time.perf_counter() - start
    argv = [sys.executable, "-m", "folding", "model", "run", "--untrained-params",
            "--model-name", model, "--features", str(features), "--num-recycle", "0",
            "--output", str(work / f"result_{length}.npz"), "--dtype", dtype,
            "--compilation-cache", "none"]
    if not plan:
        argv.append("--no-memory-check")
    if chunk_mb:
        argv += ["--chunk-mb", str(chunk_mb)]
    env = {**os.environ, "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           **(extra_env or {})}
    baseline = gpu_memory_used_mib()
    peak = [baseline]
    done = threading.Event()

    def poll() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], gpu_memory_used_mib())
            time.sleep(0.1)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    start = time.perf_counter()
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                                check=False)
        status = "ok" if result.returncode == 0 else (
            "out of memory" if "RESOURCE_EXHAUSTED" in result.stderr or "out of memory"
            in result.stderr.lower() else f"failed ({result.returncode})")
        tail = "" if result.returncode == 0 else result.stderr[-1500:]
        text = result.stderr
        spill = [line for line in result.stderr.splitlines()
                 if "spill" in line.lower() or "memory plan" in line]
        plan = PLAN.search(result.stderr)
    except subprocess.TimeoutExpired as error:
        status, tail = "timeout", ""
        text = error.stderr.decode() if isinstance(error.stderr, bytes) else error.stderr or ""
        spill = [line for line in text.splitlines()
                 if "spill" in line.lower() or "memory plan" in line]
        plan = PLAN.search(text)
    seconds = time.perf_counter() - start
    done.set()
    poller.join()
    compiled = COMPILED.search(text)
    planned = {} if plan is None else {
        "run_length": int(plan.group(1)), "estimate_gib": float(plan.group(2)),
        "planned_chunk_mb": int(plan.group(3)),
        "plan_fits": None if plan.group(4) is None else plan.group(4) == "fits",
        "plan_longest": None if plan.group(5) is None else int(plan.group(5))}
    if compiled:
        planned.update({"xla_argument_gib": float(compiled.group(1)),
                        "xla_output_gib": float(compiled.group(2)),
                        "xla_temp_gib": float(compiled.group(3))})
    return {"length": length, "depth": depth, "model": model, "chunk_mb": chunk_mb,
            "dtype": dtype, **planned,
            "peak_gib": round((peak[0] - baseline) / 1024, 2), "seconds": round(seconds, 1),
            "features_seconds": round(prepare, 1), "status": status, "stderr_tail": tail,
            "plan_lines": [line[-400:] for line in spill], "extra_env": extra_env or {}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", default="256,512,1024,2048")
    parser.add_argument("--depth", type=int, default=6000)
    parser.add_argument("--model", default="model_1_ptm")
    parser.add_argument("--chunk-mb", type=int, default=None,
                        help="chunk budget (default: the memory plan's)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--deadline", type=float, default=540,
                        help="stop starting new lengths after this many seconds")
    parser.add_argument("--out", type=Path, help="append one JSON line per length here")
    parser.add_argument("--plan", action="store_true",
                        help="let the run's memory plan decide (no --no-memory-check): a "
                             "target that does not fit runs again with a larger pool or "
                             "unified memory, as a user's run would")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment of the run (e.g. TF_FORCE_UNIFIED_MEMORY=1)")
    args = parser.parse_args()
    extra_env = dict(item.split("=", 1) for item in args.env)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for length in (int(x) for x in args.lengths.split(",")):
            left = args.deadline - (time.perf_counter() - started)
            if left < 30:
                print(f"L={length}: skipped (deadline)", flush=True)
                continue
            row = measure(length, args.depth, args.model, args.chunk_mb, Path(folder), left,
                          args.dtype, args.plan, extra_env)
            estimate = (f"plan: L={row['run_length']} estimate {row['estimate_gib']} GiB, "
                        f"chunk {row['planned_chunk_mb']} MiB, fits {row['plan_fits']}, "
                        f"longest {row['plan_longest']}" if "estimate_gib" in row
                        else "plan: not logged")
            print(f"L={row['length']:5d} depth={row['depth']} {row['dtype']} "
                  f"chunk_mb={row['chunk_mb']}: peak {row['peak_gib']:6.2f} GiB, "
                  f"{row['seconds']:6.1f} s (features {row['features_seconds']} s): "
                  f"{row['status']}; {estimate}", flush=True)
            for line in row["plan_lines"]:
                print("  " + line, flush=True)
            if row["stderr_tail"]:
                print(row["stderr_tail"], flush=True)
            if args.out:
                with open(args.out, "a") as handle:
                    handle.write(json.dumps(row) + "\n")
            if row["status"] != "ok":
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
