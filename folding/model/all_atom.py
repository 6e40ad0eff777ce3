"""All-atom representations: atom14 <-> atom37, pseudo-beta, and atoms from torsion angles.

AlphaFold2 keeps atoms in two layouts (supplement 1.2.1): the dense, residue-specific
atom14 layout inside the structure module and the name-indexed atom37 layout at its
output. The structure module predicts a backbone frame and seven torsion angles per
residue; :func:`torsion_angles_to_frames` turns those into the frames of the eight rigid
groups and :func:`frames_to_atom14_positions` places the literature atom positions in
them (Algorithm 24, computeAllAtomCoordinates).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from folding.common import atoms
from folding.common import stereochemistry as sc
from folding.common.alphabet import RESTYPE_INDEX, UNKNOWN_INDEX
from folding.model.geometry import Rigid3, Rot3, Vec3

Array = jax.Array
_CA, _CB = atoms.ATOM37_INDEX["CA"], atoms.ATOM37_INDEX["CB"]


def _table(table, aatype: Array) -> Array:
    """Rows of a per-residue-type table for each residue; ids above 20 read as UNK."""
    return jnp.asarray(table)[jnp.clip(aatype, 0, UNKNOWN_INDEX)]


def atom14_exists(aatype: Array) -> Array:
    """[..., 14] float32: which atom14 slots each residue type uses."""
    return _table(atoms.ATOM14_MASK, aatype).astype(jnp.float32)


def atom37_exists(aatype: Array) -> Array:
    """[..., 37] float32: which atom37 atoms each residue type has."""
    return _table(atoms.STANDARD_ATOM37_MASK, aatype).astype(jnp.float32)


def _gather_atoms(data: Array, index: Array) -> Array:
    """data [..., A, *C] indexed along the atom axis by index [..., B] -> [..., B, *C]."""
    extra = data.ndim - index.ndim
    index = index.reshape(index.shape + (1,) * extra)
    return jnp.take_along_axis(data, index, axis=index.ndim - extra - 1)


def atom14_to_atom37(atom14_data: Array, aatype: Array) -> Array:
    """atom14 data [..., 14, *C] -> atom37 [..., 37, *C], zero where an atom is absent."""
    data = _gather_atoms(atom14_data, _table(atoms.ATOM37_TO_ATOM14, aatype))
    exists = atom37_exists(aatype).astype(data.dtype)
    return data * exists.reshape(exists.shape + (1,) * (data.ndim - exists.ndim))


def atom37_to_atom14(atom37_data: Array, aatype: Array) -> Array:
    """atom37 data [..., 37, *C] -> atom14 [..., 14, *C], zero in unused slots."""
    data = _gather_atoms(atom37_data, _table(atoms.ATOM14_TO_ATOM37, aatype))
    exists = atom14_exists(aatype).astype(data.dtype)
    return data * exists.reshape(exists.shape + (1,) * (data.ndim - exists.ndim))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class PseudoBeta:
    """The CB position of each residue (CA for glycine) and whether it is known."""

    positions: Array  # [..., 3]
    mask: Array  # [..., ] float32


def pseudo_beta(aatype: Array, all_atom_positions: Array,
                all_atom_mask: Array | None = None) -> PseudoBeta:
    """Pseudo-beta atoms from atom37 positions [..., 37, 3] (used by the distogram,
    template and recycling features, supplement 1.6 and 1.7)."""
    is_gly = aatype == RESTYPE_INDEX["G"]
    positions = jnp.where(is_gly[..., None], all_atom_positions[..., _CA, :],
                          all_atom_positions[..., _CB, :])
    if all_atom_mask is None:
        mask = jnp.ones(is_gly.shape, jnp.float32)
    else:
        mask = jnp.where(is_gly, all_atom_mask[..., _CA], all_atom_mask[..., _CB])
    return PseudoBeta(positions, mask.astype(jnp.float32))


def torsion_angles_to_frames(aatype: Array, backbone_to_global: Rigid3,
                             torsion_sin_cos: Array) -> Rigid3:
    """Global frames [..., 8] of the rigid groups from backbone frames and torsions.

    Algorithm 24 (computeAllAtomCoordinates) lines 2-10, with Algorithm 25 (makeRotX):
    each group's default frame is rotated about its x axis by its torsion (sin, cos)
    ``torsion_sin_cos`` [..., 7, 2] (pre-omega, phi, psi, chi1-4); chi2-4 are chained
    onto the previous chi group, the others hang off the backbone.
    """
    defaults = Rigid3.from_array4x4(_table(sc.DEFAULT_FRAMES, aatype))
    sin = jnp.concatenate([jnp.zeros_like(torsion_sin_cos[..., :1, 0]),
                           torsion_sin_cos[..., 0]], axis=-1)
    cos = jnp.concatenate([jnp.ones_like(torsion_sin_cos[..., :1, 1]),
                           torsion_sin_cos[..., 1]], axis=-1)
    to_parent = defaults.compose_rotation(Rot3.about_x(sin, cos))

    chained = [to_parent[..., sc.CHI1]]
    for group in (sc.CHI2, sc.CHI3, sc.CHI4):
        chained.append(chained[-1] @ to_parent[..., group])
    to_backbone = jax.tree_util.tree_map(
        lambda head, c2, c3, c4: jnp.concatenate(
            [head[..., :sc.CHI2], c2[..., None], c3[..., None], c4[..., None]], axis=-1),
        to_parent, *chained[1:])
    return backbone_to_global[..., None] @ to_backbone


def frames_to_atom14_positions(aatype: Array, group_frames: Rigid3) -> Vec3:
    """Atom14 positions [..., 14] from the global frames [..., 8] of the rigid groups.

    Algorithm 24 line 11: each atom's literature position is mapped by its group's
    frame; slots the residue does not use are zero.
    """
    group = _table(sc.ATOM14_RIGID_GROUP, aatype)
    per_atom = group_frames.map(lambda a: jnp.take_along_axis(a, group, axis=-1))
    local = Vec3.from_array(_table(sc.ATOM14_LOCAL_POSITIONS, aatype))
    return per_atom.apply(local) * atom14_exists(aatype)
