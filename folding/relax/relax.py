"""Amber relaxation of a predicted structure: the outer loop (AlphaFold2 supplement 1.8.6).

Each pass completes the structure (:mod:`.cleanup`: heavy atoms, hydrogens), minimises
its Amber energy under heavy-atom restraints (:mod:`.amber`) and checks AlphaFold's
structural violations (:mod:`.violations`); residues that still violate lose their
restraints in the next pass. The loop stops when nothing violates or after
``max_passes`` passes (AlphaFold's pipeline runs at most 3).

The first two passes are AlphaFold's: the second continues from the first pass's
minimised atoms with the violating residues unrestrained. That mends strained peptide
geometry, but not interpenetration: when a backbone runs through an aromatic ring the
first minimisation tears the ring open around it, and AlphaFold's relax leaves those
residues violating (5 on the CASP14 fixture, as AlphaFold's own test expects). So the
third and later passes start again from the input with the soft-core ramp of
:func:`folding.relax.amber.minimize`, which lets interpenetrating groups slide apart
intact: the third with every restraint in place (lifting them lets whole side chains
wander off, several Angstrom on that fixture), later ones with the restraints lifted
from every residue that violated so far. ``RelaxConfig(ramp=())`` runs AlphaFold's
passes only. Of the passes run, the one that leaves the fewest violating residues is
kept (AlphaFold keeps the last).

Violations are judged by the stricter of AlphaFold's two criteria: as published (and in
``alphafold-colabfold``) it scores the CA-C-N angle with the C-N bond's standard
deviation, which flags a superset of what its 2025-corrected version flags; a model
clean by it is clean by both.

The relaxed model keeps the input's B-factors (the pLDDT), chain identifiers, residue
numbers and REMARK records. A relax that fails (OpenMM or pdbfixer error), whose
minimiser stops at the iteration cap, or that ends with more violating residues than
it started with, returns the unrelaxed model and says why; one that leaves some
violations, but no more than the input had, returns the relaxed model, marked not
converged, with the reason (which says whether they are fewer or as many).
"""

from __future__ import annotations

import dataclasses
import io
import logging
import time
from typing import Any

import numpy as np
from openmm import app

from folding.common import pdb as pdb_format
from folding.common.atoms import ATOM37_INDEX, NUM_ATOM37
from folding.common.protein import Protein
from folding.relax import amber, cleanup
from folding.relax.violations import StructuralViolations, ViolationConfig, find_violations

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RelaxConfig:
    """The relaxation protocol: minimisation settings, passes and violation criteria."""

    amber: amber.AmberConfig = dataclasses.field(default_factory=amber.AmberConfig)
    max_passes: int = 3
    violations: ViolationConfig = dataclasses.field(
        default_factory=lambda: ViolationConfig(legacy_ca_c_n_stddev=True))
    ramp: tuple[float, ...] = (0.3, 0.1, 0.03)
    #: Attempts at the whole relaxation when OpenMM fails (AlphaFold retries a failed
    #: minimisation too). On a badly clashing model (untrained parameters) the CPU
    #: platform's multithreaded minimiser sometimes blows up to NaN at once and
    #: sometimes not: the P61626 demo model failed 1 run in 3.
    max_attempts: int = 3

    def __post_init__(self) -> None:
        if self.max_passes < 1:
            raise ValueError(f"max_passes must be at least 1, got {self.max_passes}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")


@dataclasses.dataclass(frozen=True)
class RelaxResult:
    """What relaxation produced.

    Attributes:
        protein: the output model (heavy atoms; the input itself when not ``relaxed``).
        pdb: the output as PDB text; hydrogens included when relaxed.
        relaxed: whether ``protein``/``pdb`` are the relaxed model.
        converged: minimisation converged and no residue violates any more.
        reason: why the relax failed, did not converge or was not kept (None if fine).
        violations_before, violations_after: violating residues per criterion.
        heavy_atom_rmsd: RMSD (A) over heavy atoms present in input and output, no fitting.
        seconds: wall time of the whole relaxation.
    """

    protein: Protein
    pdb: str
    relaxed: bool
    converged: bool
    reason: str | None
    violations_before: dict[str, int]
    violations_after: dict[str, int]
    heavy_atom_rmsd: float
    seconds: float
    passes: int = 0
    excluded_residues: tuple[int, ...] = ()
    initial_energy: float | None = None
    final_energy: float | None = None
    iterations: tuple[int, ...] = ()
    platform: str | None = None
    alterations: dict[str, Any] = dataclasses.field(default_factory=dict)
    criteria: dict[str, float] = dataclasses.field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """A JSON-ready summary (``violations_before``/``after`` as residue counts)."""
        return {
            "violations_before": self.violations_before["residues_violating"],
            "violations_after": self.violations_after["residues_violating"],
            "heavy_atom_rmsd": round(self.heavy_atom_rmsd, 4),
            "seconds": round(self.seconds, 2),
            "relaxed": self.relaxed,
            "converged": self.converged,
            "reason": self.reason,
            "passes": self.passes,
            "excluded_residues": list(self.excluded_residues),
            "violation_criteria": self.criteria,
            "violation_details_before": self.violations_before,
            "violation_details_after": self.violations_after,
            "initial_energy_kcal_mol": self.initial_energy,
            "final_energy_kcal_mol": self.final_energy,
            "minimizer_iterations": list(self.iterations),
            "platform": self.platform,
            "alterations": self.alterations,
        }


