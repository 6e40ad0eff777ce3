"""The network heads: distogram, masked MSA, pLDDT, experimentally resolved, PAE.

Each head is a small Haiku module under its official name, called on one representation
and returning logits (supplement section 1.9). Heads compute in float32 with
full-precision matmuls whatever the trunk's dtype and matmul precision. Turning
logits into confidences is :mod:`folding.model.confidence`.
"""

from __future__ import annotations

import dataclasses

import haiku as hk
import jax
import jax.numpy as jnp

from folding.common.atoms import NUM_ATOM37
from folding.model import chunking, confidence
from folding.model.primitives import LayerNorm, Linear, dense, linear_params

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class DistogramConfig:
    """Supplement 1.9.8: 64 bins between 2.3125 and 21.6875 Angstrom."""

    num_bins: int = 64
    first_break: float = 2.3125
    last_break: float = 21.6875


@dataclasses.dataclass(frozen=True)
class MaskedMsaConfig:
    """Supplement 1.9.9: 20 amino acids, unknown, gap and the mask token."""

    num_output: int = 23


@dataclasses.dataclass(frozen=True)
class PredictedLddtConfig:
    """Algorithm 29: 50 bins of lDDT-Ca over [0, 1]."""

    num_channels: int = 128
    num_bins: int = 50


@dataclasses.dataclass(frozen=True)
class PredictedAlignedErrorConfig:
    """Supplement 1.9.7: 64 bins of aligned error, the last open-ended beyond 31 A."""

    num_bins: int = 64
    max_error_bin: float = 31.0


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class DistogramLogits:
    """logits [L, L, num_bins] (symmetric) and the bin edges [num_bins - 1] (Angstrom)."""

    logits: Array
    bin_edges: Array


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class AlignedErrorLogits:
    """logits [L, L, num_bins] (row: aligned frame, column: residue) and the bin
    breaks [num_bins - 1] (Angstrom)."""

    logits: Array
    breaks: Array


def _f32(x: Array) -> Array:
    return x.astype(jnp.float32)


def _full_precision():
    """Full float32 matmuls even where the default allows TF32 (GPUs), which would move
    the logits by about 1e-3 relative."""
    return jax.default_matmul_precision("highest")


class DistogramHead(hk.Module):
    """Pair representation -> distogram logits over pseudo-beta distances (1.9.8)."""

    def __init__(self, config: DistogramConfig | None = None,
                 name: str = "distogram_head") -> None:
        super().__init__(name=name)
        self.config = config or DistogramConfig()

    def __call__(self, pair: Array, chunk_bytes: int | None = None) -> DistogramLogits:
        """Symmetric logits: the projection of z_ij plus that of z_ji.

        With ``chunk_bytes`` they are made a block of rows at a time as the projection
        of z_ij + z_ji (plus twice the bias), so no [L, L, num_bins] intermediate
        exists beside the logits (the same numbers up to rounding).
        """
        c = self.config
        edges = jnp.linspace(c.first_break, c.last_break, c.num_bins - 1)
        if chunk_bytes is None:
            with _full_precision():
                half = Linear(c.num_bins, name="half_logits")(_f32(pair))
            return DistogramLogits(half + jnp.swapaxes(half, 0, 1), edges)
        num_res, _, channels = pair.shape
        weights, bias = linear_params("half_logits", (channels,), (c.num_bins,), jnp.float32)

        def rows(block: Array, block_t: Array) -> Array:
            with _full_precision():
                summed = _f32(block) + jnp.swapaxes(_f32(block_t), 0, 1)
                return dense(summed, weights, 2.0 * bias)

        item = num_res * (3 * channels + c.num_bins) * 4
        size = chunking.chunk_size(num_res, item, chunk_bytes)
        return DistogramLogits(chunking.map_chunks(rows, [pair, pair], [0, 1], 0, size), edges)


class MaskedMsaHead(hk.Module):
    """MSA representation [N, L, C_m] -> logits [N, L, 23] of the masked residues (1.9.9)."""

    def __init__(self, config: MaskedMsaConfig | None = None,
                 name: str = "masked_msa_head") -> None:
        super().__init__(name=name)
        self.config = config or MaskedMsaConfig()

    def __call__(self, msa: Array) -> Array:
        with _full_precision():
            return Linear(self.config.num_output, name="logits")(_f32(msa))


