"""``folding model run``: one model on one target's features.

::

    folding model run --params params_model_1_ptm.npz --model-name model_1_ptm \\
        --features processed.npz --output result.npz [--num-recycle 3] [--pdb model.pdb]

``--features`` takes processed features (the reference's ``process_features`` output,
with its leading recycling dimension) or raw features (``folding features`` output or
AlphaFold's ``features.pkl``), which are processed here with the model's data settings
and ``--seed``. Without real parameters, ``--untrained-params`` runs random ones in the
official layout: every output says so (log, PDB REMARK 250, ``params_id``).

Before compiling, the run plans its memory (:mod:`folding.model.memory_plan`): the chunk
budget comes from the sequence length, the MSA sizes and the device's free memory
(``--chunk-mb`` overrides it); when XLA's figures for a planned GPU budget above 256 MiB
do not fit, the model is compiled again at 256 MiB or less. A target estimated not to
fit a GPU but to fit the GPU and the host's RAM together is compiled, and if XLA's own
memory figures confirm that it does not fit, runs again with a larger memory pool or
CUDA unified memory, spilling to host RAM (:mod:`folding.model.host_spill`;
``--no-spill`` refuses instead); any other target estimated not to fit stops before
compiling with one error naming the longest length this device takes
(``--no-memory-check`` runs it anyway).
The input is padded to its shape bucket (:mod:`folding.model.buckets`; ``--no-buckets``
runs the exact shape) and compiled executables go to JAX's persistent compilation cache
(:mod:`folding.model.compile_cache`), so targets of one bucket compile once, across
processes. ``--max-msa-clusters`` and ``--max-extra-msa`` shrink the MSA the model sees
(for raw features at processing; processed features keep their first rows).

Multimer model names (``model_1_multimer_v3`` ...) run AlphaFold-Multimer on raw
multimer features: see :mod:`folding.model.multimer.cli`.
"""

from __future__ import annotations

import argparse
import logging
import zipfile
from pathlib import Path

import numpy as np

from folding import atomic
from folding.errors import InputError

log = logging.getLogger(__name__)

UNTRAINED_REMARK = "250 UNTRAINED PARAMETERS: predictions are not meaningful"


