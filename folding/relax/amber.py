"""Restrained Amber energy minimisation with OpenMM (AlphaFold2 supplement 1.8.6).

The force field is Amber99SB without solvent (no cut-off, vacuum), with bonds to
hydrogen constrained (``HBonds``), as AlphaFold sets it up. Heavy atoms are held to
their starting positions by harmonic restraints ``E = 0.5 k |x - x0|^2`` with
``k = 10 kcal/mol/A^2``; the outer relaxation loop lifts them from residues that
still violate stereochemistry. Minimisation is OpenMM's L-BFGS
(``LocalEnergyMinimizer``), without an iteration limit by default.

The tolerance, and its units
----------------------------
AlphaFold passes ``tolerance = 2.39 kcal/mol`` (an energy; its docstring calls it
"the OpenMM default"). OpenMM before 8.1 did not check the units of this argument: it
converted any quantity to its internal unit system, so 2.39 kcal/mol became the bare
number 2.39 x 4.184 = 10.0, which the minimiser read as a force in its native unit,
kJ/mol/nm. AlphaFold therefore minimised until the root-mean-square force fell below
10 kJ/mol/nm, OpenMM's own default. From 8.1 on, ``minimize`` converts the tolerance
with ``value_in_unit(kilojoules_per_mole/nanometer)`` and rejects an energy; the
documentation now reads "the root-mean-square value of all force components ... (in
kJ/mol/nm)". We keep AlphaFold's number, read as a force per nanometre:
``2.39 kcal/mol/nm = 10.0 kJ/mol/nm``, which reproduces what AlphaFold actually did.
Two other readings are wrong: ``2.39 kJ/mol/nm`` (4.2 times tighter, slower) and
``2.39 kcal/mol/A`` (= 100 kJ/mol/nm, ten times looser), the latter being what the
``alphafold-colabfold`` fork passes.

Soft-core ramp (our addition)
-----------------------------
A predicted structure can have atoms on top of each other (a backbone through an
aromatic ring). Switched on at once, the full Lennard-Jones repulsion tears such a
ring open around the intruder, and no later minimisation repairs it: AlphaFold's
relax leaves these residues violating. ``minimize(..., ramp=(0.3, 0.1, 0.03))`` first
minimises with a soft-core Lennard-Jones term (Beutler et al. 1994:
``4 eps [1/(a + (r/sigma)^6)^2 - 1/(a + (r/sigma)^6)]``, finite at r = 0, no charges)
whose softness ``a`` decreases stage by stage, so that overlapping groups slide apart
with their covalent geometry intact, and only then with the full force field. The
relaxation loop uses it only in passes after the first, i.e. only for structures that
AlphaFold's protocol does not fix.

Platforms: CUDA, then OpenCL, then CPU, whichever OpenMM has first (overridable).
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Collection, Sequence

import numpy as np
import openmm
from openmm import app, unit

from folding.errors import InputError
from folding.relax.cleanup import CleanedStructure

#: Platforms in order of preference.
PLATFORM_PREFERENCE: tuple[str, ...] = ("CUDA", "OpenCL", "CPU")
FORCE_FIELD = "amber99sb.xml"

_KCAL = unit.kilocalories_per_mole
#: Soft-core stages: at most this many iterations each, at this multiple of the tolerance.
RAMP_MAX_ITERATIONS = 300
RAMP_TOLERANCE_FACTOR = 10.0
_SOFT_CUTOFF_NM = 1.0


@dataclasses.dataclass(frozen=True)
class AmberConfig:
    """Settings of one restrained minimisation (AlphaFold's values by default).

    Attributes:
        stiffness: restraint spring constant, kcal/mol/A^2.
        tolerance: AlphaFold's 2.39, in kcal/mol/nm of root-mean-square force (see the
            module docstring: 10.0 kJ/mol/nm).
        max_iterations: L-BFGS iteration cap per minimisation; 0 means no limit.
        platform: "CUDA", "OpenCL", "CPU" or "Reference"; None picks the best present.
        cpu_threads: threads for the CPU platform; None lets OpenMM decide.
        restrain: "heavy_atoms" (AlphaFold's default) or "ca".
    """

    stiffness: float = 10.0
    tolerance: float = 2.39
    max_iterations: int = 0
    platform: str | None = None
    cpu_threads: int | None = None
    restrain: str = "heavy_atoms"

    def __post_init__(self) -> None:
        if self.max_iterations < 0:
            raise InputError(f"--max-iterations {self.max_iterations}: give 0 (no limit) or more")
        if self.restrain not in ("heavy_atoms", "ca"):
            raise InputError(f"restrain={self.restrain!r}: use 'heavy_atoms' or 'ca'")
        if self.stiffness < 0 or self.tolerance <= 0:
            raise InputError("relax stiffness must be >= 0 and tolerance > 0")

    @property
    def tolerance_quantity(self) -> unit.Quantity:
        """The tolerance as OpenMM >= 8.1 wants it: a force (kJ/mol/nm)."""
        return (self.tolerance * _KCAL / unit.nanometer).in_units_of(
            unit.kilojoules_per_mole / unit.nanometer)

    @property
    def stiffness_quantity(self) -> unit.Quantity:
        return self.stiffness * _KCAL / unit.angstrom**2


@dataclasses.dataclass(frozen=True)
class Minimization:
    """The outcome of one minimisation.

    ``positions`` [N, 3] in Angstrom, in the order of the cleaned topology's atoms;
    energies in kcal/mol; ``rms_force`` in kJ/mol/nm after minimisation;
    ``iterations`` counts every L-BFGS iteration; ``converged`` is False when a round of
    L-BFGS ran into the iteration cap. The RMS force
    counts every atom, constrained directions included, so it can exceed the tolerance
    of a converged minimisation.
    """

    positions: np.ndarray
    initial_energy: float
    final_energy: float
    iterations: int
    converged: bool
    rms_force: float
    restrained_atoms: int
    ramp_iterations: tuple[int, ...]
    platform: str
    seconds: float


def available_platforms() -> list[str]:
    """Names of the OpenMM platforms this installation can use."""
    return [openmm.Platform.getPlatform(i).getName()
            for i in range(openmm.Platform.getNumPlatforms())]


def choose_platform(requested: str | None = None) -> str:
    """The platform to run on: ``requested`` if present, else CUDA > OpenCL > CPU."""
    present = available_platforms()
    if requested is not None:
        match = next((p for p in present if p.lower() == requested.lower()), None)
        if match is None:
            raise InputError(
                f"OpenMM platform {requested!r} is not available here (have: "
                f"{', '.join(present)}); choose one of those"
            )
        return match
    for name in PLATFORM_PREFERENCE:
        if name in present:
            return name
    return present[0]


def _platform_properties(platform: openmm.Platform, config: AmberConfig) -> dict[str, str]:
    """Deterministic force summation where the platform offers it (the same input then
    gives the same relaxed model), and the CPU thread count if one was asked for."""
    names = set(platform.getPropertyNames())
    properties = {"DeterministicForces": "true"} if "DeterministicForces" in names else {}
    if platform.getName() == "CPU" and config.cpu_threads:
        properties["Threads"] = str(config.cpu_threads)
    return properties


class _IterationCounter(openmm.MinimizationReporter):
    """Counts L-BFGS iterations; never stops the minimiser early.

    OpenMM restarts L-BFGS, with stiffer constraint springs, until the constraints hold;
    each round numbers its iterations from 0 and may use ``maxIterations`` of them.
    ``count`` is the total over rounds, ``longest_round`` the most any round used.
    """

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.longest_round = 0

    def report(self, iteration, x, grad, args):
        self.count += 1
        self.longest_round = max(self.longest_round, int(iteration) + 1)
        return False


def _restraint_force(cleaned: CleanedStructure, config: AmberConfig,
                     exclude_residues: Collection[int]) -> openmm.CustomExternalForce:
    force = openmm.CustomExternalForce("0.5 * k * ((x - x0)^2 + (y - y0)^2 + (z - z0)^2)")
    force.addGlobalParameter(
        "k", config.stiffness_quantity.value_in_unit(unit.kilojoules_per_mole / unit.nanometer**2))
    for name in ("x0", "y0", "z0"):
        force.addPerParticleParameter(name)
    excluded = set(exclude_residues)
    for atom in cleaned.topology.atoms():
        if atom.residue.index in excluded:
            continue
        heavy = atom.element is not None and atom.element.symbol != "H"
        if (config.restrain == "heavy_atoms" and heavy) or (
                config.restrain == "ca" and atom.name == "CA"):
            force.addParticle(atom.index, cleaned.positions[atom.index].tolist())
    return force


def _soften(system: openmm.System, softness: float) -> None:
    """Replace Lennard-Jones and charges by a soft-core repulsion/attraction in place."""
    nonbonded = next(f for f in system.getForces() if isinstance(f, openmm.NonbondedForce))
    soft = openmm.CustomNonbondedForce(
        "4 * eps * (1 / (a + (r / sig)^6)^2 - 1 / (a + (r / sig)^6));"
        " sig = 0.5 * (s1 + s2); eps = sqrt(e1 * e2)")
    soft.addGlobalParameter("a", softness)
    soft.addPerParticleParameter("s")
    soft.addPerParticleParameter("e")
    for i in range(nonbonded.getNumParticles()):
        _, sigma, epsilon = nonbonded.getParticleParameters(i)
        # Amber gives some polar hydrogens sigma = 0 (and epsilon = 0): keep r / sig finite.
        soft.addParticle([max(sigma.value_in_unit(unit.nanometer), 0.1),
                          epsilon.value_in_unit(unit.kilojoules_per_mole)])
        nonbonded.setParticleParameters(i, 0.0, sigma, 0.0)
    for k in range(nonbonded.getNumExceptions()):
        i, j, *_ = nonbonded.getExceptionParameters(k)
        soft.addExclusion(i, j)
    for force in (soft, nonbonded):
        force.setNonbondedMethod(force.CutoffNonPeriodic)
        force.setCutoffDistance(_SOFT_CUTOFF_NM)
    system.addForce(soft)


def minimize(cleaned: CleanedStructure, config: AmberConfig,
             exclude_residues: Collection[int] = (), ramp: Sequence[float] = ()
             ) -> Minimization:
    """Minimise the cleaned structure's Amber energy under position restraints.

    ``exclude_residues`` are 0-based residue indices of the cleaned topology whose atoms
    are not restrained. ``ramp`` lists soft-core softness values minimised in turn
    before the full force field (see the module docstring); empty means AlphaFold's
    single minimisation. Raises ``openmm.OpenMMException`` (or ValueError for residues
    the force field has no template for) when OpenMM cannot run.
    """
    start = time.perf_counter()
    force_field = app.ForceField(FORCE_FIELD)
    system = force_field.createSystem(cleaned.topology, nonbondedMethod=app.NoCutoff,
                                      constraints=app.HBonds)
    restraints = _restraint_force(cleaned, config, exclude_residues)
    if config.stiffness > 0 and restraints.getNumParticles():
        system.addForce(restraints)
    platform_name = choose_platform(config.platform)
    platform = openmm.Platform.getPlatformByName(platform_name)
    properties = _platform_properties(platform, config)

    positions = cleaned.positions
    ramp_iterations = []
    for softness in ramp:
        soft_system = copy.deepcopy(system)
        _soften(soft_system, softness)
        context = openmm.Context(soft_system, openmm.VerletIntegrator(0.001), platform,
                                 properties)
        context.setPositions(positions)
        counter = _IterationCounter()
        openmm.LocalEnergyMinimizer.minimize(
            context, config.tolerance_quantity * RAMP_TOLERANCE_FACTOR, RAMP_MAX_ITERATIONS,
            counter)
        positions = context.getState(getPositions=True).getPositions(asNumpy=True)
        ramp_iterations.append(counter.count)
        del context

    context = openmm.Context(system, openmm.VerletIntegrator(0.001), platform, properties)
    context.setPositions(positions)
    initial = context.getState(getEnergy=True).getPotentialEnergy().value_in_unit(_KCAL)
    counter = _IterationCounter()
    openmm.LocalEnergyMinimizer.minimize(context, config.tolerance_quantity,
                                         config.max_iterations, counter)
    state = context.getState(getEnergy=True, getPositions=True, getForces=True)
    final_positions = state.getPositions(asNumpy=True).value_in_unit(unit.angstrom)
    forces = state.getForces(asNumpy=True).value_in_unit(unit.kilojoules_per_mole / unit.nanometer)
    final = state.getPotentialEnergy().value_in_unit(_KCAL)
    if not np.all(np.isfinite(final_positions)) or not np.isfinite(final):
        raise ValueError("minimisation produced non-finite coordinates or energy")
    capped = config.max_iterations > 0 and counter.longest_round >= config.max_iterations
    return Minimization(
        positions=np.asarray(final_positions, dtype=np.float64),
        initial_energy=float(initial),
        final_energy=float(final),
        iterations=counter.count,
        converged=not capped,
        rms_force=float(np.sqrt(np.mean(np.square(forces)))),
        restrained_atoms=restraints.getNumParticles() if config.stiffness > 0 else 0,
        ramp_iterations=tuple(ramp_iterations),
        platform=platform_name,
        seconds=time.perf_counter() - start,
    )
