"""Real complexes for the multimer model tests, built by our multimer data pipeline.

:func:`real_complex` runs :func:`folding.data.multimer.build_multimer_features` on chains
whose AlphaFold searches are in the shared data (``tests/multimer_cases.py``), with
templates from the shared mmCIF database, and crops every chain to its first residues so
that the model tests stay fast. Cropping slices the residue axis of every feature
(sequence, MSA columns, templates): the MSA rows, their pairing and the template hits
stay those of the whole chains.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from multimer_cases import MAX_TEMPLATE_DATE, shared_chains

from folding.data.multimer import TemplateSource, build_multimer_features
from folding.data.multimer.chains import AssemblyChain

#: 2Q2K's two ParR chains (a homodimer) and the unrelated A0A024R1R8: an A2B complex
#: with copies of one entity, a second entity, species pairing and real templates.
A2B_CHAINS = ("2q2k_A", "A0A024R1R8", "2q2k_B")


@dataclass(frozen=True)
class RealComplex:
    """Raw multimer features (cropped) and the chains in feature order."""

    features: dict[str, np.ndarray]
    chains: tuple[AssemblyChain, ...]


def crop_features(features: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    """Every feature with a residue axis restricted to the residues ``keep``."""
    num_res = len(features["aatype"])
    out = {}
    for name, value in features.items():
        value = np.asarray(value)
        axis = next((i for i, size in enumerate(value.shape) if size == num_res), None)
        out[name] = value if axis is None else np.take(value, keep, axis=axis)
    out["seq_length"] = np.asarray(len(keep), np.int32)
    return out


def real_complex(shared: Path, names: Sequence[str] = A2B_CHAINS, start: int = 20,
                 length: int = 20) -> RealComplex:
    """The raw features of the chains ``names``, each cut to its residues
    ``start:start + length`` (2Q2K's first 20 residues are its unresolved His tag)."""
    chains = shared_chains(shared)
    templates = shared / "templates"
    result = build_multimer_features(
        [chains[n].sequence for n in names], [chains[n].msa_dir for n in names],
        TemplateSource(templates / "pdb_mmcif/mmcif_files", MAX_TEMPLATE_DATE,
                       pdb_seqres=templates / "pdb_seqres/pdb_seqres.txt"),
        descriptions=list(names))
    keep = np.concatenate([c.start + np.arange(len(c.sequence))[start:start + length]
                           for c in result.assembly.chains])
    return RealComplex(crop_features(result.features, keep), result.assembly.chains)


def synthetic_complex(chain_lengths: tuple[int, ...] = (14, 14, 11),
                      entities: tuple[int, ...] = (1, 1, 2), num_seq: int = 48,
                      seed: int = 0, template: Mapping[str, np.ndarray] | None = None
                      ) -> dict[str, np.ndarray]:
    """Raw multimer features of a random complex (the layout of build_multimer_features).

    Chains of one entity share their sequence; the MSA has the query row first, random
    homologue-like rows, paired in blocks, and all-zero padding rows at the end.
    ``template`` (atom37 ``positions``/``mask``/``aatype`` of a real structure at least
    as long as the complex) fills the first of two template slots.
    """
    rng = np.random.default_rng(seed)
    sequences = {e: rng.integers(0, 20, n) for e, n in zip(entities, chain_lengths, strict=True)}
    aatype = np.concatenate([sequences[e] for e in entities])
    num_res = len(aatype)
    asym = np.concatenate([np.full(n, i + 1) for i, n in enumerate(chain_lengths)])
    entity = np.concatenate([np.full(n, e) for e, n in zip(entities, chain_lengths, strict=True)])
    sym = np.concatenate([np.full(n, entities[:i + 1].count(e))
                          for i, (e, n) in enumerate(zip(entities, chain_lengths, strict=True))])
    residue_index = np.concatenate([np.arange(n) for n in chain_lengths])
    live = num_seq - 8
    msa = np.repeat(aatype[None], num_seq, axis=0)
    mutate = rng.random((num_seq, num_res)) < 0.3
    msa[mutate] = rng.integers(0, 21, mutate.sum())
    msa[rng.random((num_seq, num_res)) < 0.1] = 21
    msa[0] = aatype
    msa[live:] = 0
    deletions = ((rng.random((num_seq, num_res)) < 0.1) * rng.integers(1, 9, (num_seq, num_res)))
    deletions[0] = 0
    deletions[live:] = 0
    msa_mask = np.ones((num_seq, num_res), np.float32)
    msa_mask[live:] = 0
    num_templates = 2
    t_aatype = np.full((num_templates, num_res), 21, np.int64)
    t_pos = np.zeros((num_templates, num_res, 37, 3), np.float32)
    t_mask = np.zeros((num_templates, num_res, 37), np.float32)
    if template is not None:
        t_aatype[0] = template["aatype"][:num_res]
        t_pos[0] = template["positions"][:num_res]
        t_mask[0] = template["mask"][:num_res]
        t_mask[0, num_res // 2: num_res // 2 + 3] = 0  # a gap in the template
    return {
        "aatype": aatype.astype(np.int32),
        "residue_index": residue_index.astype(np.int32),
        "asym_id": asym.astype(np.float64), "entity_id": entity.astype(np.float64),
        "sym_id": sym.astype(np.float64), "seq_mask": np.ones(num_res, np.float32),
        "msa": msa.astype(np.int32), "deletion_matrix": deletions.astype(np.float32),
        "msa_mask": msa_mask, "bert_mask": msa_mask.copy(),
        "cluster_bias_mask": np.eye(num_seq)[0],
        "template_aatype": t_aatype, "template_all_atom_positions": t_pos,
        "template_all_atom_mask": t_mask,
        "all_atom_positions": np.zeros((num_res, 37, 3)),
        "all_atom_mask": np.zeros((num_res, 37), np.int32),
    }
