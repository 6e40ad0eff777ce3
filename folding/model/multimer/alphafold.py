"""One recycling pass of AlphaFold-Multimer: trunk, structure module, heads, confidences.

The Haiku tree is ``alphafold`` -> ``alphafold_iteration`` -> ``evoformer`` (the
multimer trunk), ``structure_module`` (the multimer structure module) and the monomer
heads, which puts every parameter at its path in the official multimer v3 files. The
confidences add the interface pTM (ipTM, pTM over residue pairs of different chains)
and AlphaFold-Multimer's ranking confidence, 0.8 ipTM + 0.2 pTM. The recycling loop
and the MSA sampling of each pass live in :mod:`folding.model.multimer.runner`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import haiku as hk
import jax
import jax.numpy as jnp

from folding.model import confidence
from folding.model.features import RecycledState
from folding.model.global_config import GlobalConfig
from folding.model.heads import (
    DistogramConfig,
    DistogramHead,
    ExperimentallyResolvedHead,
    MaskedMsaConfig,
    MaskedMsaHead,
    PredictedAlignedErrorConfig,
    PredictedAlignedErrorHead,
    PredictedLddtConfig,
    PredictedLDDTHead,
)
from folding.model.multimer.features import MultimerInputs
from folding.model.multimer.structure_module import (
    MultimerStructureModule,
    MultimerStructureModuleConfig,
)
from folding.model.multimer.trunk import MultimerEmbeddingsAndEvoformer, MultimerTrunkConfig

#: AlphaFold-Multimer's ranking: 0.8 ipTM + 0.2 pTM.
IPTM_WEIGHT = 0.8
PTM_WEIGHT = 0.2


def ranking_confidence(iptm: jax.Array, ptm: jax.Array) -> jax.Array:
    """0.8 ipTM + 0.2 pTM, the score AlphaFold-Multimer ranks predictions by."""
    return IPTM_WEIGHT * iptm + PTM_WEIGHT * ptm


@dataclass(frozen=True)
class MultimerHeadsConfig:
    """The heads of the multimer models: the masked-MSA head predicts 22 classes (no
    mask token) and every model has the PAE head."""

    distogram: DistogramConfig = field(default_factory=DistogramConfig)
    masked_msa: MaskedMsaConfig = field(default_factory=lambda: MaskedMsaConfig(num_output=22))
    predicted_lddt: PredictedLddtConfig = field(default_factory=PredictedLddtConfig)
    predicted_aligned_error: PredictedAlignedErrorConfig = field(
        default_factory=PredictedAlignedErrorConfig)


@dataclass(frozen=True)
class MultimerNetworkConfig:
    """The network of one multimer model."""

    trunk: MultimerTrunkConfig = field(default_factory=MultimerTrunkConfig)
    structure_module: MultimerStructureModuleConfig = field(
        default_factory=MultimerStructureModuleConfig)
    heads: MultimerHeadsConfig = field(default_factory=MultimerHeadsConfig)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class MultimerIterationOutput:
    """Everything one recycling pass predicts.

    Attributes:
        final_atom_positions: [L, 37, 3] atom37 coordinates (Angstrom).
        final_atom_mask: [L, 37] atoms the residue types have.
        plddt: [L] pLDDT (0-100); ``mean_plddt`` its mean over the residues.
        predicted_aligned_error: [L, L] PAE (Angstrom); ``max_predicted_aligned_error``.
        ptm: pTM of the whole complex; ``iptm``: pTM over inter-chain pairs;
        ranking_confidence: 0.8 ipTM + 0.2 pTM.
        distogram_logits: [L, L, 64]; ``distogram_bin_edges`` [63].
        masked_msa_logits: [S, L, 22]; experimentally_resolved_logits: [L, 37];
        plddt_logits: [L, 50]; aligned_error_logits: [L, L, 64] with
        ``aligned_error_breaks`` [63].
        recycled: the state the next pass starts from; single: [L, c_s].
    """

    final_atom_positions: jax.Array
    final_atom_mask: jax.Array
    plddt: jax.Array
    mean_plddt: jax.Array
    predicted_aligned_error: jax.Array
    max_predicted_aligned_error: jax.Array
    ptm: jax.Array
    iptm: jax.Array
    ranking_confidence: jax.Array
    distogram_logits: jax.Array
    distogram_bin_edges: jax.Array
    masked_msa_logits: jax.Array
    experimentally_resolved_logits: jax.Array
    plddt_logits: jax.Array
    aligned_error_logits: jax.Array
    aligned_error_breaks: jax.Array
    recycled: RecycledState
    single: jax.Array


class MultimerIteration(hk.Module):
    """One pass from a pass's inputs and the recycled state."""

    def __init__(self, config: MultimerNetworkConfig, global_config: GlobalConfig,
                 name: str = "alphafold_iteration") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, inputs: MultimerInputs, prev: RecycledState,
                 key: jax.Array | None = None) -> MultimerIterationOutput:
        c = self.config
        rep = MultimerEmbeddingsAndEvoformer(c.trunk, self.global_config)(inputs, prev, key)
        structure = MultimerStructureModule(c.structure_module)(
            rep.single, rep.pair, inputs.aatype, inputs.seq_mask, is_training=key is not None)
        distogram = DistogramHead(c.heads.distogram)(rep.pair)
        masked_msa = MaskedMsaHead(c.heads.masked_msa)(rep.msa)
        resolved = ExperimentallyResolvedHead()(rep.single)
        plddt_logits = PredictedLDDTHead(c.heads.predicted_lddt)(structure.single)
        pae = PredictedAlignedErrorHead(c.heads.predicted_aligned_error)(rep.pair)
        seq_mask = inputs.seq_mask.astype(jnp.float32)
        metrics = confidence.confidence_metrics(plddt_logits, seq_mask, pae.logits, pae.breaks)
        iptm = confidence.predicted_tm_score(pae.logits, pae.breaks, seq_mask, inputs.asym_id)
        aligned = metrics.aligned_error
        return MultimerIterationOutput(
            final_atom_positions=structure.final_atom_positions,
            final_atom_mask=structure.final_atom_mask,
            plddt=metrics.plddt,
            mean_plddt=metrics.mean_plddt,
            predicted_aligned_error=aligned.pae,
            max_predicted_aligned_error=aligned.max_pae,
            ptm=metrics.ptm,
            iptm=iptm,
            ranking_confidence=ranking_confidence(iptm, metrics.ptm),
            distogram_logits=distogram.logits,
            distogram_bin_edges=distogram.bin_edges,
            masked_msa_logits=masked_msa,
            experimentally_resolved_logits=resolved,
            plddt_logits=plddt_logits,
            aligned_error_logits=pae.logits,
            aligned_error_breaks=pae.breaks,
            recycled=RecycledState(structure.final_atom_positions, rep.msa_first_row,
                                   rep.pair),
            single=rep.single,
        )


class MultimerAlphaFold(hk.Module):
    """The ``alphafold`` scope around one pass; ``dropout`` draws a Haiku key."""

    def __init__(self, config: MultimerNetworkConfig, global_config: GlobalConfig,
                 name: str = "alphafold") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, inputs: MultimerInputs, prev: RecycledState,
                 dropout: bool = False) -> MultimerIterationOutput:
        key = hk.next_rng_key() if dropout else None
        prev = jax.tree_util.tree_map(lambda x: jnp.asarray(x, jnp.float32), prev)
        return MultimerIteration(self.config, self.global_config)(inputs, prev, key)


def multimer_forward(config: MultimerNetworkConfig,
                     global_config: GlobalConfig) -> hk.Transformed:
    """The Haiku transform of one pass: ``apply(params, rng, inputs, prev)``.

    ``rng`` may be None unless ``global_config.eval_dropout`` is set.
    """
    def fn(inputs: MultimerInputs, prev: RecycledState) -> MultimerIterationOutput:
        return MultimerAlphaFold(config, global_config)(inputs, prev, global_config.eval_dropout)

    return hk.transform(fn)
