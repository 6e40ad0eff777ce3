"""One recycling pass of AlphaFold-Multimer: trunk, structure module, heads, confidences.

The Haiku tree is ``alphafold`` -> ``alphafold_iteration`` -> ``evoformer`` (the
multimer trunk), ``structure_module`` (the multimer structure module) and the monomer
heads, which puts every parameter at its path in the official multimer v3 files. The
confidences add the interface pTM (ipTM, pTM over residue pairs of different chains)
and AlphaFold-Multimer's ranking confidence, 0.8 ipTM + 0.2 pTM. The recycling loop
and the MSA sampling of each pass live in :mod:`folding.model.multimer.runner`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import haiku as hk
import jax
import jax.numpy as jnp

from folding.model import confidence
from folding.model.alphafold import HeadsConfig, PairHeadsOutput, run_pair_heads
from folding.model.features import RecycledState
from folding.model.global_config import GlobalConfig
from folding.model.heads import (
    ExperimentallyResolvedHead,
    MaskedMsaConfig,
    MaskedMsaHead,
    PredictedAlignedErrorConfig,
    PredictedLDDTHead,
)
from folding.model.multimer.features import MultimerInputs
from folding.model.multimer.structure_module import (
    MultimerStructureModule,
    multimer_structure_config,
)
from folding.model.multimer.trunk import MultimerEmbeddingsAndEvoformer, MultimerTrunkConfig
from folding.model.structure_module import StructureModuleConfig

#: AlphaFold-Multimer's ranking: 0.8 ipTM + 0.2 pTM.
IPTM_WEIGHT = 0.8
PTM_WEIGHT = 0.2


def ranking_confidence(iptm: jax.Array, ptm: jax.Array) -> jax.Array:
    """0.8 ipTM + 0.2 pTM, the score AlphaFold-Multimer ranks predictions by."""
    return IPTM_WEIGHT * iptm + PTM_WEIGHT * ptm


@dataclass(frozen=True)
class MultimerHeadsConfig(HeadsConfig):
    """The heads of the multimer models: the masked-MSA head predicts 22 classes (no
    mask token) and every model has the PAE head."""

    masked_msa: MaskedMsaConfig = field(default_factory=lambda: MaskedMsaConfig(num_output=22))
    predicted_aligned_error: PredictedAlignedErrorConfig | None = field(
        default_factory=PredictedAlignedErrorConfig)


@dataclass(frozen=True)
class MultimerNetworkConfig:
    """The network of one multimer model."""

    trunk: MultimerTrunkConfig = field(default_factory=MultimerTrunkConfig)
    structure_module: StructureModuleConfig = field(
        default_factory=multimer_structure_config)
    heads: MultimerHeadsConfig = field(default_factory=MultimerHeadsConfig)


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class MultimerIterationOutput:
    """Everything one recycling pass predicts.

    Attributes:
        final_atom_positions: [L, 37, 3] atom37 coordinates (Angstrom).
        final_atom_mask: [L, 37] atoms the residue types have.
        plddt: [L] pLDDT (0-100); ``mean_plddt`` its mean over the residues.
        masked_msa_logits: [S, L, 22]; experimentally_resolved_logits: [L, 37];
        plddt_logits: [L, 50].
        recycled: the state the next pass starts from; single: [L, c_s].
        distogram_logits: [L, L, 64]; ``distogram_bin_edges`` [63].
        predicted_aligned_error: [L, L] PAE (Angstrom); ``max_predicted_aligned_error``.
        ptm: pTM of the whole complex; ``iptm``: pTM over inter-chain pairs;
        ranking_confidence: 0.8 ipTM + 0.2 pTM.

    The fields from ``distogram_logits`` on are the pair heads' (Suppl. 1.9.7-1.9.8,
    reduced on the device: the PAE head's [L, L, 64] logits are not returned): None
    for a pass run without them (:func:`with_pair_heads` completes it).
    """

    final_atom_positions: jax.Array
    final_atom_mask: jax.Array
    plddt: jax.Array
    mean_plddt: jax.Array
    masked_msa_logits: jax.Array
    experimentally_resolved_logits: jax.Array
    plddt_logits: jax.Array
    recycled: RecycledState
    single: jax.Array
    distogram_logits: jax.Array | None = None
    distogram_bin_edges: jax.Array | None = None
    predicted_aligned_error: jax.Array | None = None
    max_predicted_aligned_error: jax.Array | None = None
    ptm: jax.Array | None = None
    iptm: jax.Array | None = None
    ranking_confidence: jax.Array | None = None


def with_pair_heads(output: MultimerIterationOutput, heads: PairHeadsOutput
                    ) -> MultimerIterationOutput:
    """A pass's outputs completed by the pair heads run on its trunk's pair (with the
    chains, so that ipTM and the ranking confidence are filled in)."""
    return replace(output, distogram_logits=heads.distogram_logits,
                   distogram_bin_edges=heads.distogram_bin_edges,
                   predicted_aligned_error=heads.predicted_aligned_error,
                   max_predicted_aligned_error=heads.max_predicted_aligned_error,
                   ptm=heads.ptm, iptm=heads.iptm,
                   ranking_confidence=ranking_confidence(heads.iptm, heads.ptm))


class MultimerIteration(hk.Module):
    """One pass from a pass's inputs and the recycled state."""

    def __init__(self, config: MultimerNetworkConfig, global_config: GlobalConfig,
                 name: str = "alphafold_iteration") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, inputs: MultimerInputs, prev: RecycledState,
                 key: jax.Array | None = None, pair_heads: bool = True
                 ) -> MultimerIterationOutput:
        """Without ``pair_heads`` the distogram, PAE and TM-score fields are None: the
        caller runs the pair heads on the recycled pair of the pass it keeps."""
        c = self.config
        chunk_bytes = self.global_config.chunk_bytes
        rep = MultimerEmbeddingsAndEvoformer(c.trunk, self.global_config)(inputs, prev, key)
        structure = MultimerStructureModule(c.structure_module)(
            rep.single, rep.pair, inputs.aatype, inputs.seq_mask, is_training=key is not None,
            chunk_bytes=chunk_bytes)
        masked_msa = MaskedMsaHead(c.heads.masked_msa)(rep.msa)
        resolved = ExperimentallyResolvedHead()(rep.single)
        plddt_logits = PredictedLDDTHead(c.heads.predicted_lddt)(structure.single)
        metrics = confidence.confidence_metrics(plddt_logits, inputs.seq_mask)
        output = MultimerIterationOutput(
            final_atom_positions=structure.final_atom_positions,
            final_atom_mask=structure.final_atom_mask,
            plddt=metrics.plddt,
            mean_plddt=metrics.mean_plddt,
            masked_msa_logits=masked_msa,
            experimentally_resolved_logits=resolved,
            plddt_logits=plddt_logits,
            recycled=RecycledState(structure.final_atom_positions, rep.msa_first_row,
                                   rep.pair),
            single=rep.single,
        )
        if not pair_heads:
            return output
        return with_pair_heads(output, run_pair_heads(
            c.heads, chunk_bytes, rep.pair, inputs.seq_mask, inputs.asym_id))