def _residue_rows(protein: Protein) -> dict[tuple[str, int], int]:
    names = protein.residue_chain_ids()
    return {(names[i], int(protein.residue_index[i])): i for i in range(protein.num_residues)}


def _topology_rows(topology: app.Topology, protein: Protein) -> list[int]:
    """The input residue row of each topology residue (keys: chain id, residue number)."""
    rows = _residue_rows(protein)
    found = []
    for residue in topology.residues():
        key = (residue.chain.id, int(residue.id))
        if key not in rows:
            raise ValueError(f"relaxed residue {key} has no counterpart in the input")
        found.append(rows[key])
    return found


def protein_from_topology(topology: app.Topology, positions: np.ndarray,
                          reference: Protein) -> Protein:
    """Heavy atoms of an OpenMM structure (positions in A) laid out like ``reference``.

    B-factors, residue types, numbering, chains and remarks come from ``reference``;
    atoms the clean-up added (e.g. OXT) take the residue's mean B-factor. Residues not
    in the topology (dropped one-residue chains) keep their reference coordinates.
    """
    atom_positions = np.array(reference.atom_positions)
    atom_mask = np.array(reference.atom_mask)
    b_factors = np.array(reference.b_factors)
    residue_b = reference.residue_b_factors()
    rows = _topology_rows(topology, reference)
    for residue, row in zip(topology.residues(), rows, strict=True):
        for atom in residue.atoms():
            slot = ATOM37_INDEX.get(atom.name)
            if slot is None or (atom.element is not None and atom.element.symbol == "H"):
                continue
            atom_positions[row, slot] = positions[atom.index]
            if atom_mask[row, slot] < 0.5:
                atom_mask[row, slot] = 1.0
                b_factors[row, slot] = residue_b[row]
    return reference.replace(atom_positions=atom_positions, atom_mask=atom_mask,
                             b_factors=b_factors)


def heavy_atom_rmsd(a: Protein, b: Protein) -> float:
    """RMSD (A) between two models of one protein over atoms both have (no superposition)."""
    both = (a.atom_mask > 0.5) & (b.atom_mask > 0.5)
    if not both.any():
        return 0.0
    diff = a.atom_positions[both].astype(np.float64) - b.atom_positions[both]
    return float(np.sqrt(np.mean(np.sum(diff * diff, axis=-1))))


def relaxed_pdb(topology: app.Topology, positions: np.ndarray, relaxed: Protein) -> str:
    """PDB text of the relaxed structure with hydrogens.

    B-factors come from ``relaxed`` (heavy atoms: their own; hydrogens: their residue's
    mean), its remarks lead the file, and OpenMM's dated header line is left out so that
    the same input gives the same file.
    """
    handle = io.StringIO()
    app.PDBFile.writeFile(topology, positions, handle, keepIds=True)
    rows = _topology_rows(topology, relaxed)
    residue_b = relaxed.residue_b_factors()
    per_atom: list[float] = []
    for residue, row in zip(topology.residues(), rows, strict=True):
        for atom in residue.atoms():
            slot = ATOM37_INDEX.get(atom.name, NUM_ATOM37)
            heavy = atom.element is None or atom.element.symbol != "H"
            if heavy and slot < NUM_ATOM37 and relaxed.atom_mask[row, slot] > 0.5:
                per_atom.append(float(relaxed.b_factors[row, slot]))
            else:
                per_atom.append(float(residue_b[row]))
    lines = [line for remark in relaxed.remarks
             for line in pdb_format.remark_lines(remark)]
    k = 0
    for line in handle.getvalue().splitlines():
        if line.startswith("REMARK"):
            continue
        if line.startswith(("ATOM  ", "HETATM")):
            line = f"{line[:60]}{per_atom[k]:6.2f}{line[66:]}"
            k += 1
        lines.append(line)
    # Columns are padded to 80, as the format wants (Biopython warns on a bare "END").
    return "\n".join(line.ljust(80) for line in lines) + "\n"


def _not_relaxed(protein: Protein, before: StructuralViolations, reason: str,
                 start: float, **extra: Any) -> RelaxResult:
    summary = before.summary()
    return RelaxResult(
        protein=protein, pdb=pdb_format.to_pdb(protein), relaxed=False, converged=False,
        reason=reason, violations_before=summary, violations_after=summary,
        heavy_atom_rmsd=0.0, seconds=time.perf_counter() - start, **extra)


