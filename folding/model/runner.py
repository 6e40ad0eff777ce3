"""Running a model: the recycling loop, early stopping, seeds and inference dropout.

Suppl. Alg. 2 (Inference): the compiled iteration of :mod:`folding.model.alphafold`
runs ``num_recycle + 1`` times, each pass reading its own slice of the processed
features and the previous pass's positions, first MSA row and pair. As in ColabFold,
recycling may stop early once the CA-CA distance matrix changes by less than a
tolerance between two passes. The seed drives inference dropout (when enabled); the
MSA sampling of each pass is already in the processed features. A runner with
``buckets`` pads the features to their shape bucket (:mod:`folding.model.buckets`) and
crops the outputs back, so targets of one bucket share a compilation (with inference
dropout the random masks then depend on the bucket: another valid sample, not the
unpadded run's).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import jax
import numpy as np
from numpy.typing import ArrayLike

from folding.common.atoms import ATOM37_INDEX
from folding.errors import InputError
from folding.model.alphafold import (
    IterationOutput,
    NetworkConfig,
    PairHeadsOutput,
    forward,
    pair_heads_forward,
    with_pair_heads,
)
from folding.model.buckets import (
    BucketShape,
    bucket_shape,
    crop_output,
    feature_shape,
    pad_features,
)
from folding.model.config import ModelConfig
from folding.model.features import ProcessedFeatures, RecycledState
from folding.model.global_config import GlobalConfig
from folding.model.memory_plan import CompiledMemory, ModelShape
from folding.model.params import Params
from folding.model.result_file import result_arrays

log = logging.getLogger(__name__)
_CA = ATOM37_INDEX["CA"]


def ca_distance_change(previous: ArrayLike, current: ArrayLike, seq_mask: ArrayLike,
                       block: int = 512) -> float:
    """Root-mean-square change of the CA-CA distances between two atom37 structures.

    The early-stopping criterion of AF2Complex and ColabFold: sqrt(mean over residue
    pairs in the mask of (d_prev - d_cur)^2 + 1e-8), in Angstrom. Computed on the host
    from the CA coordinates only ([L, 3] each), ``block`` rows of the float32 distance
    matrices at a time, sums in float64: memory O(block x L), no device memory (about
    1 s at L = 3,072 on one CPU core).
    """
    ca_prev = np.asarray(previous)[:, _CA].astype(np.float32)
    ca_cur = np.asarray(current)[:, _CA].astype(np.float32)
    mask = np.asarray(seq_mask, np.float64)
    total = 0.0
    for start in range(0, ca_prev.shape[0], block):
        rows = slice(start, start + block)
        d_prev, d_cur = ca_prev[rows, None] - ca_prev[None], ca_cur[rows, None] - ca_cur[None]
        diff = (np.sqrt(np.einsum("ijk,ijk->ij", d_prev, d_prev))
                - np.sqrt(np.einsum("ijk,ijk->ij", d_cur, d_cur)))
        total += float(mask[rows] @ (np.square(diff).astype(np.float64) @ mask))
    return float(np.sqrt(total / float(mask.sum()) ** 2 + 1e-8))


@dataclass(frozen=True)
class Prediction:
    """The final iteration's outputs, as NumPy arrays, and how they were made.

    ``num_recycles`` counts the recycling passes actually run after the first (fewer
    than asked when recycling stopped early); ``recycle_changes`` holds the CA
    distance change of each pass from the one before (the first is from the zero
    structure). ``params_id`` identifies the parameters (a file's SHA-256, or
    ``untrained:seed=S``); ``dtype`` is the trunk's compute dtype.
    """

    model_name: str
    params_id: str
    seed: int
    num_recycles: int
    recycle_changes: tuple[float, ...]
    output: IterationOutput
    aatype: np.ndarray
    residue_index: np.ndarray
    seq_mask: np.ndarray
    dtype: str = "float32"

    @property
    def ranking_confidence(self) -> float:
        """Mean pLDDT, AlphaFold's ranking score for monomer models."""
        return float(self.output.mean_plddt)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The ``folding model run`` output file's arrays (:mod:`folding.model.result_file`)."""
        o = self.output
        outputs = {
            "final_atom_positions": o.final_atom_positions,
            "final_atom_mask": o.final_atom_mask,
            "plddt": o.plddt,
            "mean_plddt": o.mean_plddt,
            "ranking_confidence": np.float32(self.ranking_confidence),
            "distogram_logits": o.distogram_logits,
            "distogram_bin_edges": o.distogram_bin_edges,
            "experimentally_resolved_logits": o.experimentally_resolved_logits,
            "predicted_aligned_error": o.predicted_aligned_error,
            "max_predicted_aligned_error": o.max_predicted_aligned_error,
            "ptm": o.ptm,
        }
        return result_arrays(outputs, {
            "aatype": np.asarray(self.aatype, np.int32),
            "residue_index": np.asarray(self.residue_index, np.int32),
            "num_recycles": np.int32(self.num_recycles),
            "recycle_changes": np.asarray(self.recycle_changes, np.float32),
            "model_name": np.str_(self.model_name),
            "params_id": np.str_(self.params_id),
            "seed": np.int64(self.seed),
            "dtype": np.str_(self.dtype),
        })


