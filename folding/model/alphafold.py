"""One recycling iteration of AlphaFold2: trunk, structure module, heads and confidences.

Suppl. Alg. 2 lines 5-22 for one pass. The Haiku tree is ``alphafold`` ->
``alphafold_iteration`` -> ``evoformer`` (the trunk), ``structure_module`` and the
heads, which puts every parameter at its official path. The recycling loop lives in
:mod:`folding.model.runner`: each pass is one call of the compiled iteration.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import haiku as hk
import jax
import jax.numpy as jnp

from folding.model import confidence
from folding.model.features import ModelInputs, RecycledState
from folding.model.global_config import GlobalConfig
from folding.model.heads import (
    AlignedErrorByRows,
    DistogramConfig,
    DistogramHead,
    ExperimentallyResolvedHead,
    MaskedMsaConfig,
    MaskedMsaHead,
    PredictedAlignedErrorConfig,
    PredictedLddtConfig,
    PredictedLDDTHead,
)
from folding.model.structure_module import StructureModule, StructureModuleConfig
from folding.model.trunk import EmbeddingsAndEvoformer, TrunkConfig


@dataclass(frozen=True)
class HeadsConfig:
    """The heads of a model (Suppl. 1.9); ``predicted_aligned_error`` is None for the
    models without the PAE head (the non-pTM ones)."""

    distogram: DistogramConfig = field(default_factory=DistogramConfig)
    masked_msa: MaskedMsaConfig = field(default_factory=MaskedMsaConfig)
    predicted_lddt: PredictedLddtConfig = field(default_factory=PredictedLddtConfig)
    predicted_aligned_error: PredictedAlignedErrorConfig | None = None


@dataclass(frozen=True)
class NetworkConfig:
    """The network of one model: trunk, structure module and heads."""

    trunk: TrunkConfig = field(default_factory=TrunkConfig)
    structure_module: StructureModuleConfig = field(default_factory=StructureModuleConfig)
    heads: HeadsConfig = field(default_factory=HeadsConfig)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class IterationOutput:
    """Everything one recycling iteration predicts.

    Attributes:
        final_atom_positions: [L, 37, 3] atom37 coordinates (Angstrom).
        final_atom_mask: [L, 37] atoms the residue types have.
        plddt: [L] pLDDT (0-100); ``mean_plddt`` its mean over the residues.
        distogram_logits: [L, L, 64]; ``distogram_bin_edges`` [63] (Angstrom).
        masked_msa_logits: [N, L, 23].
        experimentally_resolved_logits: [L, 37].
        plddt_logits: [L, 50].
        predicted_aligned_error: [L, L] PAE (Angstrom), ``max_predicted_aligned_error``
            and ``ptm``: None without the PAE head. The PAE head's logits (64 bins per
            residue pair, 9 GB in float32 at L = 6,000) are reduced to these on the
            device and not returned.
        recycled: the state the next iteration starts from.
        single: [L, c_s] trunk single representation.
    """

    final_atom_positions: jax.Array
    final_atom_mask: jax.Array
    plddt: jax.Array
    mean_plddt: jax.Array
    distogram_logits: jax.Array
    distogram_bin_edges: jax.Array
    masked_msa_logits: jax.Array
    experimentally_resolved_logits: jax.Array
    plddt_logits: jax.Array
    recycled: RecycledState
    single: jax.Array
    predicted_aligned_error: jax.Array | None = None
    max_predicted_aligned_error: jax.Array | None = None
    ptm: jax.Array | None = None


class AlphaFoldIteration(hk.Module):
    """Suppl. Alg. 2 lines 5-22: one pass from the inputs and the recycled state."""

    def __init__(self, config: NetworkConfig, global_config: GlobalConfig,
                 name: str = "alphafold_iteration") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, inputs: ModelInputs, prev: RecycledState,
                 key: jax.Array | None = None) -> IterationOutput:
        c = self.config
        dropout = key is not None
        rep = EmbeddingsAndEvoformer(c.trunk, self.global_config)(inputs, prev, key)
        structure = StructureModule(c.structure_module)(
            rep.single, rep.pair, inputs.aatype, inputs.seq_mask, is_training=dropout,
            chunk_bytes=self.global_config.chunk_bytes)
        # The pair-sized heads run a block of rows at a time (no [L, L, 64] temporaries).
        chunk_bytes = self.global_config.chunk_bytes
        distogram = DistogramHead(c.heads.distogram)(rep.pair, chunk_bytes)
        masked_msa = MaskedMsaHead(c.heads.masked_msa)(rep.msa)
        resolved = ExperimentallyResolvedHead()(rep.single)
        plddt_logits = PredictedLDDTHead(c.heads.predicted_lddt)(structure.single)
        aligned = None
        if c.heads.predicted_aligned_error is not None:
            aligned = AlignedErrorByRows(c.heads.predicted_aligned_error)(
                rep.pair, inputs.seq_mask, chunk_bytes)
        metrics = confidence.confidence_metrics(plddt_logits, inputs.seq_mask)
        return IterationOutput(
            final_atom_positions=structure.final_atom_positions,
            final_atom_mask=structure.final_atom_mask,
            plddt=metrics.plddt,
            mean_plddt=metrics.mean_plddt,
            distogram_logits=distogram.logits,
            distogram_bin_edges=distogram.bin_edges,
            masked_msa_logits=masked_msa,
            experimentally_resolved_logits=resolved,
            plddt_logits=plddt_logits,
            recycled=RecycledState(structure.final_atom_positions, rep.msa_first_row,
                                   rep.pair),
            single=rep.single,
            predicted_aligned_error=None if aligned is None else aligned.pae,
            max_predicted_aligned_error=None if aligned is None else aligned.max_pae,
            ptm=None if aligned is None else aligned.ptm,
        )


class AlphaFold(hk.Module):
    """The ``alphafold`` scope around one iteration; ``dropout`` draws a Haiku key."""

    def __init__(self, config: NetworkConfig, global_config: GlobalConfig,
                 name: str = "alphafold") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, inputs: ModelInputs, prev: RecycledState,
                 dropout: bool = False) -> IterationOutput:
        key = hk.next_rng_key() if dropout else None
        # The recycled pair stays in the trunk's dtype: in bfloat16 it holds bfloat16
        # values, which a float32 copy would only double (18 GB at L = 6,000).
        prev = RecycledState(jnp.asarray(prev.prev_pos, jnp.float32),
                             jnp.asarray(prev.prev_msa_first_row, jnp.float32),
                             jnp.asarray(prev.prev_pair, self.global_config.compute_dtype))
        return AlphaFoldIteration(self.config, self.global_config)(inputs, prev, key)


def forward(config: NetworkConfig, global_config: GlobalConfig) -> hk.Transformed:
    """The Haiku transform of one iteration: ``apply(params, rng, inputs, prev)``.

    ``rng`` may be None unless ``global_config.eval_dropout`` is set.
    """
    def fn(inputs: ModelInputs, prev: RecycledState) -> IterationOutput:
        return AlphaFold(config, global_config)(inputs, prev, global_config.eval_dropout)

    return hk.transform(fn)
