"""``folding model run`` for the multimer models (``--model-name model_N_multimer_v3``).

::

    folding model run --params params_model_1_multimer_v3.npz \\
        --model-name model_1_multimer_v3 --features RAW_MULTIMER.npz \\
        --output result_model_1_multimer_v3.npz --pdb unrelaxed_model_1_multimer_v3.pdb \\
        [--seed 0] [--num-predictions-per-model 5] [--num-recycle 20] \\
        [--recycle-early-stop-tolerance 0.5]

``--features`` takes raw multimer features (``folding multimer features`` output or
AlphaFold's multimer ``features.pkl``); the MSA is sampled inside every recycling pass
from the seed. Several predictions per model (AlphaFold's ``_pred_K``, five per model by
default in AlphaFold 2.3) differ in their seed: prediction K uses ``--seed + K``.

* ``--num-predictions-per-model 1`` (default) writes ``--output`` and ``--pdb`` as given;
  a name ``model_1_multimer_v3_pred_K`` runs prediction K alone (seed ``--seed + K``), so
  a workflow can run one job per prediction.
* ``--num-predictions-per-model N`` runs predictions 0..N-1 in one process (compiled
  once) and writes ``<stem>_pred_K<suffix>`` for each, e.g. ``result_model_1_multimer_v3.npz``
  becomes ``result_model_1_multimer_v3_pred_0.npz`` ... (the names the report reads).

Each result holds the monomer outputs plus ``iptm``, ``ranking_confidence`` (0.8 ipTM +
0.2 pTM, AlphaFold-Multimer's ranking) and the chain of each residue (``asym_id``,
``entity_id``, ``sym_id``); the PDB has one chain per ``asym_id`` (A, B, C ... in the
feature layout, as AlphaFold writes it), each closed by TER. Defaults follow AlphaFold
2.3: up to 20 recycles, stopping once the CA distances change by less than 0.5 A.
Nothing is written unless every prediction succeeded. The run plans and checks its
memory as a monomer run does (:mod:`folding.model.memory_check`: the chunk budget from
the complex's length, the sampled MSA sizes and the device's free memory, XLA's figures
before running, more memory or one clear error when it does not fit).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

from folding import atomic
from folding.errors import InputError

log = logging.getLogger(__name__)

UNTRAINED_REMARK = "250 UNTRAINED PARAMETERS: predictions are not meaningful"


def prediction_path(path: Path, index: int) -> Path:
    """``result_model_1_multimer_v3.npz`` -> ``result_model_1_multimer_v3_pred_<index>.npz``."""
    return path.with_name(f"{path.stem}_pred_{index}{path.suffix}")


def _global_config(config, args: argparse.Namespace):
    from folding.model.global_config import resolve_dtype

    global_config = config.global_config
    if args.chunk_mb is not None and args.chunk_mb < 1:
        raise InputError(f"--chunk-mb must be at least 1, not {args.chunk_mb}")
    dtype, why = resolve_dtype(args.dtype)
    log.info("%s: trunk in %s (%s)", args.model_name, dtype, why)
    return replace(global_config, eval_dropout=args.eval_dropout, dtype=dtype,
                   attention=args.attention)


def _memory_shape(config, features):
    """What the memory plan needs of a multimer run: the monomer estimate's sizes at the
    multimer's sampled sizes (the same Evoformer, extra-MSA and template stacks: cluster
    centres plus one row per template, extra rows)."""
    from folding.model.memory_plan import ModelShape

    templates = int(features.arrays["template_aatype"].shape[0])
    return ModelShape(features.num_res, config.sampling.num_msa + templates,
                      config.sampling.num_extra_msa, templates, config.global_config.dtype)


def run_multimer(args: argparse.Namespace) -> int:
    """Run one multimer model (one or several predictions) and write its outputs."""
    from folding.common.pdb import to_pdb
    from folding.model import memory_check
    from folding.model.multimer import params as multimer_params
    from folding.model.multimer.config import multimer_model_config, parse_model_name
    from folding.model.multimer.features import load_multimer_features
    from folding.model.multimer.runner import MultimerRunner
    from folding.model.params import file_sha256

    count = args.num_predictions_per_model
    if count < 1:
        raise InputError(f"--num-predictions-per-model must be at least 1, not {count}")
    if args.num_recycle is not None and args.num_recycle < 0:
        raise InputError(f"--num-recycle must be 0 or more, not {args.num_recycle}")
    if args.seed < 0:
        raise InputError(f"--seed must be 0 or more, not {args.seed}")
    tolerance = args.recycle_early_stop_tolerance
    if tolerance is not None and tolerance < 0:
        raise InputError(f"--recycle-early-stop-tolerance must be 0 or more, not {tolerance}")
    base_name, index = parse_model_name(args.model_name)
    if index is not None and count > 1:
        raise InputError(f"--model-name {args.model_name} names one prediction; give "
                         f"{base_name} with --num-predictions-per-model {count}")
    config = multimer_model_config(base_name)
    config = replace(config, global_config=_global_config(config, args))
    if tolerance is not None:
        config = replace(config, recycle_early_stop_tolerance=tolerance)
    if args.num_recycle is not None:
        config = config.with_recycles(args.num_recycle)

    features = load_multimer_features(args.features)
    plan = memory_check.plan_run(args, _memory_shape(config, features), msa_options=False)
    config = replace(config, global_config=replace(config.global_config,
                                                   chunk_bytes=plan.chunk_bytes))
    if args.untrained_params:
        log.warning("UNTRAINED PARAMETERS (random, seed %d): the predictions are not meaningful",
                    args.seed)
        params = multimer_params.random_multimer_params(config.network, args.seed)
        params_id = f"untrained:seed={args.seed}"
    else:
        params = multimer_params.load_multimer_params(args.params, config.network, base_name)
        params_id = f"sha256:{file_sha256(args.params)}"
    runner = MultimerRunner(config, params, params_id)
    del params

    def runner_at(chunk_bytes: int) -> MultimerRunner:
        return MultimerRunner(replace(config, global_config=replace(
            config.global_config, chunk_bytes=chunk_bytes)), runner.params, params_id)

    # XLA's own figures, from the compilation the run then uses, before running.
    runner, plan = memory_check.checked_runner(
        args, plan, runner, runner_at, lambda r: r.compiled_memory(features, args.seed),
        msa_options=False)

    first = index or 0
    outputs: list[tuple[Path, dict, Path | None, str | None]] = []
    for k in range(first, first + count):
        name = f"{base_name}_pred_{k}" if count > 1 or index is not None else base_name
        prediction = runner.predict(features, seed=args.seed + k, model_name=name)
        remarks = (UNTRAINED_REMARK,) if args.untrained_params else ()
        pdb_text = to_pdb(prediction.to_protein(remarks)) if args.pdb is not None else None
        output, pdb = args.output, args.pdb
        if count > 1:
            output = prediction_path(output, k)
            pdb = prediction_path(pdb, k) if pdb is not None else None
        outputs.append((output, prediction.to_arrays(), pdb, pdb_text))
        log.info("%s (seed %d): ipTM %.3f, pTM %.3f, ranking confidence %.3f, mean pLDDT "
                 "%.2f after %d recycles", name, args.seed + k, float(prediction.output.iptm),
                 float(prediction.output.ptm), prediction.ranking_confidence,
                 float(prediction.output.mean_plddt), prediction.num_recycles)
    for output, arrays, pdb, pdb_text in outputs:
        atomic.save_npz(output, arrays)
        if pdb is not None and pdb_text is not None:
            atomic.write_text(pdb, pdb_text)
        log.info("wrote %s%s", output, f" and {pdb}" if pdb is not None else "")
    return 0