@functools.lru_cache(maxsize=8)
def compiled_iteration(network: NetworkConfig, global_config: GlobalConfig) -> Callable:
    """The jitted ``apply(params, key, inputs, prev)`` of one pass, without the pair heads.

    Shared by every runner of the same network (the five models of a target with the
    same settings, repeated runs in one process): XLA compiles once per input shape.
    ``prev`` is donated: the recycled state it holds on the device becomes the buffers
    of the next one (one pair representation less in memory, 18 GB at L = 6,000), so
    a caller must not read ``prev``'s device arrays after the call. The distogram and
    PAE heads are left to :func:`compiled_pair_heads`, run once on the kept pass.
    """
    return jax.jit(forward(network, global_config, pair_heads=False).apply,
                   donate_argnums=(3,))


@functools.lru_cache(maxsize=8)
def compiled_pair_heads(network: NetworkConfig, global_config: GlobalConfig) -> Callable:
    """The jitted ``apply(params, None, pair, seq_mask)`` of the distogram and PAE heads
    (Suppl. 1.9.7-1.9.8), run on the final pass's recycled pair: the earlier passes
    do not compute them, and the final pass's peak does not hold the distogram."""
    return jax.jit(pair_heads_forward(network.heads, global_config).apply)


def run_shape(config: ModelConfig, features: ProcessedFeatures, buckets: bool) -> BucketShape:
    """The sizes a runner of ``config`` runs ``features`` at (MSA padding trimmed when
    the global config says so, then their bucket with ``buckets``): what memory
    planning needs before the runner is made."""
    caps = feature_shape(features)
    if config.global_config.trim_msa_padding:
        features = features.trimmed()
    if buckets:
        return bucket_shape(features, config.data.max_templates, caps)
    return feature_shape(features)


def memory_shape(config: ModelConfig, features: ProcessedFeatures, buckets: bool
                 ) -> ModelShape:
    """What memory planning needs of a run: :func:`run_shape`'s sizes, the template
    torsion rows the MSA stack carries, and the trunk's dtype."""
    shape = run_shape(config, features, buckets)
    template_rows = shape.num_templates if config.network.trunk.template.embed_torsion_angles \
        else 0
    return ModelShape(shape.num_res, shape.num_msa + template_rows, shape.num_extra_msa,
                      shape.num_templates, config.global_config.dtype)


#: Features as the model runs them, and the real sizes to crop the outputs back to.
_Prepared = tuple[ProcessedFeatures, BucketShape]


