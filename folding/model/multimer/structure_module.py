"""The multimer structure module (Suppl. Alg. 20 in AlphaFold-Multimer's form).

The same eight weight-shared iterations as the monomer's
(:mod:`folding.model.structure_module`) with the multimer parameterisation:

* invariant point attention (Suppl. Alg. 22) with separate query, key and value
  projections (scalars without bias; points per head as x, y, z blocks), the three
  logit terms summed and scaled by sqrt(1/3) together;
* the backbone update (Alg. 23) as a rigid frame composed on the right: a rotation from
  the quaternion (1, b, c, d), normalised, and a translation (``quat_rigid/rigid``); the
  frames are carried as rotation matrices;
* internal lengths in units of 20 Angstrom (``position_scale``);
* atoms of padded residues are masked.

The side-chain ResNet and atom placement (Alg. 20 lines 11-14, Alg. 24) are the
monomer's. Everything runs in float32 with full-precision matmuls.
"""

from __future__ import annotations

import dataclasses

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from folding.model import all_atom
from folding.model.geometry import Rigid3, Rot3, Vec3
from folding.model.ipa import InvariantPointAttentionConfig
from folding.model.primitives import LayerNorm, Linear
from folding.model.structure_module import MultiRigidSidechain, SidechainConfig

Array = jax.Array
#: Regulariser of the output points' norms (a floor on the squared norm of 1e-16).
_POINT_NORM_EPSILON = 1e-8


@dataclasses.dataclass(frozen=True)
class MultimerStructureModuleConfig:
    """Hyperparameters of the multimer structure module."""

    num_layer: int = 8
    num_channel: int = 384
    num_layer_in_transition: int = 3
    #: Angstrom per internal length unit.
    position_scale: float = 20.0
    dropout: float = 0.1
    ipa: InvariantPointAttentionConfig = dataclasses.field(
        default_factory=InvariantPointAttentionConfig)
    sidechain: SidechainConfig = dataclasses.field(default_factory=SidechainConfig)


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


def _norm(v: Vec3, epsilon: float) -> Array:
    return jnp.sqrt(jnp.maximum(v.squared_norm(), epsilon ** 2))


