"""Per-chain features of a complex, before the chains are paired and merged.

AlphaFold-Multimer (supplement 7.2-7.3) starts from each distinct chain's monomer raw
features (:mod:`folding.data.features`: sequence, merged UniRef90/BFD/MGnify MSA,
hmmsearch templates) and

1. reshapes them for the multimer model (:func:`convert_monomer_features`): residue types
   as indices instead of one-hot, template residue types in AlphaFold's order, scalar
   per-chain counts;
2. for heteromers adds the UniProt alignment used for pairing, under ``*_all_seq`` names
   (:func:`pairing_msa_features`);
3. gives every chain of the assembly its own copy with ``asym_id``, ``sym_id`` and
   ``entity_id`` per residue (:func:`assembly_chain_features`);
4. adds what the merge needs (:func:`prepare_for_merge`): float deletion matrices, the
   mean deletion per residue, the standard atom mask of each residue type, zero
   positions, the number of chains and the entity mask.

The dtypes are AlphaFold's, so the merged result equals its ``DataPipeline.process``
output (the id features are float64 there, and so they are here).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from folding.common.alphabet import HHBLITS_TO_AATYPE
from folding.common.atoms import STANDARD_ATOM37_MASK
from folding.data.features import FeatureDict, msa_features
from folding.data.multimer.chains import Assembly
from folding.data.parsers.msa import Msa

#: Per-chain features whose one-element leading dimension the multimer features drop.
_SCALAR_FEATURES = frozenset({"sequence", "domain_name", "num_alignments", "seq_length"})
#: The MSA features copied under ``*_all_seq`` names for pairing.
PAIRING_FEATURES = ("msa", "deletion_matrix_int", "msa_species_identifiers")


def convert_monomer_features(monomer: Mapping[str, np.ndarray], chain_id: str) -> FeatureDict:
    """A chain's monomer raw features in the multimer layout.

    ``aatype`` [L, 21] one-hot becomes [L] indices; ``template_aatype`` [T, L, 22] one-hot
    in HH-suite's order becomes [T, L] indices in AlphaFold's order;
    ``template_all_atom_masks`` is renamed ``template_all_atom_mask``; ``sequence``,
    ``domain_name``, ``num_alignments`` and ``seq_length`` become scalars. ``auth_chain_id``
    records the chain id.
    """
    converted: FeatureDict = {"auth_chain_id": np.asarray(chain_id, dtype=object)}
    for name, value in monomer.items():
        if name in _SCALAR_FEATURES:
            value = np.asarray(value[0], dtype=value.dtype)
        elif name == "aatype":
            value = np.argmax(value, axis=-1).astype(np.int32)
        elif name == "template_aatype":
            indices = np.argmax(value, axis=-1).astype(np.int32)
            value = HHBLITS_TO_AATYPE.astype(np.int64)[indices]
        elif name == "template_all_atom_masks":
            name = "template_all_atom_mask"
        converted[name] = value
    return converted


def pairing_msa_features(uniprot: Msa) -> FeatureDict:
    """The UniProt alignment's MSA features under ``*_all_seq`` names (used for pairing).

    Rows are deduplicated as every MSA is (:func:`folding.data.features.msa_features`).
    """
    features = msa_features([uniprot])
    return {f"{name}_all_seq": features[name] for name in PAIRING_FEATURES}


def assembly_chain_features(
    assembly: Assembly, entity_features: Mapping[int, FeatureDict]
) -> list[FeatureDict]:
    """One feature dict per chain of ``assembly``, in its layout order, with chain ids.

    ``entity_features`` maps each entity id to its converted features (its first copy's
    search results); every copy gets its own arrays plus ``asym_id``, ``sym_id`` and
    ``entity_id`` repeated over its residues (float64, as AlphaFold makes them).
    """
    chains = []
    for chain in assembly.chains:
        features = {k: np.array(v, copy=True) for k, v in entity_features[chain.entity_id].items()}
        length = int(features["seq_length"])
        features["asym_id"] = chain.asym_id * np.ones(length)
        features["sym_id"] = chain.sym_id * np.ones(length)
        features["entity_id"] = chain.entity_id * np.ones(length)
        chains.append(features)
    return chains


def prepare_for_merge(chains: Sequence[FeatureDict]) -> list[FeatureDict]:
    """Per-chain features the pairing and merging use, added to a copy of each chain.

    Deletion matrices become float32 ``deletion_matrix`` (and ``deletion_matrix_all_seq``);
    ``deletion_mean`` is their mean over rows; ``all_atom_mask`` is the standard atom37
    mask of each residue type, ``all_atom_positions`` zeros; ``assembly_num_chains`` is the
    number of chains; ``entity_mask`` is 1 on real residues (entity id > 0).
    """
    prepared = []
    for chain in chains:
        features = dict(chain)
        features["deletion_matrix"] = np.asarray(features.pop("deletion_matrix_int"),
                                                 dtype=np.float32)
        if "deletion_matrix_int_all_seq" in features:
            features["deletion_matrix_all_seq"] = np.asarray(
                features.pop("deletion_matrix_int_all_seq"), dtype=np.float32)
        features["deletion_mean"] = np.mean(features["deletion_matrix"], axis=0)
        mask = STANDARD_ATOM37_MASK[features["aatype"]]
        features["all_atom_mask"] = mask
        features["all_atom_positions"] = np.zeros((*mask.shape, 3))
        features["assembly_num_chains"] = np.asarray(len(chains))
        features["entity_mask"] = (features["entity_id"] != 0).astype(np.int32)
        prepared.append(features)
    return prepared
