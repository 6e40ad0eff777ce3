"""One recycling iteration of AlphaFold2: trunk, structure module, heads and confidences.

Suppl. Alg. 2 lines 5-22 for one pass. The Haiku tree is ``alphafold`` ->
``alphafold_iteration`` -> ``evoformer`` (the trunk), ``structure_module`` and the
heads, which puts every parameter at its official path. The recycling loop lives in
:mod:`folding.model.runner`: each pass is one call of the compiled iteration.

The two heads read from the pair representation alone, the distogram and the PAE head,
can also run as a separate transform (:func:`pair_heads_forward`) on the final pass's
recycled pair, which is the trunk's output pair: the passes before the last then skip
them, and the distogram's [L, L, 64] logits (9 GB in float32 at L = 6,000) are not
held beside the trunk's own buffers at its peak.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

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
        distogram_logits: [L, L, 64]; ``distogram_bin_edges`` [63] (Angstrom); None
            for a pass run without the pair heads (see :class:`PairHeadsOutput`).
        masked_msa_logits: [N, L, 23].
        experimentally_resolved_logits: [L, 37].
        plddt_logits: [L, 50].
        predicted_aligned_error: [L, L] PAE (Angstrom), ``max_predicted_aligned_error``
            and ``ptm``: None without the PAE head or the pair heads. The PAE head's
            logits (64 bins per residue pair, 9 GB in float32 at L = 6,000) are
            reduced to these on the device and not returned.
        recycled: the state the next iteration starts from.
        single: [L, c_s] trunk single representation.
    """

    final_atom_positions: jax.Array
    final_atom_mask: jax.Array
    plddt: jax.Array
    mean_plddt: jax.Array
    distogram_logits: jax.Array | None
    distogram_bin_edges: jax.Array | None
    masked_msa_logits: jax.Array
    experimentally_resolved_logits: jax.Array
    plddt_logits: jax.Array
    recycled: RecycledState
    single: jax.Array
    predicted_aligned_error: jax.Array | None = None
    max_predicted_aligned_error: jax.Array | None = None
    ptm: jax.Array | None = None


@jax.tree_util.register_dataclass
@dataclass(frozen=True)
class PairHeadsOutput:
    """The heads that read the pair representation alone (Suppl. 1.9.8 distogram,
    1.9.7 PAE and pTM); the PAE fields are None for a model without the PAE head, and
    ``iptm`` (the interface pTM of a complex) is None unless the chains were given."""

    distogram_logits: jax.Array
    distogram_bin_edges: jax.Array
    predicted_aligned_error: jax.Array | None = None
    max_predicted_aligned_error: jax.Array | None = None
    ptm: jax.Array | None = None
    iptm: jax.Array | None = None


def with_pair_heads(output: IterationOutput, heads: PairHeadsOutput) -> IterationOutput:
    """A pass's outputs completed by the pair heads run on its trunk's pair."""
    return replace(output, distogram_logits=heads.distogram_logits,
                   distogram_bin_edges=heads.distogram_bin_edges,
                   predicted_aligned_error=heads.predicted_aligned_error,
                   max_predicted_aligned_error=heads.max_predicted_aligned_error,
                   ptm=heads.ptm)


class AlphaFoldIteration(hk.Module):
    """Suppl. Alg. 2 lines 5-22: one pass from the inputs and the recycled state."""

    def __init__(self, config: NetworkConfig, global_config: GlobalConfig,
                 name: str = "alphafold_iteration") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, inputs: ModelInputs, prev: RecycledState,
                 key: jax.Array | None = None, pair_heads: bool = True) -> IterationOutput:
        """With ``pair_heads`` False the distogram and PAE fields are None: the caller
        runs :func:`run_pair_heads` on the recycled pair of the pass it keeps."""
        c = self.config
        dropout = key is not None
        rep = EmbeddingsAndEvoformer(c.trunk, self.global_config)(inputs, prev, key)
        structure = StructureModule(c.structure_module)(
            rep.single, rep.pair, inputs.aatype, inputs.seq_mask, is_training=dropout,
            chunk_bytes=self.global_config.chunk_bytes)
        masked_msa = MaskedMsaHead(c.heads.masked_msa)(rep.msa)
        resolved = ExperimentallyResolvedHead()(rep.single)
        plddt_logits = PredictedLDDTHead(c.heads.predicted_lddt)(structure.single)
        metrics = confidence.confidence_metrics(plddt_logits, inputs.seq_mask)
        output = IterationOutput(
            final_atom_positions=structure.final_atom_positions,
            final_atom_mask=structure.final_atom_mask,
            plddt=metrics.plddt,
            mean_plddt=metrics.mean_plddt,
            distogram_logits=None,
            distogram_bin_edges=None,
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
            c.heads, self.global_config.chunk_bytes, rep.pair, inputs.seq_mask))


