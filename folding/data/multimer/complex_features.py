"""The per-chain features of a complex -> the multimer model's raw input features.

:func:`complex_features` runs, in order:
:func:`~folding.data.multimer.chain_features.prepare_for_merge`; for heteromers species
pairing (:mod:`~folding.data.multimer.pairing`) and removal of unpaired rows that repeat
paired ones; cropping and merging (:mod:`~folding.data.multimer.merge`); and the final
steps below. Homomers (one distinct sequence, any number of copies) and
monomers are not paired: their MSA is the chain's own, repeated side by side.

Final steps: MSA residue ids go from HH-suite's order to AlphaFold's; ``seq_mask`` and
``msa_mask`` are 1 on real residues; only :data:`MODEL_FEATURES` are kept; and the MSA is
padded with all-zero rows to at least :data:`MIN_MSA_ROWS` rows (so the extra MSA stack
never gets an empty input). This equals AlphaFold's ``feature_processing.pair_and_merge``
followed by ``pipeline_multimer.pad_msa``.

Output (L residues of all chains, N MSA rows, T = 4 templates per chain):

=================================  ==========================  ==============================
key                                dtype, shape                content
=================================  ==========================  ==============================
``aatype``                         int32 [L]                   residue ids, X = 20
``residue_index``                  int32 [L]                   0 .. len-1 within each chain
``asym_id`` / ``sym_id`` /         float64 [L]                 chain / copy / entity number
``entity_id``                                                  (1-based, see ``chains``)
``entity_mask`` / ``seq_mask``     int32 / float32 [L]         1 on residues
``all_atom_mask``                  int32 [L, 37]               standard atoms of the residue
``all_atom_positions``             float64 [L, 37, 3]          zeros
``deletion_mean``                  float32 [L]                 mean deletions per residue
``msa``                            int32 [N, L]                AlphaFold ids, gap = 21
``deletion_matrix``                float32 [N, L]
``msa_mask`` / ``bert_mask``       float32 [N, L]              0 on padding rows
``cluster_bias_mask``              float64 [N]                 rows clustering always keeps
``num_alignments``                 int32 []                    MSA rows before padding
``seq_length``                     int32 []                    L
``assembly_num_chains``            int64 []                    number of chains
``num_templates``                  int32 []                    the first chain's templates
``template_aatype``                int64 [T, L]                AlphaFold ids
``template_all_atom_mask``         float32 [T, L, 37]
``template_all_atom_positions``    float32 [T, L, 37, 3]
=================================  ==========================  ==============================
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from folding.common.alphabet import HHBLITS_TO_AATYPE
from folding.data.features import FeatureDict
from folding.data.multimer.chain_features import prepare_for_merge
from folding.data.multimer.merge import MAX_TEMPLATES, MSA_CROP_SIZE, crop_chain, merge_chains
from folding.data.multimer.pairing import drop_unpaired_duplicates, paired_chain_features

#: The MSA is padded to at least this many rows.
MIN_MSA_ROWS = 512
#: The features the multimer model reads.
MODEL_FEATURES = frozenset({
    "aatype", "all_atom_mask", "all_atom_positions", "all_chains_entity_ids",
    "all_crops_all_chains_mask", "all_crops_all_chains_positions",
    "all_crops_all_chains_residue_ids", "assembly_num_chains", "asym_id", "bert_mask",
    "cluster_bias_mask", "deletion_matrix", "deletion_mean", "entity_id", "entity_mask",
    "mem_peak", "msa", "msa_mask", "num_alignments", "num_templates", "queue_size",
    "residue_index", "resolution", "seq_length", "seq_mask", "sym_id", "template_aatype",
    "template_all_atom_mask", "template_all_atom_positions",
})


def is_heteromer(chains: Sequence[FeatureDict]) -> bool:
    """More than one entity among the chains (entity id 0 is padding)."""
    entities = set()
    for chain in chains:
        ids = chain["entity_id"]
        entities.update(np.unique(ids[ids > 0]).tolist())
    return len(entities) > 1


def finalise(merged: FeatureDict) -> FeatureDict:
    """MSA ids in AlphaFold's order, sequence and MSA masks, model features only."""
    out = dict(merged)
    out["msa"] = HHBLITS_TO_AATYPE.astype(np.int64)[out["msa"]].astype(np.int32)
    residues = (out["entity_id"] > 0).astype(np.float32)
    out["seq_mask"] = residues
    out["msa_mask"] = np.ones_like(out["msa"], dtype=np.float32) * residues[None]
    return {k: v for k, v in out.items() if k in MODEL_FEATURES}


def pad_msa_rows(features: FeatureDict, min_rows: int = MIN_MSA_ROWS) -> FeatureDict:
    """Pad the MSA features with zero rows up to ``min_rows`` rows."""
    out = dict(features)
    missing = min_rows - out["msa"].shape[0]
    if missing > 0:
        for name in ("msa", "deletion_matrix", "bert_mask", "msa_mask"):
            out[name] = np.pad(out[name], ((0, missing), (0, 0)))
        out["cluster_bias_mask"] = np.pad(out["cluster_bias_mask"], ((0, missing),))
    return out


def complex_features(chains: Sequence[FeatureDict], msa_crop_size: int = MSA_CROP_SIZE,
                     max_templates: int = MAX_TEMPLATES,
                     min_msa_rows: int = MIN_MSA_ROWS) -> FeatureDict:
    """The raw multimer features of a complex from its chains' features (layout order).

    ``chains`` are the per-chain dicts of
    :func:`~folding.data.multimer.chain_features.assembly_chain_features`; heteromers need
    the ``*_all_seq`` pairing features on every chain.
    """
    prepared = prepare_for_merge(chains)
    paired = is_heteromer(prepared)
    if paired:
        prepared = drop_unpaired_duplicates(paired_chain_features(prepared))
    cropped = [crop_chain(c, paired, msa_crop_size, max_templates) for c in prepared]
    merged = merge_chains(cropped, paired, max_templates)
    return pad_msa_rows(finalise(merged), min_msa_rows)
