"""AlphaFold-Multimer v3 on CPU, ours beside the reference: first call, warm call, memory.

    .venv/bin/python benchmarks/multimer_model.py [--length 24] [--num-recycle 1]
        [--model model_1_multimer_v3] [--num-msa 508 --num-extra-msa 2048]

The parent builds a real complex with our multimer data pipeline (2Q2K's two chains and
A0A024R1R8, ``tests/model/multimer_inputs.py``; 2,068 MSA rows, templates), crops each
chain to ``--length`` residues from residue 20, draws random parameters in the official
multimer layout, and runs each side in a fresh worker process (its peak RSS its own):

* reference: ``alphafold.model.model.RunModel(config).predict`` (the fork's own loop),
  float32 (``bfloat16=False``), fused weights (the official v3 layout), float16 output
  cast bypassed;
* ours: ``folding.model.multimer.runner.MultimerRunner(config).predict``, float32.

Both sample the MSA inside every pass from seed 0 (the same samples). Each worker times
``predict`` twice (the first call compiles). Workers alternate their order. Not a test.
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
SHARED = Path(os.environ.get("FOLDING_SHARED_DATA", ROOT.parent / "shared" / "data"))


def _test_paths() -> None:
    sys.path.insert(0, str(ROOT / "tests"))
    sys.path.insert(0, str(ROOT / "tests" / "model"))


def _make_inputs(args, folder: Path) -> tuple[Path, Path]:
    _test_paths()
    import multimer_oracle
    from multimer_inputs import real_complex

    raw = real_complex(SHARED, start=20, length=args.length).features
    cfg = multimer_oracle.reference_config(args.model, 0, args.num_msa, args.num_extra_msa)
    params = multimer_oracle.random_params(cfg, raw)
    features_path, params_path = folder / "features.npz", folder / "params.npz"
    np.savez(features_path, **multimer_oracle.model_inputs(raw))
    np.savez(params_path, **{f"{m}//{n}": v for m, d in params.items() for n, v in d.items()})
    return features_path, params_path


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(call) -> tuple[object, float]:
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def _load(features_path: Path, params_path: Path):
    with np.load(features_path) as data:
        features = {k: data[k] for k in data.files}
    with np.load(params_path) as data:
        flat = {k: data[k] for k in data.files}
    return features, flat


def _worker_reference(args) -> dict:
    _test_paths()
    import multimer_oracle
    from alphafold.model import model as af_model
    from alphafold.model import utils

    features, flat = _load(args.features, args.params)
    params = utils.flat_params_to_haiku(flat, fuse=True)
    af_model._cast_result = lambda result: result
    config = multimer_oracle.reference_config(args.model, args.num_recycle, args.num_msa,
                                              args.num_extra_msa)
    runner = af_model.RunModel(config, params)
    (_, last), first = _timed(lambda: runner.predict(features, random_seed=0))
    (result, last), warm = _timed(lambda: runner.predict(features, random_seed=0))
    assert last == args.num_recycle
    return {"first_s": first, "warm_s": warm, "peak_rss_mb": _peak_rss_mb(),
            "iptm": float(result["iptm"])}


def _worker_ours(args) -> dict:
    from dataclasses import replace

    from folding.model.multimer.config import multimer_model_config
    from folding.model.multimer.features import MultimerFeatures, validate_multimer_features
    from folding.model.multimer.runner import MultimerRunner
    from folding.model.multimer.sampling import MsaSamplingConfig
    from folding.model.params import nest

    features, flat = _load(args.features, args.params)
    config = replace(multimer_model_config(args.model).with_recycles(args.num_recycle),
                     sampling=MsaSamplingConfig(args.num_msa, args.num_extra_msa),
                     recycle_early_stop_tolerance=0.0)
    runner = MultimerRunner(config, nest(flat), "benchmark")
    inputs = MultimerFeatures(validate_multimer_features(features))
    _, first = _timed(lambda: runner.predict(inputs, seed=0))
    prediction, warm = _timed(lambda: runner.predict(inputs, seed=0))
    assert prediction.num_recycles == args.num_recycle
    return {"first_s": first, "warm_s": warm, "peak_rss_mb": _peak_rss_mb(),
            "iptm": float(prediction.output.iptm)}


def _run_worker(side: str, features_path: Path, params_path: Path, args) -> dict:
    command = [sys.executable, __file__, "--worker", side, "--features", str(features_path),
               "--params", str(params_path), "--model", args.model, "--num-recycle",
               str(args.num_recycle), "--num-msa", str(args.num_msa), "--num-extra-msa",
               str(args.num_extra_msa)]
    done = subprocess.run(command, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        raise RuntimeError(f"{side} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--length", type=int, default=24, help="residues per chain")
    parser.add_argument("--model", default="model_1_multimer_v3")
    parser.add_argument("--num-recycle", type=int, default=1)
    parser.add_argument("--num-msa", type=int, default=508)
    parser.add_argument("--num-extra-msa", type=int, default=2048)
    parser.add_argument("--worker", choices=["reference", "ours"])
    parser.add_argument("--features", type=Path)
    parser.add_argument("--params", type=Path)
    args = parser.parse_args()

    if args.worker:
        run = _worker_reference if args.worker == "reference" else _worker_ours
        print(json.dumps(run(args)))
        return

    with tempfile.TemporaryDirectory(prefix="multimer_model_") as tmp:
        features_path, params_path = _make_inputs(args, Path(tmp))
        result = {side: _run_worker(side, features_path, params_path, args)
                  for side in ("reference", "ours")}
    for side, values in result.items():
        print(f"{side}: {json.dumps(values)}")
    ref, ours = result["reference"], result["ours"]
    print(f"\n{args.model}, 3 chains x {args.length} residues, {args.num_recycle + 1} passes, "
          f"{args.num_msa} centres / {args.num_extra_msa} extra rows of 2068, float32, "
          f"{os.cpu_count()} CPUs")
    print("| first call s: ref / ours / ratio | warm s: ref / ours / ratio | "
          "peak RSS MB: ref / ours / ratio |")
    print("|---|---|---|")
    cells = [f"{ref[k]:.{d}f} / {ours[k]:.{d}f} / {ours[k] / ref[k]:.2f}"
             for k, d in (("first_s", 1), ("warm_s", 1), ("peak_rss_mb", 0))]
    print("| " + " | ".join(cells) + " |")
    print(f"ipTM: reference {ref['iptm']:.6f}, ours {ours['iptm']:.6f}")


if __name__ == "__main__":
    main()