def run_pair_heads(heads: HeadsConfig, chunk_bytes: int, pair: jax.Array,
                   seq_mask: jax.Array, asym_id: jax.Array | None = None
                   ) -> PairHeadsOutput:
    """The distogram and PAE heads on the trunk's output pair [L, L, c_z], a block of
    rows at a time (no [L, L, 64] temporaries beside the distogram itself), made in the
    current Haiku scope (``alphafold/alphafold_iteration`` for their official paths).
    With ``asym_id`` [L] (a complex's chain of each residue) ipTM is computed too."""
    distogram = DistogramHead(heads.distogram)(pair, chunk_bytes)
    if heads.predicted_aligned_error is None:
        return PairHeadsOutput(distogram.logits, distogram.bin_edges)
    aligned = AlignedErrorByRows(heads.predicted_aligned_error)(
        pair, seq_mask, chunk_bytes, asym_id)
    return PairHeadsOutput(distogram.logits, distogram.bin_edges, aligned.pae,
                           aligned.max_pae, aligned.ptm, aligned.iptm)


class AlphaFold(hk.Module):
    """The ``alphafold`` scope around one iteration; ``dropout`` draws a Haiku key."""

    def __init__(self, config: NetworkConfig, global_config: GlobalConfig,
                 name: str = "alphafold") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, inputs: ModelInputs, prev: RecycledState,
                 dropout: bool = False, pair_heads: bool = True) -> IterationOutput:
        key = hk.next_rng_key() if dropout else None
        # The recycled pair stays in the trunk's dtype: in bfloat16 it holds bfloat16
        # values, which a float32 copy would only double (18 GB at L = 6,000).
        prev = RecycledState(jnp.asarray(prev.prev_pos, jnp.float32),
                             jnp.asarray(prev.prev_msa_first_row, jnp.float32),
                             jnp.asarray(prev.prev_pair, self.global_config.compute_dtype))
        return AlphaFoldIteration(self.config, self.global_config)(inputs, prev, key,
                                                                   pair_heads)


def forward(config: NetworkConfig, global_config: GlobalConfig,
            pair_heads: bool = True) -> hk.Transformed:
    """The Haiku transform of one iteration: ``apply(params, rng, inputs, prev)``.

    ``rng`` may be None unless ``global_config.eval_dropout`` is set. Without
    ``pair_heads`` the distogram and PAE are left to :func:`pair_heads_forward`.
    """
    def fn(inputs: ModelInputs, prev: RecycledState) -> IterationOutput:
        return AlphaFold(config, global_config)(inputs, prev, global_config.eval_dropout,
                                                pair_heads)

    return hk.transform(fn)


def pair_heads_forward(heads: HeadsConfig, global_config: GlobalConfig
                       ) -> hk.Transformed:
    """The Haiku transform of the pair heads alone: ``apply(params, None, pair,
    seq_mask[, asym_id])`` on an iteration's recycled pair, with the iteration's
    parameters (a monomer's or a multimer's: the heads sit at the same paths)."""
    def fn(pair: jax.Array, seq_mask: jax.Array,
           asym_id: jax.Array | None = None) -> PairHeadsOutput:
        with hk.name_scope("alphafold"), hk.name_scope("alphafold_iteration"):
            return run_pair_heads(heads, global_config.chunk_bytes,
                                  jnp.asarray(pair, global_config.compute_dtype), seq_mask,
                                  asym_id)

    return hk.transform(fn)
