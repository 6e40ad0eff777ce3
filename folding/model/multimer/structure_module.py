"""The multimer structure module (Suppl. Alg. 20 in AlphaFold-Multimer's form).

The same eight weight-shared iterations as the monomer's
(:mod:`folding.model.structure_module`, whose input layer norms, attention core,
transition and side-chain ResNet it shares) with the multimer parameterisation:

* invariant point attention (Suppl. Alg. 22) with separate query, key and value
  projections (scalars without bias; points per head as x, y, z blocks) and the output
  points' norm floored at epsilon rather than softened by it;
* the backbone update (Alg. 23) as a rigid frame composed on the right: a rotation from
  the quaternion (1, b, c, d), normalised, and a translation (``quat_rigid/rigid``); the
  frames are carried as rotation matrices;
* internal lengths in units of 20 Angstrom (``position_scale``);
* atoms of padded residues are masked.

Everything runs in float32 with full-precision matmuls. With ``chunk_bytes`` the pair's
layer norm and the attention run a block of query residues at a time, as the monomer's.
"""

from __future__ import annotations

import dataclasses

import haiku as hk
import jax
import jax.numpy as jnp

from folding.model import all_atom
from folding.model.geometry import Rigid3, Rot3, Vec3
from folding.model.ipa import (
    InvariantPointAttention,
    InvariantPointAttentionConfig,
    PointProjections,
)
from folding.model.primitives import Linear
from folding.model.structure_module import (
    IterationInputs,
    MultiRigidSidechain,
    StructureModuleConfig,
    iteration_inputs,
    single_update,
)

Array = jax.Array
#: Angstrom per internal length unit of the multimer models.
MULTIMER_POSITION_SCALE = 20.0


def multimer_structure_config() -> StructureModuleConfig:
    """The monomer's hyperparameters with lengths in units of 20 Angstrom."""
    return StructureModuleConfig(position_scale=MULTIMER_POSITION_SCALE)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class MultimerStructureOutput:
    """What the multimer structure module predicts.

    Attributes:
        final_atom_positions: [L, 37, 3] Angstrom, zero for absent atoms and padding.
        final_atom_mask: [L, 37] atoms the residue types have (zero on padding).
        final_atom14_positions / final_atom14_mask: the same in the atom14 layout.
        single: [L, c] activations after the last iteration (the pLDDT head's input).
        trajectory: backbone frames [num_layer, L] after each iteration (Angstrom).
        sidechain_frames: [L, 8] global frames of the rigid groups.
        angles_sin_cos / unnormalized_angles_sin_cos: [num_layer, L, 7, 2].
    """

    final_atom_positions: Array
    final_atom_mask: Array
    final_atom14_positions: Array
    final_atom14_mask: Array
    single: Array
    trajectory: Rigid3
    sidechain_frames: Rigid3
    angles_sin_cos: Array
    unnormalized_angles_sin_cos: Array


class PointProjection(hk.Module):
    """Points [L, H, P] made in each residue's frame, returned in the global frame."""

    def __init__(self, num_head: int, num_points: int, name: str) -> None:
        super().__init__(name=name)
        self.num_head = num_head
        self.num_points = num_points

    def __call__(self, act: Array, frames: Rigid3) -> Vec3:
        local = Linear((self.num_head, 3 * self.num_points), name="point_projection")(act)
        x, y, z = jnp.split(local, 3, axis=-1)
        return frames[:, None, None].apply(Vec3(x, y, z))


def multimer_projections(single: Array, frames: Rigid3, c: InvariantPointAttentionConfig
                         ) -> PointProjections:
    """Suppl. Alg. 22 lines 1-3 in the multimer layout: ``{q,k,v}_scalar_projection``
    without bias and ``{q,k,v}_point_projection``."""
    h = c.num_head

    def scalars(name: str, channels: int) -> Array:
        return Linear((h, channels), use_bias=False, name=f"{name}_scalar_projection")(single)

    def points(name: str, count: int) -> Vec3:
        return PointProjection(h, count, f"{name}_point_projection")(single, frames)

    q_point, k_point = points("q", c.num_point_qk), points("k", c.num_point_qk)
    q_scalar, k_scalar = scalars("q", c.num_scalar_qk), scalars("k", c.num_scalar_qk)
    v_scalar, v_point = scalars("v", c.num_scalar_v), points("v", c.num_point_v)
    return PointProjections(q_scalar, k_scalar, v_scalar, q_point, k_point, v_point)


