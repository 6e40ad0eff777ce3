"""Inputs for the model tests: raw features of synthetic targets, a real template.

Raw features follow AlphaFold's data pipeline (one-hot ``aatype``, HHblits-coded
``msa``, ``deletion_matrix_int``, templates in atom37); the reference's
``process_features`` (tests/oracle.py) turns them into processed features, so both
models read exactly the same inputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from folding.common.alphabet import RESTYPES

#: Fan-in scale of the random test weights. At 1.0 the untrained network is chaotic:
#: a relative 1e-6 change of the weights moves the reference's own distogram logits by
#: ~100% and its positions by tens of Angstrom, so no parity test could pass; at 0.3 the
#: same change moves positions by ~4e-4 A and distogram logits by ~7e-6 (relative).
WEIGHT_SCALE = 0.3


def synthetic_raw(num_res: int, num_seq: int, seed: int = 0, mutation_rate: float = 0.3,
                  template: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Raw features of a random target with a homologue-like MSA (query first).

    ``template`` (from :func:`real_template`) fixes the query sequence to the template's
    and adds it as the one template.
    """
    rng = np.random.default_rng(seed)
    if template is not None:
        query = np.asarray(template["aatype"][:num_res])
    else:
        query = rng.integers(0, 20, num_res)
    sequence = "".join(RESTYPES[i] for i in query)
    msa = np.repeat(query[None], num_seq, axis=0)
    mutate = rng.random((num_seq, num_res)) < mutation_rate
    msa[mutate] = rng.integers(0, 21, mutate.sum())  # HHblits ids; 20 is unknown
    gaps = rng.random((num_seq, num_res)) < 0.05
    msa[gaps] = 21
    msa[0] = query
    deletions = (rng.random((num_seq, num_res)) < 0.05) * rng.integers(1, 5, (num_seq, num_res))
    deletions[0] = 0
    raw = {
        "aatype": np.eye(21, dtype=np.int32)[query],
        "between_segment_residues": np.zeros(num_res, np.int32),
        "domain_name": np.array([b"test"]),
        "residue_index": np.arange(num_res, dtype=np.int32),
        "seq_length": np.full(num_res, num_res, np.int32),
        "sequence": np.array([sequence.encode()]),
        "msa": msa.astype(np.int32),
        "deletion_matrix_int": deletions.astype(np.int32),
        "num_alignments": np.full(num_res, num_seq, np.int32),
    }
    if template is not None:
        raw.update({
            "template_aatype": np.eye(22, dtype=np.float32)[template["aatype"][None, :num_res]],
            "template_all_atom_masks": template["atom_mask"][None, :num_res].astype(np.float32),
            "template_all_atom_positions":
                template["atom_positions"][None, :num_res].astype(np.float32),
            "template_sum_probs": np.ones((1, 1), np.float32),
            "template_domain_names": np.array([b"real"]),
        })
    else:
        raw.update({
            "template_aatype": np.zeros((0, num_res, 22), np.float32),
            "template_all_atom_masks": np.zeros((0, num_res, 37), np.float32),
            "template_all_atom_positions": np.zeros((0, num_res, 37, 3), np.float32),
            "template_sum_probs": np.zeros((0, 1), np.float32),
            "template_domain_names": np.array([], dtype=np.bytes_),
        })
    return raw


def random_templates(num_res: int, num_templates: int,
                     rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Raw template features of ``num_templates`` random templates (random residues,
    coordinates and a 70% atom mask), for benchmarks whose timing does not depend on the
    values."""
    return {
        "template_aatype": np.eye(22, dtype=np.float32)[
            rng.integers(0, 20, (num_templates, num_res))],
        "template_all_atom_masks": (rng.random((num_templates, num_res, 37)) > 0.3).astype(
            np.float32),
        "template_all_atom_positions": rng.normal(
            scale=10.0, size=(num_templates, num_res, 37, 3)).astype(np.float32),
        "template_sum_probs": np.ones((num_templates, 1), np.float32),
        "template_domain_names": np.array([b"t"] * num_templates),
    }


def real_template(shared_data: Path, num_res: int) -> dict[str, np.ndarray]:
    """The first ``num_res`` residues of a real crystal structure (PDB 1AHS, chain A)."""
    from folding.common.pdb import from_pdb

    protein = from_pdb(shared_data / "structures" / "dssp" / "1ahsA.pdb.gz")
    if protein.num_residues < num_res:
        raise ValueError(f"the template has only {protein.num_residues} residues")
    return {"aatype": np.asarray(protein.aatype[:num_res]),
            "atom_positions": np.asarray(protein.atom_positions[:num_res]),
            "atom_mask": np.asarray(protein.atom_mask[:num_res])}


def max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def kabsch_rmsd(a: np.ndarray, b: np.ndarray) -> float:
    """RMSD of point sets ``a`` and ``b`` [N, 3] after the optimal rigid superposition."""
    a = a - a.mean(0)
    b = b - b.mean(0)
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))
    rotation = u @ np.diag([1.0, 1.0, d]) @ vt
    return float(np.sqrt(np.mean(np.sum((a @ rotation - b) ** 2, axis=-1))))


class RelaunchedError(Exception):
    """Raised in place of the exec of ``host_spill.relaunch`` (the ``relaunches`` fixture)."""