def configure(parser: argparse.ArgumentParser) -> None:
    """Add ``folding model`` and its ``run`` subcommand."""
    sub = parser.add_subparsers(dest="model_command", metavar="SUBCOMMAND")
    run_parser = sub.add_parser("run", help="predict a structure with one AlphaFold2 model",
                                description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    params = run_parser.add_mutually_exclusive_group(required=True)
    params.add_argument("--params", type=Path, help="official parameter file (.npz)")
    params.add_argument("--untrained-params", action="store_true",
                        help="random parameters in the official layout (demo without weights)")
    run_parser.add_argument("--model-name", required=True,
                            help="model_1 ... model_5, optionally with _ptm, or "
                            "model_1_multimer_v3 ... model_5_multimer_v3 (optionally _pred_K)")
    run_parser.add_argument("--features", type=Path, required=True,
                            help="processed features (.npz) or raw features (.npz, .pkl)")
    run_parser.add_argument("--output", type=Path, required=True, help="result file (.npz)")
    run_parser.add_argument("--pdb", type=Path, help="also write the structure as PDB "
                            "(pLDDT in the B-factor column)")
    run_parser.add_argument("--num-recycle", type=int, default=None,
                            help="recycling iterations after the first (default: 3, or as "
                            "many as processed features allow; 20 for multimer models)")
    run_parser.add_argument("--recycle-early-stop-tolerance", type=float, default=None,
                            help="stop recycling when the CA distances change less than this "
                            "(Angstrom; 0 never stops early, ColabFold uses 0.5; default 0, "
                            "0.5 for multimer models as AlphaFold 2.3)")
    run_parser.add_argument("--num-predictions-per-model", type=int, default=1,
                            help="multimer models: predictions with seeds --seed + 0..N-1, "
                            "written as <output stem>_pred_K (default 1)")
    run_parser.add_argument("--seed", type=int, default=0,
                            help="random seed: feature processing (multimer: the MSA sampling "
                            "of every pass), dropout, untrained params")
    run_parser.add_argument("--eval-dropout", action="store_true",
                            help="keep dropout on at inference (sample diverse predictions)")
    run_parser.add_argument("--chunk-mb", type=int, default=None,
                            help="memory budget of one chunked intermediate (MiB; default: "
                            "planned from the sequence length and the device's free memory)")
    run_parser.add_argument("--dtype", choices=("auto", "float32", "bfloat16"), default="auto",
                            help="compute dtype of the Evoformer trunk: auto (default: "
                            "bfloat16 on GPUs of compute capability 8.0+ and TPUs, as "
                            "AlphaFold runs there; float32 on CPUs and older GPUs), float32 "
                            "or bfloat16")
    run_parser.add_argument("--attention", choices=("auto", "xla", "cudnn", "pallas"),
                            default="auto",
                            help="attention kernel of the bfloat16 trunk on a GPU: auto "
                            "(cuDNN where it runs), cudnn, pallas (our kernel, faster per "
                            "call; see benchmarks/README.md) or xla (plain)")
    run_parser.add_argument("--max-msa-clusters", type=int, default=None,
                            help="MSA cluster centres the model sees (default: the model's, "
                            "512; fewer save memory and time)")
    run_parser.add_argument("--max-extra-msa", type=int, default=None,
                            help="extra-MSA rows (default: the model's, 5120 or 1024)")
    run_parser.add_argument("--no-memory-check", action="store_true",
                            help="run even when the memory plan estimates it does not fit")
    run_parser.add_argument("--no-spill", action="store_true",
                            help="refuse a target that does not fit the GPU instead of "
                            "re-running it with CUDA unified memory (spilling to host RAM)")
    run_parser.add_argument("--no-buckets", action="store_true",
                            help="run at the exact input shape instead of padding it to its "
                            "length bucket (which lets targets share compilations)")
    run_parser.add_argument("--compilation-cache", default=None, metavar="DIR",
                            help="JAX persistent compilation cache folder, or 'none' "
                            "(default: $FOLDING_COMPILATION_CACHE, else "
                            "~/.cache/folding/jax)")
    run_parser.set_defaults(_run=run)


def _is_processed(path: Path) -> bool:
    """Processed features are an .npz holding ``msa_feat``."""
    if not zipfile.is_zipfile(path):
        return False
    try:
        with np.load(path, allow_pickle=False) as data:
            return "msa_feat" in data.files
    except (OSError, ValueError, zipfile.BadZipFile):
        return False


def _features(path: Path, config, num_recycle: int | None, seed: int):
    """Processed features for ``config`` and the number of recycles to run."""
    from folding.model.features import ProcessedFeatures, load_processed, validate_processed

    if not path.is_file():
        raise InputError(f"features file {path} does not exist")
    if _is_processed(path):
        features = load_processed(path, config.uses_templates)
        if num_recycle is None:
            num_recycle = features.num_slices - 1
        return features, num_recycle
    from folding.data.processing.pipeline import process_features
    from folding.data.processing.raw import load_raw_features

    num_recycle = config.num_recycle if num_recycle is None else num_recycle
    raw = load_raw_features(path)
    try:
        processed = process_features(raw, config.data.with_num_recycle(num_recycle), seed=seed,
                                     num_recycle=num_recycle)
    except ValueError as error:
        raise InputError(f"{path}: cannot process the raw features ({error})") from None
    return ProcessedFeatures(validate_processed(processed, config.uses_templates, str(path)),
                             config.uses_templates), num_recycle


def _compilation_cache(args: argparse.Namespace):
    """Switch JAX's persistent compilation cache on (unless 'none') and start counting."""
    from folding.model import compile_cache

    chosen = getattr(args, "compilation_cache", None)
    if chosen is None:
        folder = compile_cache.default_cache_dir()
    else:
        folder = None if chosen.lower() == "none" else Path(chosen)
    try:
        compile_cache.enable_compilation_cache(folder)
    except OSError as error:
        raise InputError(f"--compilation-cache {folder}: cannot use the folder ({error}); "
                         "give a writable folder or 'none'") from None
    return compile_cache.CompileCounter().start()


def _data_config(config, args: argparse.Namespace):
    """The model's processing config with --max-msa-clusters / --max-extra-msa."""
    from dataclasses import replace

    changes = {}
    if args.max_msa_clusters is not None:
        if args.max_msa_clusters < 1:
            raise InputError(f"--max-msa-clusters must be at least 1, not "
                             f"{args.max_msa_clusters}")
        changes["max_msa_clusters"] = args.max_msa_clusters
    if args.max_extra_msa is not None:
        if args.max_extra_msa < 0:
            raise InputError(f"--max-extra-msa must be 0 or more, not {args.max_extra_msa}")
        changes["max_extra_msa"] = args.max_extra_msa
    try:
        return replace(config.data, **changes)
    except ValueError as error:
        raise InputError(f"--max-msa-clusters/--max-extra-msa: {error}") from None


def _limit_rows(features, data):
    """Processed features cut to the data config's cluster and extra-MSA rows (the first
    rows: the query first, the rest already sampled at random by the processing)."""
    from folding.model.features import ProcessedFeatures

    arrays = dict(features.arrays)
    limits = {("msa_feat", "msa_mask"): data.num_msa_clusters,
              ("extra_msa", "extra_has_deletion", "extra_deletion_value", "extra_msa_mask"):
              max(1, data.max_extra_msa)}
    for names, rows in limits.items():
        for name in names:
            arrays[name] = arrays[name][:, :rows]
    return ProcessedFeatures(arrays, features.use_templates)


def _memory_plan(args: argparse.Namespace, config, features, buckets: bool):
    """The memory plan of this run before compiling (:func:`memory_check.plan_run`)."""
    from folding.model import memory_check
    from folding.model.runner import memory_shape

    return memory_check.plan_run(args, memory_shape(config, features, buckets))


def run(args: argparse.Namespace) -> int:
    """Run one model and write its outputs."""
    from dataclasses import replace

    from folding.common.pdb import to_pdb
    from folding.common.protein import Protein
    from folding.model import memory_check
    from folding.model import params as model_params
    from folding.model.config import model_config
    from folding.model.global_config import resolve_dtype
    from folding.model.runner import ModelRunner

    if getattr(args, "model_command", None) != "run":
        raise InputError("use `folding model run ...` (see `folding model run --help`)")
    from folding.model.multimer.config import is_multimer_model_name

    if args.chunk_mb is not None and args.chunk_mb < 1:
        raise InputError(f"--chunk-mb must be at least 1, not {args.chunk_mb}")
    if is_multimer_model_name(args.model_name):
        from folding.model.multimer.cli import run_multimer

        unsupported = [flag for flag, given in (
            ("--max-msa-clusters", args.max_msa_clusters is not None),
            ("--max-extra-msa", args.max_extra_msa is not None)) if given]
        if unsupported:
            raise InputError(f"{', '.join(unsupported)}: monomer models only for now; drop "
                             f"it for {args.model_name}")
        _compilation_cache(args)
        return run_multimer(args)
    if args.num_predictions_per_model != 1:
        raise InputError("--num-predictions-per-model is for multimer models; run a monomer "
                         "model once per --seed")
    if args.num_recycle is not None and args.num_recycle < 0:
        raise InputError(f"--num-recycle must be 0 or more, not {args.num_recycle}")
    if args.seed < 0:
        raise InputError(f"--seed must be 0 or more, not {args.seed}")
    config = model_config(args.model_name)
    dtype, why = resolve_dtype(args.dtype)
    log.info("%s: trunk in %s (%s)", config.name, dtype, why)
    global_config = replace(config.global_config, eval_dropout=args.eval_dropout,
                            dtype=dtype, attention=args.attention)
    tolerance = args.recycle_early_stop_tolerance
    config = replace(config, global_config=global_config, data=_data_config(config, args),
                     recycle_early_stop_tolerance=0.0 if tolerance is None else tolerance)

    features, num_recycle = _features(args.features, config, args.num_recycle, args.seed)
    if _is_processed(args.features) and (args.max_msa_clusters is not None
                                         or args.max_extra_msa is not None):
        features = _limit_rows(features, config.data)
    config = config.with_recycles(num_recycle)
    buckets = not args.no_buckets
    plan = _memory_plan(args, config, features, buckets)
    config = replace(config, global_config=replace(config.global_config,
                                                   chunk_bytes=plan.chunk_bytes))
    counter = _compilation_cache(args)

    if args.untrained_params:
        log.warning("UNTRAINED PARAMETERS (random, seed %d): the predictions are not meaningful",
                    args.seed)
        params = model_params.random_params(config.network, args.seed)
        params_id = f"untrained:seed={args.seed}"
    else:
        params = model_params.load_params(args.params, config.network, config.name)
        params_id = f"sha256:{model_params.file_sha256(args.params)}"

    runner = ModelRunner(config, params, params_id, buckets=buckets)
    del params

    def runner_at(chunk_bytes: int) -> ModelRunner:
        return ModelRunner(replace(config, global_config=replace(
            config.global_config, chunk_bytes=chunk_bytes)), runner.params, params_id,
            buckets=buckets)

    # XLA's own figures, from the compilation the run then uses, before running.
    runner, plan = memory_check.checked_runner(args, plan, runner, runner_at,
                                               lambda r: r.compiled_memory(features))
    prediction = runner.predict(features, seed=args.seed)
    arrays = prediction.to_arrays()

    pdb_text = None
    if args.pdb is not None:
        remarks = (UNTRAINED_REMARK,) if args.untrained_params else ()
        protein = Protein.from_prediction(
            aatype=prediction.aatype, final_atom_positions=arrays["final_atom_positions"],
            final_atom_mask=arrays["final_atom_mask"], residue_index=prediction.residue_index,
            plddt=arrays["plddt"], remarks=remarks)
        pdb_text = to_pdb(protein)
    atomic.save_npz(args.output, arrays)
    if pdb_text is not None:
        atomic.write_text(args.pdb, pdb_text)
    log.info("%s: %s", config.name, counter.stop().describe())
    log.info("%s: mean pLDDT %.2f%s after %d recycles -> %s", config.name,
             float(arrays["mean_plddt"]),
             f", pTM {float(arrays['ptm']):.3f}" if "ptm" in arrays else "",
             prediction.num_recycles, args.output)
    return 0
