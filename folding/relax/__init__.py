"""Amber relaxation (AlphaFold2 supplement 1.8.6).

One concept per module: :mod:`.cleanup` (pdbfixer: heavy atoms, hydrogens),
:mod:`.amber` (OpenMM minimisation under restraints), :mod:`.violations` (AlphaFold's
structural-violation criteria), :mod:`.relax` (the outer loop, ``relax`` and
``RelaxResult``), :mod:`.cli` (``folding relax``). Nothing is imported here, so that
``import folding.relax.violations`` does not load OpenMM.
"""
