"""Running a multimer model: MSA sampling per pass, recycling, seeds, ranking.

Each recycling pass draws its MSA sample (cluster centres, masking, cluster profiles)
from its own key, derived from the seed as the reference derives it
(:mod:`folding.model.multimer.sampling`), and runs the compiled pass of
:mod:`folding.model.multimer.alphafold` from the previous pass's positions, first MSA
row and pair. Recycling stops after ``num_recycle`` passes or once the CA-CA distances
change by less than the early-stop tolerance (AlphaFold 2.3: up to 20 recycles,
0.5 Angstrom). Different seeds give different samples: AlphaFold-Multimer runs several
predictions (seeds) per model and ranks all of them by 0.8 ipTM + 0.2 pTM.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import numpy as np

from folding.common.protein import Protein
from folding.errors import InputError
from folding.model.alphafold import PairHeadsOutput, pair_heads_forward
from folding.model.features import RecycledState
from folding.model.global_config import GlobalConfig
from folding.model.memory_plan import CompiledMemory
from folding.model.multimer.alphafold import (
    MultimerIterationOutput,
    MultimerNetworkConfig,
    multimer_forward,
    with_pair_heads,
)
from folding.model.multimer.config import MultimerModelConfig
from folding.model.multimer.features import MultimerFeatures
from folding.model.multimer.sampling import (
    SampledMsa,
    recycling_pass_keys,
    sample_msa,
    sampling_keys,
    trim_sample,
)
from folding.model.params import Params
from folding.model.result_file import result_arrays
from folding.model.runner import ca_distance_change

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MultimerPrediction:
    """The final pass's outputs (NumPy arrays) and how they were made.

    ``num_recycles`` counts the passes run after the first; ``recycle_changes`` holds the
    CA distance change of each pass from the one before (the first from the start);
    ``dtype`` is the trunk's compute dtype.
    """

    model_name: str
    params_id: str
    seed: int
    num_recycles: int
    recycle_changes: tuple[float, ...]
    output: MultimerIterationOutput
    aatype: np.ndarray
    residue_index: np.ndarray
    asym_id: np.ndarray
    entity_id: np.ndarray
    sym_id: np.ndarray
    dtype: str = "float32"

    @property
    def ranking_confidence(self) -> float:
        """0.8 ipTM + 0.2 pTM (AlphaFold-Multimer's ranking score, 0-1)."""
        return float(self.output.ranking_confidence)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The ``folding model run`` output file's arrays (:mod:`folding.model.result_file`):
        the monomer keys plus ``iptm`` and the chain of each residue (``asym_id``,
        ``entity_id``, ``sym_id``)."""
        o = self.output
        outputs = {
            "final_atom_positions": o.final_atom_positions,
            "final_atom_mask": o.final_atom_mask,
            "plddt": o.plddt,
            "mean_plddt": o.mean_plddt,
            "ranking_confidence": o.ranking_confidence,
            "distogram_logits": o.distogram_logits,
            "distogram_bin_edges": o.distogram_bin_edges,
            "experimentally_resolved_logits": o.experimentally_resolved_logits,
            "predicted_aligned_error": o.predicted_aligned_error,
            "max_predicted_aligned_error": o.max_predicted_aligned_error,
            "ptm": o.ptm,
            "iptm": o.iptm,
        }
        return result_arrays(outputs, {
            "aatype": np.asarray(self.aatype, np.int32),
            "residue_index": np.asarray(self.residue_index, np.int32),
            "asym_id": np.asarray(self.asym_id, np.int32),
            "entity_id": np.asarray(self.entity_id, np.int32),
            "sym_id": np.asarray(self.sym_id, np.int32),
            "num_recycles": np.int32(self.num_recycles),
            "recycle_changes": np.asarray(self.recycle_changes, np.float32),
            "model_name": np.str_(self.model_name),
            "params_id": np.str_(self.params_id),
            "seed": np.int64(self.seed),
            "dtype": np.str_(self.dtype),
        })

    def to_protein(self, remarks: Sequence[str] = (), chain_ids: Sequence[str] = ()
                   ) -> Protein:
        """The predicted complex, one chain per ``asym_id`` (A, B, ... in feature order,
        as AlphaFold writes it, unless ``chain_ids`` names them), pLDDT as B-factors."""
        return Protein.from_prediction(
            aatype=self.aatype, final_atom_positions=self.output.final_atom_positions,
            final_atom_mask=self.output.final_atom_mask, residue_index=self.residue_index,
            plddt=self.output.plddt, chain_index=np.asarray(self.asym_id, np.int32) - 1,
            chain_ids=chain_ids, remarks=remarks)


@functools.lru_cache(maxsize=8)
def compiled_pass(network: MultimerNetworkConfig, global_config: GlobalConfig) -> Callable:
    """The jitted ``apply(params, key, inputs, prev)`` of one pass without the pair heads,
    shared by every runner of the same network (the five models, every seed): compiled
    once per input shape. ``prev`` is donated, as in the monomer runner: its device
    buffers become the next recycled state's, so a caller must not read them after."""
    return jax.jit(multimer_forward(network, global_config, pair_heads=False).apply,
                   donate_argnums=(3,))


@functools.lru_cache(maxsize=8)
def compiled_pair_heads(network: MultimerNetworkConfig, global_config: GlobalConfig
                        ) -> Callable:
    """The jitted ``apply(params, None, pair, seq_mask, asym_id)`` of the distogram and
    PAE heads with pTM and ipTM, run once on the final pass's recycled pair."""
    return jax.jit(pair_heads_forward(network.heads, global_config).apply)


@functools.lru_cache(maxsize=1)
def compiled_sampler() -> Callable:
    """The jitted sampler ``(raw, sample_key, mask_key, config)`` (the config static)."""
    return jax.jit(sample_msa, static_argnums=3)


class MultimerRunner:
    """One multimer model with its parameters, compiled once per input shape."""

    def __init__(self, config: MultimerModelConfig, params: Params, params_id: str) -> None:
        self.config = config
        self.params_id = params_id
        self.params = jax.device_put(params)
        self._apply = compiled_pass(config.network, config.global_config)
        self._pair_heads = compiled_pair_heads(config.network, config.global_config)
        self._sample = compiled_sampler()

    def sample(self, features: MultimerFeatures, pass_key: jax.Array) -> SampledMsa:
        """The MSA sample of the pass with key ``pass_key`` (padding rows trimmed)."""
        sample_key, mask_key = sampling_keys(pass_key)
        sample = self._sample(features.raw_msa(), sample_key, mask_key, self.config.sampling)
        if self.config.global_config.trim_msa_padding:
            sample = trim_sample(sample)
        return sample

    def iteration(self, features: MultimerFeatures, sample: SampledMsa, prev: RecycledState,
                  key: jax.Array | None = None) -> MultimerIterationOutput:
        """One pass on ``sample`` from ``prev`` (no output cast), without the pair heads
        (:meth:`pair_heads` completes it); ``prev``'s device buffers are donated."""
        with jax.default_matmul_precision(
                self.config.global_config.resolved_matmul_precision):
            return self._apply(self.params, key, features.inputs(sample), prev)

    def pair_heads(self, features: MultimerFeatures, pair: jax.Array) -> PairHeadsOutput:
        """The distogram, PAE, pTM and ipTM from a pass's recycled pair [L, L, c_z]."""
        a = features.arrays
        with jax.default_matmul_precision(
                self.config.global_config.resolved_matmul_precision):
            return self._pair_heads(self.params, None, pair, a["seq_mask"], a["asym_id"])

    def full_iteration(self, features: MultimerFeatures, sample: SampledMsa,
                       prev: RecycledState, key: jax.Array | None = None
                       ) -> MultimerIterationOutput:
        """:meth:`iteration` completed by :meth:`pair_heads` on its pair."""
        output = self.iteration(features, sample, prev, key)
        return with_pair_heads(output, self.pair_heads(features, output.recycled.prev_pair))

    def _zero_state(self, num_res: int) -> RecycledState:
        emb = self.config.network.trunk.embeddings
        return RecycledState.zeros(num_res, emb.msa_channel, emb.pair_channel,
                                   self.config.global_config.compute_dtype)

    def compiled_memory(self, features: MultimerFeatures, seed: int = 0) -> CompiledMemory:
        """XLA's memory analysis at the shape ``seed``'s samples give these features,
        compiling the pass and the pair heads (the executables :meth:`predict` then
        runs): the one that needs more."""
        c = self.config
        sample = self.sample(features, recycling_pass_keys(seed, 1)[0])
        prev = self._zero_state(features.num_res)
        key = jax.random.PRNGKey(0) if c.global_config.eval_dropout else None
        a = features.arrays
        with jax.default_matmul_precision(c.global_config.resolved_matmul_precision):
            compiled = [
                self._apply.lower(self.params, key, features.inputs(sample), prev).compile(),
                self._pair_heads.lower(self.params, None, prev.prev_pair, a["seq_mask"],
                                       a["asym_id"]).compile()]
        return max((CompiledMemory.of(e) for e in compiled), key=lambda f: f.needed_bytes)

    def predict(self, features: MultimerFeatures, seed: int = 0, model_name: str | None = None,
                callback: Callable[[int, MultimerIterationOutput, float], None] | None = None
                ) -> MultimerPrediction:
        """All recycling passes with the samples of ``seed`` (or until the tolerance).

        ``callback(r, output, change)`` sees each pass's outputs without the pair heads
        (they run once, on the last pass's pair); their recycled state is donated to
        the next pass, so it must not be kept.
        """
        c = self.config
        if seed < 0:
            raise InputError(f"the seed must be 0 or more, not {seed}")
        prev = self._zero_state(features.num_res)
        seq_mask = features.arrays["seq_mask"]
        changes: list[float] = []
        output = None
        num_passes = c.num_recycle + 1
        for r, pass_key in enumerate(recycling_pass_keys(seed, num_passes)):
            start = time.perf_counter()
            dropout_key = (jax.random.fold_in(pass_key, 1) if c.global_config.eval_dropout
                           else None)
            previous_positions = np.asarray(prev.prev_pos)  # prev is donated below
            # Only the recycled state is needed from the pass before: its other outputs
            # are released before this pass allocates its own.
            output = None
            output = self.iteration(features, self.sample(features, pass_key), prev,
                                    dropout_key)
            change = float(ca_distance_change(previous_positions, output.final_atom_positions,
                                              seq_mask))
            changes.append(change)
            prev = output.recycled
            log.info("%s seed %d: pass %d/%d in %.1f s, pLDDT %.2f, CA distance change "
                     "%.3f A", c.name, seed, r + 1, num_passes, time.perf_counter() - start,
                     float(output.mean_plddt), change)
            if callback is not None:
                callback(r, output, change)
            if r > 0 and change < c.recycle_early_stop_tolerance:
                log.info("%s seed %d: recycling stopped early after %d recycles", c.name,
                         seed, r)
                break
        assert output is not None
        output = with_pair_heads(output, self.pair_heads(features, output.recycled.prev_pair))
        final = jax.tree_util.tree_map(np.asarray, output)
        a = features.arrays
        return MultimerPrediction(model_name or c.name, self.params_id, seed, len(changes) - 1,
                                  tuple(changes), final, a["aatype"], a["residue_index"],
                                  a["asym_id"], a["entity_id"], a["sym_id"],
                                  c.global_config.dtype)


def rank_predictions(predictions: Sequence[MultimerPrediction]) -> list[MultimerPrediction]:
    """The predictions best first by 0.8 ipTM + 0.2 pTM (ties keep their order)."""
    return sorted(predictions, key=lambda p: -p.ranking_confidence)