def floored_norm(v: Vec3, epsilon: float) -> Array:
    """AlphaFold-Multimer's norm of the output points, sqrt(max(|v|^2, epsilon^2))."""
    return jnp.sqrt(jnp.maximum(v.squared_norm(), epsilon ** 2))


def rigid_update(act: Array) -> Rigid3:
    """The backbone update (Suppl. Alg. 23, ``quat_rigid``): a frame from a projected
    quaternion (1, b, c, d) (normalised) and translation."""
    with hk.name_scope("quat_rigid"):
        update = Linear(6, name="rigid")(act)
    b, c, d = update[..., 0], update[..., 1], update[..., 2]
    inv_norm = jax.lax.rsqrt(jnp.maximum(1e-6, 1.0 + b * b + c * c + d * d))
    rotation = Rot3.from_quaternion(jnp.stack([inv_norm, b * inv_norm, c * inv_norm,
                                               d * inv_norm], axis=-1), normalize=False)
    return Rigid3(rotation, Vec3(update[..., 3], update[..., 4], update[..., 5]))


class FoldIteration(hk.Module):
    """One weight-shared iteration: IPA, transition, backbone update, side chains."""

    def __init__(self, config: StructureModuleConfig, name: str = "fold_iteration") -> None:
        super().__init__(name=name)
        self.config = config

    def __call__(self, act: Array, frames: Rigid3, inputs: IterationInputs, aatype: Array,
                 is_training: bool, chunk_bytes: int | None = None):
        c = self.config
        attention = InvariantPointAttention(c.ipa, multimer_projections, floored_norm)(
            act, inputs.pair, inputs.mask, frames, inputs.pair_norm, chunk_bytes)
        act = single_update(act, attention, c, is_training)
        frames = frames @ rigid_update(act)
        sidechain = MultiRigidSidechain(c.sidechain)(
            frames.scale_translation(c.position_scale), act, inputs.initial, aatype)
        frames = Rigid3(jax.tree_util.tree_map(jax.lax.stop_gradient, frames.rot), frames.trans)
        return act, frames, sidechain


class MultimerStructureModule(hk.Module):
    """``structure_module``: single [L, c_s], pair [L, L, c_z] -> atoms and frames."""

    def __init__(self, config: StructureModuleConfig, name: str = "structure_module") -> None:
        super().__init__(name=name)
        self.config = config

    def __call__(self, single: Array, pair: Array, aatype: Array, seq_mask: Array,
                 is_training: bool = False, chunk_bytes: int | None = None
                 ) -> MultimerStructureOutput:
        # Full float32 matmuls whatever the default (TF32 on GPUs moves atoms by tenths
        # of an Angstrom); the body stays in __call__ so no extra name scope is added.
        with jax.default_matmul_precision("highest"):
            c = self.config
            num_res = single.shape[0]
            inputs = iteration_inputs(single, pair, seq_mask, chunk_bytes)
            act = Linear(c.num_channel, name="initial_projection")(inputs.initial)
            fold_iteration = FoldIteration(c)

            def step(carry, _):
                act, frames = carry
                act, frames, sidechain = fold_iteration(act, frames, inputs, aatype,
                                                        is_training, chunk_bytes)
                return (act, frames), (frames.scale_translation(c.position_scale), sidechain)

            carry = (act, Rigid3.identity((num_res,)))
            (act, _), (trajectory, sidechain) = hk.scan(step, carry, None, length=c.num_layer)
            atom14 = sidechain["atom14"][-1]
            residue_mask = inputs.mask[:, None]
            atom37_mask = all_atom.atom37_exists(aatype) * residue_mask
            atom14_mask = all_atom.atom14_exists(aatype) * residue_mask
            return MultimerStructureOutput(
                final_atom_positions=all_atom.atom14_to_atom37(atom14, aatype)
                * atom37_mask[..., None],
                final_atom_mask=atom37_mask,
                final_atom14_positions=atom14,
                final_atom14_mask=atom14_mask,
                single=act,
                trajectory=trajectory,
                sidechain_frames=sidechain["frames"][-1],
                angles_sin_cos=sidechain["angles"],
                unnormalized_angles_sin_cos=sidechain["unnormalized_angles"],
            )
