"""The model on CPU, ours beside the reference: first call (with compile), warm call, peak memory.

    .venv/bin/python benchmarks/model_cpu.py [--lengths 100 256] [--depth 6000]
        [--model model_1_ptm] [--num-recycle 3]

For each length the parent process makes one target (a synthetic MSA of ``--depth``
sequences, deep enough to fill all 508 clusters and 5120 extra rows of model_1_ptm, so
there is no padding for our MSA trimming to skip; and 4 templates), processes it with
the reference's own pipeline, draws random parameters in the official layout, and runs
each side in a fresh worker process so that its peak resident memory is its own:

* reference: ``alphafold.model.model.RunModel(config).predict`` (the fork's own loop),
  float32 trunk (``bfloat16=False``), unfused weights (the official layout);
* ours: ``folding.model.runner.ModelRunner(config).predict``, float32.

Each worker times ``predict`` twice on the same features (the first call compiles) and
reports its peak RSS. Both sides run 1 + num_recycle iterations. Workers alternate
(reference first at one length, ours first at the next). Not a test.
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


def _make_inputs(length: int, depth: int, model_name: str, num_recycle: int, folder: Path,
                 seed: int = 0) -> tuple[Path, Path]:
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT / "tests" / "model"))
    import oracle
    from model_cases import WEIGHT_SCALE, random_templates, synthetic_raw

    rng = np.random.default_rng(seed)
    raw = synthetic_raw(length, depth, seed=seed)
    num_templates = 4
    raw.update(random_templates(length, num_templates, rng))
    processed = oracle.process_features(model_name, raw, num_recycle=num_recycle, seed=seed)
    params = oracle.random_params(model_name, processed, scale=WEIGHT_SCALE)
    features_path = folder / f"features_{length}.npz"
    params_path = folder / "params.npz"
    np.savez(features_path, **processed)
    np.savez(params_path, **{f"{m}//{n}": v for m, d in params.items() for n, v in d.items()})
    return features_path, params_path


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _timed(call) -> tuple[object, float, float]:
    """(result, wall seconds, CPU seconds of this process) of ``call()``."""
    wall, cpu = time.perf_counter(), _cpu_s()
    result = call()
    return result, time.perf_counter() - wall, _cpu_s() - cpu


def _worker_reference(features_path: Path, params_path: Path, model_name: str,
                      num_recycle: int, chunk_mb: float | None) -> dict:
    del chunk_mb
    sys.path.insert(0, str(ROOT / "tests"))
    import oracle
    from alphafold.model import model as af_model
    from alphafold.model import utils

    with np.load(params_path) as data:
        params = utils.flat_params_to_haiku({k: data[k] for k in data.files}, fuse=False)
    with np.load(features_path) as data:
        features = {k: data[k] for k in data.files}
    config = oracle.reference_config(model_name, num_recycle)
    runner = af_model.RunModel(config, params)
    (_, last), first, first_cpu = _timed(lambda: runner.predict(features, random_seed=0))
    (result, last), warm, warm_cpu = _timed(lambda: runner.predict(features, random_seed=0))
    assert last == num_recycle
    return {"first_s": first, "warm_s": warm, "first_cpu_s": first_cpu, "warm_cpu_s": warm_cpu,
            "peak_rss_mb": _peak_rss_mb(), "mean_plddt": float(np.mean(result["plddt"]))}


def _worker_ours(features_path: Path, params_path: Path, model_name: str,
                 num_recycle: int, chunk_mb: float | None) -> dict:
    import dataclasses

    from folding.model.config import model_config
    from folding.model.features import load_processed
    from folding.model.params import load_params
    from folding.model.runner import ModelRunner

    config = model_config(model_name, num_recycle=num_recycle)
    if chunk_mb is not None:
        config = dataclasses.replace(config, global_config=dataclasses.replace(
            config.global_config, chunk_bytes=int(chunk_mb * 2**20)))
    params = load_params(params_path, config.network, model_name)
    features = load_processed(features_path, config.uses_templates)
    runner = ModelRunner(config, params, "benchmark")
    del params
    _, first, first_cpu = _timed(lambda: runner.predict(features))
    prediction, warm, warm_cpu = _timed(lambda: runner.predict(features))
    assert prediction.num_recycles == num_recycle
    return {"first_s": first, "warm_s": warm, "first_cpu_s": first_cpu, "warm_cpu_s": warm_cpu,
            "peak_rss_mb": _peak_rss_mb(), "mean_plddt": float(prediction.output.mean_plddt)}


def _run_worker(side: str, features_path: Path, params_path: Path, args) -> dict:
    command = [sys.executable, __file__, "--worker", side, "--features", str(features_path),
               "--params", str(params_path), "--model", args.model,
               "--num-recycle", str(args.num_recycle)]
    if args.chunk_mb is not None:
        command += ["--chunk-mb", str(args.chunk_mb)]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        raise RuntimeError(f"{side} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[100, 256])
    parser.add_argument("--depth", type=int, default=6000)
    parser.add_argument("--model", default="model_1_ptm")
    parser.add_argument("--num-recycle", type=int, default=3)
    parser.add_argument("--chunk-mb", type=float, default=None,
                        help="our chunk budget (default: GlobalConfig's)")
    parser.add_argument("--sides", nargs="+", default=["reference", "ours"])
    parser.add_argument("--worker", choices=["reference", "ours"])
    parser.add_argument("--features", type=Path)
    parser.add_argument("--params", type=Path)
    args = parser.parse_args()

    if args.worker:
        run = _worker_reference if args.worker == "reference" else _worker_ours
        print(json.dumps(run(args.features, args.params, args.model, args.num_recycle,
                             args.chunk_mb)))
        return

    rows = []
    with tempfile.TemporaryDirectory(prefix="model_cpu_") as tmp:
        for i, length in enumerate(args.lengths):
            features_path, params_path = _make_inputs(length, args.depth, args.model,
                                                      args.num_recycle, Path(tmp))
            order = list(args.sides) if i % 2 == 0 else list(reversed(args.sides))
            result = {side: _run_worker(side, features_path, params_path, args)
                      for side in order}
            rows.append((length, result))
            for side, values in result.items():
                print(f"L={length} {side}: {json.dumps(values)}", flush=True)
    if set(args.sides) != {"reference", "ours"}:
        return

    print(f"\n{args.model}, {args.num_recycle} recycles ({args.num_recycle + 1} iterations), "
          f"MSA depth {args.depth}, float32, {os.cpu_count()} CPUs")
    columns = [("first call wall s", "first_s", 1), ("warm wall s", "warm_s", 1),
               ("first call CPU s", "first_cpu_s", 1), ("warm CPU s", "warm_cpu_s", 1),
               ("peak RSS MB", "peak_rss_mb", 0)]
    print("| L | " + " | ".join(f"{name}: ref / ours / ratio" for name, _, _ in columns) + " |")
    print("|---|" + "---|" * len(columns))
    for length, result in rows:
        ref, ours = result["reference"], result["ours"]
        cells = [f"{ref[key]:.{digits}f} / {ours[key]:.{digits}f} / {ours[key] / ref[key]:.2f}"
                 for _, key, digits in columns]
        print(f"| {length} | " + " | ".join(cells) + " |")
    print("ratio = ours / reference (below 1: ours is faster or smaller)")


if __name__ == "__main__":
    main()