def _dropout(x: Array, rate: float, is_training: bool) -> Array:
    if not is_training or rate == 0.0:
        return x
    keep = jax.random.bernoulli(hk.next_rng_key(), 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


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


class InvariantPointAttention(hk.Module):
    """Suppl. Alg. 22 with the multimer parameterisation; frames in internal units."""

    def __init__(self, config: InvariantPointAttentionConfig,
                 name: str = "invariant_point_attention") -> None:
        super().__init__(name=name)
        self.config = config

    def __call__(self, single: Array, pair: Array, mask: Array, frames: Rigid3) -> Array:
        c = self.config
        h = c.num_head
        num_res = single.shape[0]
        point_weight = np.sqrt(1.0 / (max(c.num_point_qk, 1) * 9.0 / 2.0))
        gamma = jax.nn.softplus(hk.get_parameter(
            "trainable_point_weights", [h], jnp.float32,
            hk.initializers.Constant(np.log(np.exp(1.0) - 1.0))))
        q_point = PointProjection(h, c.num_point_qk, "q_point_projection")(single, frames)
        k_point = PointProjection(h, c.num_point_qk, "k_point_projection")(single, frames)
        dist2 = q_point[:, None].squared_distance(k_point[None, :])  # [Q, K, H, P]
        logits = -0.5 * jnp.sum((point_weight * gamma)[:, None] * dist2, axis=-1)

        q_scalar = Linear((h, c.num_scalar_qk), use_bias=False, name="q_scalar_projection")(
            single)
        k_scalar = Linear((h, c.num_scalar_qk), use_bias=False, name="k_scalar_projection")(
            single)
        q_scalar = q_scalar * np.sqrt(1.0 / max(c.num_scalar_qk, 1))
        logits = logits + jnp.einsum("qhc,khc->qkh", q_scalar, k_scalar)
        logits = logits + Linear(h, name="attention_2d")(pair)
        mask_2d = mask[:, None] * mask[None, :]
        logits = (logits - 1e5 * (1.0 - mask_2d[..., None])) * np.sqrt(1.0 / 3.0)
        attn = jax.nn.softmax(logits, axis=1)  # over the keys, [Q, K, H]

        v_scalar = Linear((h, c.num_scalar_v), use_bias=False, name="v_scalar_projection")(
            single)
        result_scalar = jnp.einsum("qkh,khc->qhc", attn, v_scalar)
        v_point = PointProjection(h, c.num_point_v, "v_point_projection")(single, frames)
        result_point = v_point[None].map(lambda a: jnp.sum(attn[..., None] * a, axis=1))
        flat = (num_res, -1)
        result_point = frames[:, None].apply_inverse(result_point.map(lambda a: a.reshape(flat)))
        result_pair = jnp.einsum("qkh,qkc->qhc", attn, pair)
        features = jnp.concatenate([
            result_scalar.reshape(flat),
            result_point.x, result_point.y, result_point.z,
            _norm(result_point, _POINT_NORM_EPSILON),
            result_pair.reshape(flat),
        ], axis=-1)
        return Linear(c.num_output, name="output_projection")(features)


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

    def __init__(self, config: MultimerStructureModuleConfig,
                 name: str = "fold_iteration") -> None:
        super().__init__(name=name)
        self.config = config

    def __call__(self, act: Array, frames: Rigid3, initial_act: Array, pair: Array,
                 mask: Array, aatype: Array, is_training: bool):
        c = self.config
        act = act + InvariantPointAttention(c.ipa)(act, pair, mask, frames)
        act = LayerNorm(name="attention_layer_norm")(_dropout(act, c.dropout, is_training))
        residual = act
        for i in range(c.num_layer_in_transition):
            act = Linear(c.num_channel, name="transition")(act)
            if i < c.num_layer_in_transition - 1:
                act = jax.nn.relu(act)
        act = _dropout(act + residual, c.dropout, is_training)
        act = LayerNorm(name="transition_layer_norm")(act)
        frames = frames @ rigid_update(act)
        sidechain = MultiRigidSidechain(c.sidechain)(
            frames.scale_translation(c.position_scale), act, initial_act, aatype)
        frames = Rigid3(jax.tree_util.tree_map(jax.lax.stop_gradient, frames.rot), frames.trans)
        return act, frames, sidechain


class MultimerStructureModule(hk.Module):
    """``structure_module``: single [L, c_s], pair [L, L, c_z] -> atoms and frames."""

    def __init__(self, config: MultimerStructureModuleConfig,
                 name: str = "structure_module") -> None:
        super().__init__(name=name)
        self.config = config

    def __call__(self, single: Array, pair: Array, aatype: Array, seq_mask: Array,
                 is_training: bool = False) -> MultimerStructureOutput:
        # Full float32 matmuls whatever the default (TF32 on GPUs moves atoms by tenths
        # of an Angstrom); the body stays in __call__ so no extra name scope is added.
        with jax.default_matmul_precision("highest"):
            c = self.config
            num_res = single.shape[0]
            single = LayerNorm(name="single_layer_norm")(single.astype(jnp.float32))
            initial_act = single
            act = Linear(c.num_channel, name="initial_projection")(single)
            pair = LayerNorm(name="pair_layer_norm")(pair.astype(jnp.float32))
            mask = seq_mask.astype(jnp.float32)
            fold_iteration = FoldIteration(c)

            def step(carry, _):
                act, frames = carry
                act, frames, sidechain = fold_iteration(act, frames, initial_act, pair, mask,
                                                        aatype, is_training)
                return (act, frames), (frames.scale_translation(c.position_scale), sidechain)

            carry = (act, Rigid3.identity((num_res,)))
            (act, _), (trajectory, sidechain) = hk.scan(step, carry, None, length=c.num_layer)
            atom14 = sidechain["atom14"][-1]
            residue_mask = mask[:, None]
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
