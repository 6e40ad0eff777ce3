"""Torsion angles of residues from their atom37 coordinates.

Seven torsions per residue, in AlphaFold2's order: pre-omega (the omega angle between
the previous residue and this one), phi, psi and chi1-4 (supplement 1.8, Table 2). They
feed the template embedding as (sin, cos) pairs (supplement 1.7.1, Algorithm 2 line 7)
and define the side-chain frames of Algorithm 24.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from folding.common import atoms
from folding.common import stereochemistry as sc
from folding.common.alphabet import UNKNOWN_INDEX
from folding.model.geometry import Rigid3, Vec3

Array = jax.Array
_N, _CA, _C, _O = (atoms.ATOM37_INDEX[a] for a in ("N", "CA", "C", "O"))


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class TorsionAngles:
    """Torsion angles of each residue as (sin, cos).

    Attributes:
        sin_cos: [..., L, 7, 2] pre-omega, phi, psi, chi1-4.
        alt_sin_cos: the same with the pi-periodic chi angles shifted by pi (the angles
            of the residue with its 180-degree-symmetric atoms renamed).
        mask: [..., L, 7] 1 where all four defining atoms are present (and, for chis,
            the residue type has that chi).
    """

    sin_cos: Array
    alt_sin_cos: Array
    mask: Array


def _previous_residue(x: Array, residue_axis: int) -> Array:
    """x shifted one residue towards the C terminus, zeros at the first residue."""
    pad = [(0, 0)] * x.ndim
    pad[residue_axis] = (1, 0)
    return jax.lax.slice_in_dim(jnp.pad(x, pad), 0, x.shape[residue_axis], axis=residue_axis)


def atom37_to_torsion_angles(aatype: Array, all_atom_positions: Array, all_atom_mask: Array,
                             placeholder_for_undefined: bool = False) -> TorsionAngles:
    """The seven torsion angles of every residue of a chain.

    Args:
        aatype: [..., L] residue types (ids above 20 read as unknown).
        all_atom_positions: [..., L, 37, 3] atom37 coordinates.
        all_atom_mask: [..., L, 37] atom37 presence.
        placeholder_for_undefined: replace masked-out torsions by (sin, cos) = (1, 0);
            AlphaFold's monomer models leave them as computed (False).

    Each torsion is measured as in AlphaFold: a frame is built from its first three atoms
    (Algorithm 21) and the angle is read from the fourth atom's y and z in that frame.
    psi is measured through the carbonyl O and mirrored to the N(i+1) convention.
    """
    aatype = jnp.clip(aatype, 0, UNKNOWN_INDEX)
    pos = all_atom_positions.astype(jnp.float32)
    mask = all_atom_mask.astype(jnp.float32)
    prev_pos, prev_mask = _previous_residue(pos, -3), _previous_residue(mask, -2)

    backbone = jnp.stack([
        jnp.stack([prev_pos[..., _CA, :], prev_pos[..., _C, :], pos[..., _N, :],
                   pos[..., _CA, :]], axis=-2),  # pre-omega
        jnp.stack([prev_pos[..., _C, :], pos[..., _N, :], pos[..., _CA, :], pos[..., _C, :]],
                  axis=-2),  # phi
        jnp.stack([pos[..., _N, :], pos[..., _CA, :], pos[..., _C, :], pos[..., _O, :]],
                  axis=-2),  # psi (through O)
    ], axis=-3)  # [..., L, 3, 4, 3]
    backbone_mask = jnp.stack([
        prev_mask[..., _CA] * prev_mask[..., _C] * (mask[..., _N] * mask[..., _CA]),
        prev_mask[..., _C] * (mask[..., _N] * mask[..., _CA] * mask[..., _C]),
        mask[..., _N] * mask[..., _CA] * mask[..., _C] * mask[..., _O],
    ], axis=-1)

    chi_index = jnp.asarray(sc.CHI_ATOM37_INDICES)[aatype]  # [..., L, 4, 4]
    flat_index = chi_index.reshape((*chi_index.shape[:-2], 16))
    chi_pos = jnp.take_along_axis(pos, flat_index[..., None], axis=-2)
    chi_pos = chi_pos.reshape((*chi_index.shape, 3))
    chi_atoms_present = jnp.take_along_axis(mask, flat_index, axis=-1).reshape(chi_index.shape)
    chi_mask = jnp.asarray(sc.CHI_ANGLES_MASK)[aatype] * jnp.prod(chi_atoms_present, axis=-1)

    quads = jnp.concatenate([backbone, chi_pos], axis=-3)  # [..., L, 7, 4, 3]
    torsion_mask = jnp.concatenate([backbone_mask, chi_mask], axis=-1)

    atom = [Vec3.from_array(quads[..., k, :]) for k in range(4)]
    frames = Rigid3.from_3_points(point_on_neg_x_axis=atom[1], origin=atom[2],
                                  point_on_xy_plane=atom[0])
    fourth = frames.inverse().apply(atom[3])
    sin_cos = jnp.stack([fourth.z, fourth.y], axis=-1)
    sin_cos = sin_cos / jnp.sqrt(jnp.sum(jnp.square(sin_cos), axis=-1, keepdims=True) + 1e-8)
    sin_cos = sin_cos * jnp.array([1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0])[:, None]

    chi_sign = 1.0 - 2.0 * jnp.asarray(sc.CHI_PI_PERIODIC)[aatype]
    sign = jnp.concatenate([jnp.ones((*chi_sign.shape[:-1], 3)), chi_sign], axis=-1)
    alt_sin_cos = sin_cos * sign[..., None]

    if placeholder_for_undefined:
        placeholder = jnp.array([1.0, 0.0])
        keep = torsion_mask[..., None]
        sin_cos = sin_cos * keep + placeholder * (1.0 - keep)
        alt_sin_cos = alt_sin_cos * keep + placeholder * (1.0 - keep)
    return TorsionAngles(sin_cos, alt_sin_cos, torsion_mask)