class PredictedLDDTHead(hk.Module):
    """Algorithm 29 (predictPerResidueLDDT_Ca): the structure module's final single
    activations [L, C_s] -> logits [L, 50] over lDDT-Ca bins."""

    def __init__(self, config: PredictedLddtConfig | None = None,
                 name: str = "predicted_lddt_head") -> None:
        super().__init__(name=name)
        self.config = config or PredictedLddtConfig()

    def __call__(self, single: Array) -> Array:
        c = self.config
        with _full_precision():
            act = LayerNorm(name="input_layer_norm")(_f32(single))
            act = jax.nn.relu(Linear(c.num_channels, name="act_0")(act))
            act = jax.nn.relu(Linear(c.num_channels, name="act_1")(act))
            return Linear(c.num_bins, name="logits")(act)


class ExperimentallyResolvedHead(hk.Module):
    """The Evoformer's single representation [L, C_s] -> logits [L, 37]: how likely each
    atom37 atom is resolved in a high-resolution experiment (1.9.10; sigmoid to read)."""

    def __init__(self, name: str = "experimentally_resolved_head") -> None:
        super().__init__(name=name)

    def __call__(self, single: Array) -> Array:
        with _full_precision():
            return Linear(NUM_ATOM37, name="logits")(_f32(single))


class PredictedAlignedErrorHead(hk.Module):
    """Pair representation -> logits of the aligned error of residue j in the frame of
    residue i (1.9.7), from which PAE and pTM are computed."""

    def __init__(self, config: PredictedAlignedErrorConfig | None = None,
                 name: str = "predicted_aligned_error_head") -> None:
        super().__init__(name=name)
        self.config = config or PredictedAlignedErrorConfig()

    def __call__(self, pair: Array) -> AlignedErrorLogits:
        c = self.config
        with _full_precision():
            logits = Linear(c.num_bins, name="logits")(_f32(pair))
        return AlignedErrorLogits(logits, jnp.linspace(0.0, c.max_error_bin, c.num_bins - 1))


class AlignedErrorByRows(hk.Module):
    """The PAE head (1.9.7, the same ``logits`` parameters as
    :class:`PredictedAlignedErrorHead`) reduced to PAE, its largest value and pTM a
    block of rows (aligned frames) at a time: the numbers of
    :func:`confidence.predicted_aligned_error` and :func:`confidence.predicted_tm_score`
    on the whole logits, without the [L, L, num_bins] logits and probabilities (9 GB
    each in float32 at L = 6,000)."""

    def __init__(self, config: PredictedAlignedErrorConfig | None = None,
                 name: str = "predicted_aligned_error_head") -> None:
        super().__init__(name=name)
        self.config = config or PredictedAlignedErrorConfig()

    def __call__(self, pair: Array, residue_weights: Array, chunk_bytes: int,
                 asym_id: Array | None = None) -> confidence.AlignedErrorSummary:
        """pTM is weighted by ``residue_weights`` [L] (the sequence mask); with
        ``asym_id`` [L] (the chain of each residue) ipTM is computed too."""
        c = self.config
        num_res, _, channels = pair.shape
        weights, bias = linear_params("logits", (channels,), (c.num_bins,), jnp.float32)
        breaks = jnp.linspace(0.0, c.max_error_bin, c.num_bins - 1)
        residue_weights = _f32(residue_weights)

        def rows(block: Array, block_weights: Array, block_asym: Array | None = None
                 ) -> tuple[Array, Array, Array | None]:
            with _full_precision():
                logits = dense(_f32(block), weights, bias)
            return confidence.aligned_error_rows(logits, breaks, block_weights,
                                                 residue_weights, block_asym, asym_id)

        args = [pair, residue_weights] + ([] if asym_id is None else [asym_id])
        item = num_res * (channels + 4 * c.num_bins) * 4
        size = chunking.chunk_size(num_res, item, chunk_bytes)
        pae, ptm_terms, iptm_terms = chunking.map_chunks(rows, args, [0] * len(args), 0,
                                                         size)
        return confidence.AlignedErrorSummary(
            pae, confidence.bin_centers(breaks)[-1], jnp.max(ptm_terms * residue_weights),
            None if iptm_terms is None else jnp.max(iptm_terms * residue_weights))
