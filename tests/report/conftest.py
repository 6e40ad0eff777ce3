"""A realistic target folder for the report tests, built from real data.

The structure is human lysozyme (PDB 133L, chain A, 130 residues) from the shared
template database; the MSA is AlphaFold's own jackhmmer output for human lysozyme
(UniProt P61626, uniref90_hits.sto), cropped to the mature chain that 133L holds. The
model outputs (pLDDT, PAE, pTM) are values chosen here to cover every confidence band
and to give a known ranking; the PDB text is written by the project's PDB writer, as
``folding model run`` writes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import gemmi
import numpy as np
import pytest

from folding.common.alphabet import HHBLITS_AA_TO_ID, sequence_to_onehot
from folding.common.atoms import NUM_ATOM37
from folding.common.pdb import to_pdb
from folding.common.protein import Protein, from_gemmi_structure

UNTRAINED = "250 UNTRAINED PARAMETERS: random parameters (seed 0); not a structure prediction"
SIGNAL_PEPTIDE = 18  # P61626 residues 1-18; 133L holds the mature chain 19-148
MODEL_NAMES = ("model_1_ptm", "model_2_ptm", "model_3_ptm")
#: Offsets added to the base pLDDT: model_2 best, then model_3, then model_1.
PLDDT_OFFSETS = {"model_1_ptm": -6.0, "model_2_ptm": 3.0, "model_3_ptm": 0.0}


def read_stockholm_msa(path: Path, max_rows: int) -> list[str]:
    """Aligned rows (query columns only, upper case, '-' for gaps) of a Stockholm file."""
    rows: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith(("#", "//")):
            continue
        name, seq = line.split()
        rows.setdefault(name, []).append(seq)
    aligned = ["".join(parts) for parts in rows.values()]
    query = aligned[0]
    keep = [i for i, c in enumerate(query) if c not in "-."]
    out = []
    for row in aligned[:max_rows]:
        out.append("".join(row[i] if row[i] not in "." else "-" for i in keep).upper())
    return out


def lysozyme_protein(shared_data: Path) -> Protein:
    structure = gemmi.read_structure(
        str(shared_data / "templates/pdb_mmcif/mmcif_files/133l.cif"))
    protein = from_gemmi_structure(structure, chain_id="A")
    # Renumber 1..L as a prediction is numbered.
    return protein.replace(residue_index=np.arange(1, protein.num_residues + 1))


def raw_msa_features(shared_data: Path, sequence: str, max_rows: int = 1200) -> dict:
    rows = read_stockholm_msa(shared_data / "alignments/P61626/uniref90_hits.sto", max_rows)
    cropped = [r[SIGNAL_PEPTIDE:SIGNAL_PEPTIDE + len(sequence)] for r in rows[1:]]
    cropped = [r for r in dict.fromkeys(cropped) if r.strip("-")]
    msa_rows = [sequence, *cropped]
    msa = np.array([[HHBLITS_AA_TO_ID.get(c, 20) for c in r] for r in msa_rows], np.int32)
    length = len(sequence)
    return {
        "msa": msa,
        "deletion_matrix_int": np.zeros_like(msa),
        "num_alignments": np.full(length, len(msa_rows), np.int32),
        "aatype": sequence_to_onehot(sequence),
        "between_segment_residues": np.zeros(length, np.int32),
        "residue_index": np.arange(length, dtype=np.int32),
        "seq_length": np.full(length, length, np.int32),
        "sequence": np.array([sequence.encode()]),
        "domain_name": np.array([b"lysozyme"]),
    }


def base_plddt(length: int) -> np.ndarray:
    """A pLDDT profile through every band: a disordered N-terminus, a core, a weak loop."""
    x = np.arange(length)
    plddt = np.full(length, 93.0)
    plddt[:12] = np.linspace(32, 80, 12)
    plddt[60:75] = 62 + 8 * np.sin(np.linspace(0, np.pi, 15))
    plddt[100:108] = 78
    plddt[-6:] = np.linspace(75, 40, 6)
    return plddt + 1.5 * np.sin(x / 3.0)


def pae_matrix(plddt: np.ndarray, positions: np.ndarray, seed: int) -> np.ndarray:
    confidence = plddt / 100.0
    ca = positions[:, 1]
    distance = np.linalg.norm(ca[:, None] - ca[None, :], axis=-1)
    pae = 1.0 + 24.0 * (1 - np.outer(confidence, confidence)) + 0.08 * distance
    pae += np.random.default_rng(seed).uniform(0, 1.0, pae.shape)
    np.fill_diagonal(pae, 0.25)
    return np.clip(pae, 0.25, 31.75).astype(np.float32)


@dataclass(frozen=True)
class TargetFolder:
    path: Path
    name: str
    length: int
    plddts: dict[str, np.ndarray]
    expected_order: tuple[str, ...]


def make_target(
    root: Path, shared_data: Path, name: str = "lysozyme", untrained: bool = True,
    models: tuple[str, ...] = MODEL_NAMES,
) -> TargetFolder:
    """Write a target folder as the workflow leaves it before ``folding report target``."""
    target = root / name
    (target / "msas").mkdir(parents=True)
    (target / "provenance").mkdir()
    protein = lysozyme_protein(shared_data)
    sequence = protein.sequence()
    length = protein.num_residues
    (target / f"{name}.fasta").write_text(f">{name}\n{sequence}\n")
    np.savez(target / "features.npz", **raw_msa_features(shared_data, sequence))
    params_id = "untrained:seed=0" if untrained else "sha256:" + "ab" * 32
    remarks = (UNTRAINED,) if untrained else ()
    base = base_plddt(length)
    plddts = {}
    for k, model in enumerate(models):
        plddt = np.clip(base + PLDDT_OFFSETS.get(model, -10.0 - k), 5, 99).astype(np.float32)
        plddts[model] = plddt
        pae = pae_matrix(plddt, protein.atom_positions, seed=k)
        rng = np.random.default_rng(k)
        np.savez(
            target / f"result_{model}.npz",
            final_atom_positions=protein.atom_positions.astype(np.float32),
            final_atom_mask=protein.atom_mask.astype(np.float32),
            plddt=plddt,
            distogram_logits=rng.normal(size=(length, length, 64)).astype(np.float32),
            predicted_aligned_error=pae,
            ptm=np.float32(0.5 + 0.1 * k),
            max_predicted_aligned_error=np.float32(31.75),
            model_name=np.array(model),
            params_id=np.array(params_id),
            dtype=np.array("bfloat16"),
            num_recycles=np.int32(3),
            aatype=protein.aatype,
            residue_index=np.arange(length, dtype=np.int32),
        )
        with_plddt = protein.replace(
            b_factors=np.broadcast_to(plddt[:, None], (length, NUM_ATOM37)), remarks=remarks)
        (target / f"unrelaxed_{model}.pdb").write_text(to_pdb(with_plddt))
        write_manifest(target, f"predict_{model}", 40.0 + k,
                       {"model": model, "params_id": params_id, "num_recycles": 3})
    # The best model was relaxed; the third one's relaxation failed.
    order = tuple(sorted(plddts, key=lambda m: -float(plddts[m].mean())))
    best = order[0]
    relaxed = protein.replace(
        atom_positions=protein.atom_positions + 0.05,
        b_factors=np.broadcast_to(plddts[best][:, None], (length, NUM_ATOM37)),
        remarks=remarks,
    )
    (target / f"relaxed_{best}.pdb").write_text(to_pdb(relaxed))
    (target / f"relax_{best}.json").write_text(json.dumps({
        "violations_before": 4, "violations_after": 0, "heavy_atom_rmsd": 0.21,
        "seconds": 8.5, "relaxed": True, "converged": True, "reason": None}))
    if len(order) > 2:
        # As `folding relax` leaves a failed relaxation: the input copied, the reason recorded.
        failed = order[2]
        (target / f"relaxed_{failed}.pdb").write_bytes(
            (target / f"unrelaxed_{failed}.pdb").read_bytes())
        (target / f"relax_{failed}.json").write_text(json.dumps({
            "violations_before": 12, "violations_after": 12, "heavy_atom_rmsd": 0.0,
            "seconds": 3.1, "relaxed": False, "converged": False,
            "reason": "OpenMM minimisation raised NaN energies"}))
    write_manifest(target, "msa_uniref90", 95.2, {
        "tool": "jackhmmer", "versions": {"hmmer": "3.3.2", "pyhmmer": "0.12.3"},
        "database": {"name": "uniref90", "path": "/db/uniref90/uniref90.fasta",
                     "sha256": "0f" * 32}})
    write_manifest(target, "features", 1.4, {"inputs": {"fasta": f"{name}.fasta"},
                                             "num_alignments": 812})
    return TargetFolder(target, name, length, plddts, order)


def write_manifest(target: Path, stage: str, seconds: float, fields: dict) -> None:
    (target / "provenance" / f"{stage}.json").write_text(
        json.dumps({"stage": stage, "seconds": seconds, **fields}))


@pytest.fixture
def target_folder(tmp_path: Path, shared_data: Path) -> TargetFolder:
    return make_target(tmp_path / "out", shared_data)


@pytest.fixture
def target_factory(shared_data: Path):
    """``make(root, name=..., untrained=..., models=...)`` for tests that need variants."""
    def make(root: Path, **options) -> TargetFolder:
        return make_target(root, shared_data, **options)
    return make