class ModelRunner:
    """One model with its parameters, compiled once per input shape.

    With ``buckets`` the features are padded to their shape bucket
    (:mod:`folding.model.buckets`) so targets of similar size share one compilation;
    the prediction is cropped back to the real residues.
    """

    def __init__(self, config: ModelConfig, params: Params, params_id: str,
                 buckets: bool = False) -> None:
        self.config = config
        self.params_id = params_id
        self.buckets = buckets
        self.params = jax.device_put(params)
        self._apply = compiled_iteration(config.network, config.global_config)
        self._pair_heads = compiled_pair_heads(config.network, config.global_config)
        # The features :meth:`compiled_memory` prepared, kept for the :meth:`predict`
        # that follows on the same features (padding a deep MSA is not free).
        self._prepared: tuple[ProcessedFeatures, _Prepared] | None = None

    def iteration(self, features: ProcessedFeatures, r: int, prev: RecycledState,
                  key: jax.Array | None) -> IterationOutput:
        """One pass on slice ``r`` from ``prev`` (no output cast, float32), without the
        pair heads (:meth:`pair_heads` completes it)."""
        with jax.default_matmul_precision(
                self.config.global_config.resolved_matmul_precision):
            return self._apply(self.params, key, features.inputs(r), prev)

    def pair_heads(self, pair: jax.Array, seq_mask: ArrayLike) -> PairHeadsOutput:
        """The distogram and PAE heads on a pass's recycled pair [L, L, c_z]."""
        with jax.default_matmul_precision(
                self.config.global_config.resolved_matmul_precision):
            return self._pair_heads(self.params, None, pair, seq_mask)

    def compiled_memory(self, features: ProcessedFeatures) -> CompiledMemory:
        """XLA's memory analysis at these features' shape, compiling the pass and the
        pair heads (the executables :meth:`predict` then runs): the one that needs more.
        The pair heads run after the last pass, beside its outputs; they need less than
        the pass in practice (the pair and the distogram against the pair and the
        trunk's pair-sized temporaries)."""
        prepared = self._prepare(features)
        self._prepared = (features, prepared)
        features = prepared[0]
        emb = self.config.network.trunk.embeddings
        prev = RecycledState.zeros(features.num_res, emb.msa_channel, emb.pair_channel,
                                   self.config.global_config.compute_dtype)
        key = jax.random.PRNGKey(0) if self.config.global_config.eval_dropout else None
        with jax.default_matmul_precision(
                self.config.global_config.resolved_matmul_precision):
            compiled = [
                self._apply.lower(self.params, key, features.inputs(0), prev).compile(),
                self._pair_heads.lower(self.params, None, prev.prev_pair,
                                       features.arrays["seq_mask"][0]).compile()]
        return max((CompiledMemory.of(e) for e in compiled), key=lambda f: f.needed_bytes)

    def predict(self, features: ProcessedFeatures, seed: int = 0,
                callback: Callable[[int, IterationOutput, float], None] | None = None
                ) -> Prediction:
        """Run all recycling passes (or until the early-stop tolerance is met).

        ``callback(r, output, change)`` sees each pass's outputs; their recycled state
        (``output.recycled``) is donated to the next pass, so it must not be kept. The
        passes do not run the pair heads (their distogram and PAE fields are None):
        those run once, on the last pass's pair.
        """
        c = self.config
        if features.use_templates != c.uses_templates:
            raise InputError(f"the features were checked for a model "
                             f"{'with' if features.use_templates else 'without'} templates; "
                             f"{c.name} {'uses' if c.uses_templates else 'does not use'} them")
        num_passes = c.num_recycle + 1
        if features.num_slices < num_passes:
            raise InputError(f"{c.num_recycle} recycles need {num_passes} feature slices, the "
                             f"features hold {features.num_slices}; process the features "
                             f"with num_recycle >= {c.num_recycle} or ask for fewer recycles")
        if self._prepared is not None and self._prepared[0] is features:
            features, real = self._prepared[1]
        else:
            features, real = self._prepare(features)
        self._prepared = None
        emb = c.network.trunk.embeddings
        prev = RecycledState.zeros(features.num_res, emb.msa_channel, emb.pair_channel,
                                   c.global_config.compute_dtype)
        base_key = jax.random.PRNGKey(seed)
        changes: list[float] = []
        output = None
        for r in range(num_passes):
            start = time.perf_counter()
            key = jax.random.fold_in(base_key, r) if c.global_config.eval_dropout else None
            previous_positions = np.asarray(prev.prev_pos)
            # Only the recycled state (donated to this pass) is needed from the pass
            # before: its other outputs are released before this pass allocates its own.
            output = None
            output = self.iteration(features, r, prev, key)
            seq_mask = features.arrays["seq_mask"][r]
            change = float(ca_distance_change(previous_positions, output.final_atom_positions,
                                              seq_mask))
            changes.append(change)
            prev = output.recycled
            log.info("%s: pass %d/%d in %.1f s, mean pLDDT %.2f, CA distance change %.3f A",
                     c.name, r + 1, num_passes, time.perf_counter() - start,
                     float(output.mean_plddt), change)
            if callback is not None:
                callback(r, self._crop(output, real) if self.buckets else output, change)
            if r > 0 and change < c.recycle_early_stop_tolerance:
                log.info("%s: recycling stopped early after %d recycles", c.name, r)
                break
        assert output is not None
        last = len(changes) - 1
        heads = self.pair_heads(output.recycled.prev_pair, features.arrays["seq_mask"][last])
        final = self._crop(with_pair_heads(output, heads), real)
        n = real.num_res
        return Prediction(c.name, self.params_id, seed, last, tuple(changes), final,
                          features.arrays["aatype"][last][:n],
                          features.arrays["residue_index"][last][:n],
                          features.arrays["seq_mask"][last][:n], c.global_config.dtype)

    def _prepare(self, features: ProcessedFeatures
                 ) -> tuple[ProcessedFeatures, BucketShape]:
        """The features as the model runs them (masked MSA padding trimmed when the
        global config says so, then padded to their bucket with ``buckets``) and the
        real sizes to crop the outputs back to."""
        caps = feature_shape(features)
        if self.config.global_config.trim_msa_padding:
            features = features.trimmed()
        real = feature_shape(features)
        if self.buckets:
            features = pad_features(features, bucket_shape(
                features, self.config.data.max_templates, caps))
        return features, real

    def _crop(self, output: IterationOutput, real: BucketShape) -> IterationOutput:
        """The outputs as NumPy arrays, cut back to the real sizes (on the host: slicing
        device arrays would compile a slice per target shape)."""
        output = jax.tree_util.tree_map(np.asarray, output)
        return crop_output(output, real.num_res, real.num_msa) if self.buckets else output

