"""Real complexes for the multimer model tests, built by our multimer data pipeline.

:func:`real_complex` runs :func:`folding.data.multimer.build_multimer_features` on chains
whose AlphaFold searches are in the shared data (``tests/multimer_cases.py``), with
templates from the shared mmCIF database, and crops every chain to its first residues so
that the model tests stay fast. Cropping slices the residue axis of every feature
(sequence, MSA columns, templates): the MSA rows, their pairing and the template hits
stay those of the whole chains.
"""

from __future__ import annotations

from collections.abc import Sequence
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