class MultimerAlphaFold(hk.Module):
    """The ``alphafold`` scope around one pass; ``dropout`` draws a Haiku key."""

    def __init__(self, config: MultimerNetworkConfig, global_config: GlobalConfig,
                 name: str = "alphafold") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, inputs: MultimerInputs, prev: RecycledState,
                 dropout: bool = False, pair_heads: bool = True) -> MultimerIterationOutput:
        key = hk.next_rng_key() if dropout else None
        # The recycled pair stays in the trunk's dtype, as in the monomer models.
        prev = RecycledState(jnp.asarray(prev.prev_pos, jnp.float32),
                             jnp.asarray(prev.prev_msa_first_row, jnp.float32),
                             jnp.asarray(prev.prev_pair, self.global_config.compute_dtype))
        return MultimerIteration(self.config, self.global_config)(inputs, prev, key,
                                                                  pair_heads)


def multimer_forward(config: MultimerNetworkConfig, global_config: GlobalConfig,
                     pair_heads: bool = True) -> hk.Transformed:
    """The Haiku transform of one pass: ``apply(params, rng, inputs, prev)``.

    ``rng`` may be None unless ``global_config.eval_dropout`` is set. Without
    ``pair_heads`` the distogram, PAE and TM scores are left to
    :func:`folding.model.alphafold.pair_heads_forward` (with the chains).
    """
    def fn(inputs: MultimerInputs, prev: RecycledState) -> MultimerIterationOutput:
        return MultimerAlphaFold(config, global_config)(inputs, prev, global_config.eval_dropout,
                                                        pair_heads)

    return hk.transform(fn)