def _criteria(config: ViolationConfig) -> dict[str, float]:
    from folding.common.stereochemistry import COS_ANGLE_CA_C_N, PEPTIDE_BOND_C_N

    return {
        "violation_tolerance_factor": config.violation_tolerance_factor,
        "clash_overlap_tolerance": config.clash_overlap_tolerance,
        "ca_c_n_cos_stddev": (PEPTIDE_BOND_C_N.stddev if config.legacy_ca_c_n_stddev
                              else COS_ANGLE_CA_C_N.stddev),
    }


@dataclasses.dataclass(frozen=True)
class _Pass:
    """One minimisation pass and what it left."""

    cleaned: cleanup.CleanedStructure
    minimization: amber.Minimization
    protein: Protein
    violations: StructuralViolations
    lifted: tuple[int, ...]


def _run_passes(protein: Protein, config: RelaxConfig) -> tuple[list[_Pass], _Pass]:
    """All passes run, and the one to keep: the fewest violating residues, the earliest
    (least restraint lifting) on a tie."""
    passes: list[_Pass] = []
    excluded: set[int] = set()
    current = protein
    for number in range(config.max_passes):
        ramped = bool(config.ramp) and number >= 2
        cleaned = cleanup.clean_structure(protein if ramped else current)
        rows = _topology_rows(cleaned.topology, protein)
        topology_index = {row: i for i, row in enumerate(rows)}
        lifted = [] if ramped and number == 2 else sorted(excluded)
        minimization = amber.minimize(
            cleaned, config.amber, [topology_index[r] for r in lifted if r in topology_index],
            ramp=config.ramp if ramped else ())
        current = protein_from_topology(cleaned.topology, minimization.positions, protein)
        after = find_violations(current, config.violations)
        passes.append(_Pass(cleaned, minimization, current, after, tuple(lifted)))
        log.info("relax pass %d: %d violating residues left, %d iterations, %.1f s",
                 len(passes), after.num_residues, minimization.iterations, minimization.seconds)
        if not minimization.converged or after.num_residues == 0:
            break
        excluded |= {int(r) for r in after.residues}
    best = min(passes, key=lambda p: p.violations.num_residues)
    return passes, best


def _kept_because(before: int, after: int) -> str:
    """Why a relaxed model that still violates is kept: it violates no more than the input."""
    if after < before:
        return f"fewer than the input's {before}"
    return f"no more than the input's {before}"


def relax(protein: Protein, config: RelaxConfig | None = None) -> RelaxResult:
    """Relax ``protein`` (Amber, restrained, up to ``max_passes`` passes). Never raises
    for a failed minimisation: the result then carries the unrelaxed model and why."""
    config = config or RelaxConfig()
    start = time.perf_counter()
    before = find_violations(protein, config.violations)
    criteria = _criteria(config.violations)
    for attempt in range(1, config.max_attempts + 1):
        try:
            passes, best = _run_passes(protein, config)
            break
        except Exception as error:  # any failure keeps the unrelaxed model
            log.debug("relax attempt %d failed", attempt, exc_info=True)
            reason = f"{type(error).__name__}: {error}"
            if attempt == config.max_attempts:
                times = "" if attempt == 1 else f" ({attempt} attempts)"
                return _not_relaxed(protein, before, f"relax failed{times}: {reason}",
                                    start, criteria=criteria)
            log.warning("relax attempt %d of %d failed (%s); trying again", attempt,
                        config.max_attempts, reason)
    minimization, after = best.minimization, best.violations
    extra: dict[str, Any] = {
        "passes": len(passes), "iterations": tuple(p.minimization.iterations for p in passes),
        "excluded_residues": best.lifted, "platform": minimization.platform,
        "initial_energy": minimization.initial_energy,
        "final_energy": minimization.final_energy,
        "alterations": passes[0].cleaned.alterations.as_dict(), "criteria": criteria,
    }
    if not passes[-1].minimization.converged:
        return _not_relaxed(
            protein, before,
            f"minimiser stopped at the iteration cap ({config.amber.max_iterations}) "
            "before converging; raise or remove --max-iterations", start, **extra)
    if after.num_residues > before.num_residues:
        return _not_relaxed(
            protein, before,
            f"relaxed model has more violating residues ({after.num_residues}) than the "
            f"input ({before.num_residues}); kept the input", start, **extra)
    reason = None
    if after.num_residues:
        reason = (f"{after.num_residues} residues still violate after {len(passes)} "
                  f"pass{'es' if len(passes) > 1 else ''} "
                  f"(relaxed model kept: {_kept_because(before.num_residues, after.num_residues)})")
    return RelaxResult(
        protein=best.protein,
        pdb=relaxed_pdb(best.cleaned.topology, minimization.positions, best.protein),
        relaxed=True, converged=reason is None, reason=reason,
        violations_before=before.summary(), violations_after=after.summary(),
        heavy_atom_rmsd=heavy_atom_rmsd(protein, best.protein),
        seconds=time.perf_counter() - start, **extra)
