"""``folding model run``: one model on one target's features.

::

    folding model run --params params_model_1_ptm.npz --model-name model_1_ptm \\
        --features processed.npz --output result.npz [--num-recycle 3] [--pdb model.pdb]

``--features`` takes processed features (the reference's ``process_features`` output,
with its leading recycling dimension) or raw features (``folding features`` output or
AlphaFold's ``features.pkl``), which are processed here with the model's data settings
and ``--seed``. Without real parameters, ``--untrained-params`` runs random ones in the
official layout: every output says so (log, PDB REMARK 250, ``params_id``).

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
                            help="memory budget of one chunked intermediate (MiB)")
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


def run(args: argparse.Namespace) -> int:
    """Run one model and write its outputs."""
    from dataclasses import replace

    from folding.common.pdb import to_pdb
    from folding.common.protein import Protein
    from folding.model import params as model_params
    from folding.model.config import model_config
    from folding.model.runner import ModelRunner

    if getattr(args, "model_command", None) != "run":
        raise InputError("use `folding model run ...` (see `folding model run --help`)")
    from folding.model.multimer.config import is_multimer_model_name

    if is_multimer_model_name(args.model_name):
        from folding.model.multimer.cli import run_multimer

        return run_multimer(args)
    if args.num_predictions_per_model != 1:
        raise InputError("--num-predictions-per-model is for multimer models; run a monomer "
                         "model once per --seed")
    if args.num_recycle is not None and args.num_recycle < 0:
        raise InputError(f"--num-recycle must be 0 or more, not {args.num_recycle}")
    if args.seed < 0:
        raise InputError(f"--seed must be 0 or more, not {args.seed}")
    config = model_config(args.model_name)
    global_config = config.global_config
    if args.chunk_mb is not None:
        if args.chunk_mb < 1:
            raise InputError(f"--chunk-mb must be at least 1, not {args.chunk_mb}")
        global_config = replace(global_config, chunk_bytes=args.chunk_mb << 20)
    global_config = replace(global_config, eval_dropout=args.eval_dropout)
    tolerance = args.recycle_early_stop_tolerance
    config = replace(config, global_config=global_config,
                     recycle_early_stop_tolerance=0.0 if tolerance is None else tolerance)

    features, num_recycle = _features(args.features, config, args.num_recycle, args.seed)
    config = config.with_recycles(num_recycle)

    if args.untrained_params:
        log.warning("UNTRAINED PARAMETERS (random, seed %d): the predictions are not meaningful",
                    args.seed)
        params = model_params.random_params(config.network, args.seed)
        params_id = f"untrained:seed={args.seed}"
    else:
        params = model_params.load_params(args.params, config.network, config.name)
        params_id = f"sha256:{model_params.file_sha256(args.params)}"

    runner = ModelRunner(config, params, params_id)
    del params
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
    log.info("%s: mean pLDDT %.2f%s after %d recycles -> %s", config.name,
             float(arrays["mean_plddt"]),
             f", pTM {float(arrays['ptm']):.3f}" if "ptm" in arrays else "",
             prediction.num_recycles, args.output)
    return 0
