"""Cropping and merging the chains of a complex into one feature dict (supplement 7.3).

* :func:`crop_chain` keeps at most :data:`MSA_CROP_SIZE` MSA rows per chain (half of them
  at most paired; paired rows that are not all gaps count against the unpaired budget)
  and :data:`MAX_TEMPLATES` templates;
* :func:`merge_chains` joins the chains: copies of one entity side by side (their MSAs
  are identical, so the homomer's MSA stays dense), then the entities; the paired rows
  are concatenated along the residues, the unpaired rows of the entities are placed
  **block-diagonally** (an entity's rows are gaps over the other entities' residues) under
  the paired rows. ``cluster_bias_mask`` marks the rows the MSA clustering always keeps
  (the first paired row; without pairing each entity's query row) and ``bert_mask`` the
  positions masked-MSA training may use (none off the diagonal blocks).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.linalg

from folding.common.alphabet import GAP_INDEX
from folding.data.features import FeatureDict
from folding.data.multimer.pairing import MSA_FEATURES, MSA_PAD_VALUES

#: MSA rows kept per chain (paired + unpaired).
MSA_CROP_SIZE = 2048
#: Templates kept per chain.
MAX_TEMPLATES = 4

#: Features with one entry per residue, joined along residues.
RESIDUE_FEATURES = frozenset({
    "residue_index", "aatype", "all_atom_positions", "all_atom_mask", "seq_mask",
    "between_segment_residues", "has_alt_locations", "has_hetatoms", "asym_id", "entity_id",
    "sym_id", "entity_mask", "deletion_mean", "prediction_atom_mask", "literature_positions",
    "atom_indices_to_group_indices", "rigid_group_default_frame",
})
#: Template features [T, L, ...], joined along residues (axis 1).
TEMPLATE_FEATURES = ("template_aatype", "template_all_atom_positions", "template_all_atom_mask")
#: Per-chain counts that add up when chains are joined.
COUNT_FEATURES = frozenset({"num_alignments", "seq_length"})


def _base_name(name: str) -> str:
    return name.split("_all_seq")[0]


def crop_chain(chain: FeatureDict, paired: bool, msa_crop_size: int = MSA_CROP_SIZE,
               max_templates: int = MAX_TEMPLATES) -> FeatureDict:
    """A copy of ``chain`` with at most ``msa_crop_size`` MSA rows and ``max_templates`` templates.

    With pairing, at most half the rows are paired rows; the unpaired rows are cut so that
    they and the paired rows that are not all gaps fit in ``msa_crop_size``.
    """
    chain = dict(chain)
    num_rows = chain["num_alignments"]
    if paired:
        paired_rows = np.minimum(chain["num_alignments_all_seq"], msa_crop_size // 2)
        kept_paired = chain["msa_all_seq"][:paired_rows, :]
        informative = np.sum(np.any(kept_paired != GAP_INDEX, axis=1))
        informative = np.minimum(informative, paired_rows)
        unpaired_rows = np.minimum(num_rows, np.maximum(msa_crop_size - informative, 0))
    else:
        unpaired_rows = np.minimum(num_rows, msa_crop_size)
    with_templates = "template_aatype" in chain and max_templates
    if with_templates:
        num_templates = np.minimum(chain["template_aatype"].shape[0], max_templates)
    for name in list(chain):
        base = _base_name(name)
        if base in TEMPLATE_FEATURES:
            chain[name] = chain[name][:num_templates, :]
        elif base in MSA_FEATURES:
            if "_all_seq" in name and paired:
                chain[name] = chain[name][:paired_rows, :]
            else:
                chain[name] = chain[name][:unpaired_rows, :]
    chain["num_alignments"] = np.asarray(unpaired_rows, dtype=np.int32)
    if with_templates:
        chain["num_templates"] = np.asarray(num_templates, dtype=np.int32)
    if paired:
        chain["num_alignments_all_seq"] = np.asarray(paired_rows, dtype=np.int32)
    return chain


def block_diagonal(blocks: Sequence[np.ndarray], pad_value: float = 0.0) -> np.ndarray:
    """``blocks`` on the diagonal of one matrix, ``pad_value`` everywhere else."""
    diagonal = scipy.linalg.block_diag(*blocks)
    outside = 1.0 - scipy.linalg.block_diag(*[np.ones_like(b) for b in blocks])
    diagonal += (outside * pad_value).astype(diagonal.dtype)
    return diagonal


def _pad_templates(chain: FeatureDict, max_templates: int) -> FeatureDict:
    chain = dict(chain)
    for name in TEMPLATE_FEATURES:
        if name in chain:
            value = chain[name]
            widths = [(0, 0)] * value.ndim
            widths[0] = (0, max_templates - value.shape[0])
            chain[name] = np.pad(value, widths, mode="constant")
    return chain


def _join(chains: Sequence[FeatureDict], dense_msa: bool) -> FeatureDict:
    """Join chains: MSA rows side by side (``dense_msa``) or block-diagonal."""
    joined: FeatureDict = {}
    for name in chains[0]:
        values = [c[name] for c in chains]
        base = _base_name(name)
        if base in MSA_FEATURES:
            if dense_msa or "_all_seq" in name:
                joined[name] = np.concatenate(values, axis=1)
            else:
                joined[name] = block_diagonal(values, pad_value=MSA_PAD_VALUES[name])
        elif base in RESIDUE_FEATURES:
            joined[name] = np.concatenate(values, axis=0)
        elif base in TEMPLATE_FEATURES:
            joined[name] = np.concatenate(values, axis=1)
        elif base in COUNT_FEATURES:
            joined[name] = np.sum(values).astype(np.int32)
        else:  # per-complex values and strings: the first chain's
            joined[name] = values[0]
    return joined


def _by_entity(chains: Sequence[FeatureDict]) -> list[FeatureDict]:
    """Each entity's copies joined side by side (dense MSA), entities in id order."""
    groups: dict[float, list[FeatureDict]] = {}
    for chain in chains:
        groups.setdefault(chain["entity_id"][0], []).append(chain)
    return [_join(groups[entity], dense_msa=True) for entity in sorted(groups)]


def merge_chains(chains: Sequence[FeatureDict], paired: bool,
                 max_templates: int = MAX_TEMPLATES) -> FeatureDict:
    """The cropped chains of a complex merged into one feature dict (see module docstring)."""
    entities = _by_entity([_pad_templates(c, max_templates) for c in chains])
    merged = _join(entities, dense_msa=False)
    if paired:
        for name in MSA_FEATURES:
            if name in merged:
                merged[name] = np.concatenate([merged[f"{name}_all_seq"], merged[name]], axis=0)
    merged["seq_length"] = np.asarray(merged["aatype"].shape[0], dtype=np.int32)
    merged["num_alignments"] = np.asarray(merged["msa"].shape[0], dtype=np.int32)
    unpaired_masks = [np.ones(e["msa"].shape, dtype=np.float32) for e in entities]
    if paired:
        bias = np.zeros(merged["msa"].shape[0])
        bias[0] = 1
        paired_mask = np.concatenate(
            [np.ones(e["msa_all_seq"].shape, dtype=np.float32) for e in entities], axis=1)
        bert = np.concatenate([paired_mask, block_diagonal(unpaired_masks, pad_value=0)],
                              axis=0)
    else:
        firsts = []
        for entity in entities:
            first = np.zeros(entity["msa"].shape[0])
            first[0] = 1
            firsts.append(first)
        bias = np.concatenate(firsts)
        bert = block_diagonal(unpaired_masks, pad_value=0)
    merged["cluster_bias_mask"] = bias
    merged["bert_mask"] = bert
    return merged
