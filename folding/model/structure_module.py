"""The structure module: Algorithm 20 of the AlphaFold2 supplement.

Starting from identity frames ("black hole" initialisation), eight weight-shared
iterations each run invariant point attention (Algorithm 22) and a transition on the
single representation, update every backbone frame (Algorithm 23), and predict seven
torsion angles with a small ResNet from which all heavy atoms are placed (Algorithm 24).
Frames are kept in nanometres inside the loop and scaled to Angstrom for the atoms.
Everything here runs in float32, with full-precision matmuls, whatever the trunk's
dtype and matmul precision.
"""

from __future__ import annotations

import dataclasses

import haiku as hk
import jax
import jax.numpy as jnp

from folding.model import all_atom
from folding.model.geometry import Rigid3, Rot3, Vec3, quaternion_multiply
from folding.model.ipa import InvariantPointAttention, InvariantPointAttentionConfig
from folding.model.primitives import LayerNorm, Linear

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class SidechainConfig:
    """The torsion-angle ResNet of Algorithm 20 lines 11-14."""

    num_channel: int = 128
    num_residual_block: int = 2


@dataclasses.dataclass(frozen=True)
class StructureModuleConfig:
    """Hyperparameters of Algorithm 20 (supplement 1.8)."""

    num_layer: int = 8
    num_channel: int = 384
    num_layer_in_transition: int = 3
    #: Angstrom per internal length unit (the frames are updated in nanometres).
    position_scale: float = 10.0
    #: Dropout rate after attention and transition (training only).
    dropout: float = 0.1
    ipa: InvariantPointAttentionConfig = dataclasses.field(
        default_factory=InvariantPointAttentionConfig)
    sidechain: SidechainConfig = dataclasses.field(default_factory=SidechainConfig)


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class StructureOutput:
    """What the structure module predicts for a chain of L residues.

    Attributes:
        final_atom_positions: [L, 37, 3] atom37 coordinates (Angstrom), zero for atoms
            the residue type does not have.
        final_atom_mask: [L, 37] which atom37 atoms the residue type has.
        final_atom14_positions: [L, 14, 3] the same atoms in the atom14 layout.
        final_atom14_mask: [L, 14] which atom14 slots the residue type uses.
        single: [L, num_channel] the single activations after the last iteration (the
            input of the pLDDT head, Algorithm 29).
        trajectory: [num_layer, L, 7] backbone frame after each iteration, as a unit
            quaternion (w, x, y, z) then the translation in Angstrom.
        final_frames: backbone frames [L] of the last iteration (Angstrom).
        sidechain_frames: [L, 8] global frames of the rigid groups (last iteration).
        angles_sin_cos: [num_layer, L, 7, 2] normalised torsion angles per iteration.
        unnormalized_angles_sin_cos: [num_layer, L, 7, 2] the same before normalisation.
    """

    final_atom_positions: Array
    final_atom_mask: Array
    final_atom14_positions: Array
    final_atom14_mask: Array
    single: Array
    trajectory: Array
    final_frames: Rigid3
    sidechain_frames: Rigid3
    angles_sin_cos: Array
    unnormalized_angles_sin_cos: Array


def _dropout(x: Array, rate: float, is_training: bool) -> Array:
    if not is_training or rate == 0.0:
        return x
    keep = jax.random.bernoulli(hk.next_rng_key(), 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


def single_update(act: Array, attention: Array, config: StructureModuleConfig,
                  is_training: bool) -> Array:
    """Algorithm 20 lines 7-9: the attention's update added to the single
    representation, then the three-layer transition, each followed by dropout and a
    layer norm (``attention_layer_norm``, ``transition``, ``transition_layer_norm`` in
    the calling fold iteration's scope)."""
    act = _dropout(act + attention, config.dropout, is_training)
    act = LayerNorm(name="attention_layer_norm")(act)
    residual = act
    for i in range(config.num_layer_in_transition):
        act = Linear(config.num_channel, name="transition")(act)
        if i < config.num_layer_in_transition - 1:
            act = jax.nn.relu(act)
    act = _dropout(act + residual, config.dropout, is_training)
    return LayerNorm(name="transition_layer_norm")(act)


@dataclasses.dataclass(frozen=True)
class IterationInputs:
    """What every fold iteration reads (Algorithm 20 lines 1-4): the normalised single
    representation ``initial`` [L, C_s], the pair representation [L, L, C_z] (normalised,
    or raw with ``pair_norm``, the layer norm's scale and offset, applied a block of
    rows at a time inside the attention) and the residue mask [L]."""

    initial: Array
    pair: Array
    pair_norm: tuple[Array, Array] | None
    mask: Array


def iteration_inputs(single: Array, pair: Array, seq_mask: Array,
                     chunk_bytes: int | None) -> IterationInputs:
    """Algorithm 20 lines 1-3 in float32 (``single_layer_norm``, ``pair_layer_norm``);
    with ``chunk_bytes`` the pair is not normalised in full (18 GB in float32 at
    L = 6,000), only its layer norm's parameters are made."""
    initial = LayerNorm(name="single_layer_norm")(single.astype(jnp.float32))
    pair_ln = LayerNorm(name="pair_layer_norm")
    if chunk_bytes is None:
        return IterationInputs(initial, pair_ln(pair.astype(jnp.float32)), None,
                               seq_mask.astype(jnp.float32))
    return IterationInputs(initial, pair, pair_ln.params(pair.shape[-1]),
                           seq_mask.astype(jnp.float32))


class MultiRigidSidechain(hk.Module):
    """Torsion angles from the single representation, then all atoms.

    Algorithm 20 lines 11-14 (a two-block ResNet predicting 7 (sin, cos) pairs) and
    Algorithm 24 (computeAllAtomCoordinates).
    """

    def __init__(self, config: SidechainConfig, name: str = "rigid_sidechain") -> None:
        super().__init__(name=name)
        self.config = config

    def __call__(self, frames: Rigid3, act: Array, initial_act: Array,
                 aatype: Array) -> dict[str, object]:
        c = self.config
        x = (Linear(c.num_channel, name="input_projection")(jax.nn.relu(act))
             + Linear(c.num_channel, name="input_projection")(jax.nn.relu(initial_act)))
        for _ in range(c.num_residual_block):
            update = Linear(c.num_channel, name="resblock1")(jax.nn.relu(x))
            x = x + Linear(c.num_channel, name="resblock2")(jax.nn.relu(update))
        unnormalized = Linear(14, name="unnormalized_angles")(jax.nn.relu(x))
        unnormalized = unnormalized.reshape(x.shape[0], 7, 2)
        norm = jnp.sqrt(jnp.maximum(jnp.sum(jnp.square(unnormalized), -1, keepdims=True),
                                    1e-12))
        angles = unnormalized / norm
        group_frames = all_atom.torsion_angles_to_frames(aatype, frames, angles)
        positions = all_atom.frames_to_atom14_positions(aatype, group_frames)
        return {"angles": angles, "unnormalized_angles": unnormalized,
                "frames": group_frames, "atom14": positions.to_array()}


class FoldIteration(hk.Module):
    """One iteration of Algorithm 20 (lines 6-10 and 11-14), weights shared by all."""

    def __init__(self, config: StructureModuleConfig, name: str = "fold_iteration") -> None:
        super().__init__(name=name)
        self.config = config

    def __call__(self, act: Array, quaternion: Array, translation: Vec3,
                 inputs: IterationInputs, aatype: Array, is_training: bool,
                 chunk_bytes: int | None = None):
        c = self.config
        frames = Rigid3(Rot3.from_quaternion(quaternion, normalize=False), translation)
        attention = InvariantPointAttention(c.ipa)(act, inputs.pair, inputs.mask, frames,
                                                   inputs.pair_norm, chunk_bytes)
        act = single_update(act, attention, c, is_training)

        # Algorithm 23 (backbone update): a quaternion (1, b, c, d) composed on the right,
        # renormalised, and a translation expressed in the current frame.
        update = Linear(6, name="affine_update")(act)
        pure = jnp.concatenate([jnp.zeros_like(update[:, :1]), update[:, :3]], axis=-1)
        quaternion = quaternion + quaternion_multiply(quaternion, pure)
        quaternion = quaternion / jnp.linalg.norm(quaternion, axis=-1, keepdims=True)
        translation = translation + frames.rot.apply(Vec3.from_array(update[:, 3:]))
        frames = Rigid3(Rot3.from_quaternion(quaternion, normalize=False), translation)

        sidechain = MultiRigidSidechain(c.sidechain)(
            frames.scale_translation(c.position_scale), act, inputs.initial, aatype)
        return act, jax.lax.stop_gradient(quaternion), translation, sidechain


class StructureModule(hk.Module):
    """Algorithm 20 (StructureModule), inference part.

    ``StructureModule(config)(single [L, C_s], pair [L, L, C_z], aatype [L],
    seq_mask [L], is_training=False) -> StructureOutput``. Parameters live at
    ``.../structure_module/{single_layer_norm, initial_projection, pair_layer_norm,
    fold_iteration/...}``, the official layout.
    """

    def __init__(self, config: StructureModuleConfig, name: str = "structure_module") -> None:
        super().__init__(name=name)
        self.config = config

    def __call__(self, single: Array, pair: Array, aatype: Array, seq_mask: Array,
                 is_training: bool = False, chunk_bytes: int | None = None
                 ) -> StructureOutput:
        """With ``chunk_bytes`` the pair's layer norm and the attention of each iteration
        run a block of query residues at a time (the same numbers, without the
        normalised pair in full: 18 GB in float32 at L = 6,000)."""
        # Full float32 matmuls even where the default allows TF32 (GPUs): with TF32 the
        # eight iterations drift by 0.1-0.5 Angstrom (measured on an H100). A method
        # other than __call__ would add a Haiku name scope, so the body stays here.
        with jax.default_matmul_precision("highest"):
            c = self.config
            num_res = single.shape[0]
            inputs = iteration_inputs(single, pair, seq_mask, chunk_bytes)
            act = Linear(c.num_channel, name="initial_projection")(inputs.initial)
            fold_iteration = FoldIteration(c)

            def step(carry, _):
                act, quaternion, translation = carry
                act, quaternion, translation, sidechain = fold_iteration(
                    act, quaternion, translation, inputs, aatype, is_training, chunk_bytes)
                frame = jnp.concatenate([quaternion, translation.to_array() * c.position_scale], -1)
                return (act, quaternion, translation), (frame, sidechain)

            identity = jnp.tile(jnp.array([[1.0, 0.0, 0.0, 0.0]], jnp.float32), (num_res, 1))
            carry = (act, identity, Vec3.zeros((num_res,)))
            (act, _, _), (trajectory, sidechain) = hk.scan(step, carry, None, length=c.num_layer)

            atom14 = sidechain["atom14"][-1]
            atom37 = all_atom.atom14_to_atom37(atom14, aatype)
            last = trajectory[-1]
            return StructureOutput(
                final_atom_positions=atom37,
                final_atom_mask=all_atom.atom37_exists(aatype),
                final_atom14_positions=atom14,
                final_atom14_mask=all_atom.atom14_exists(aatype),
                single=act,
                trajectory=trajectory,
                final_frames=Rigid3(Rot3.from_quaternion(last[:, :4], normalize=False),
                                    Vec3.from_array(last[:, 4:])),
                sidechain_frames=sidechain["frames"][-1],
                angles_sin_cos=sidechain["angles"],
                unnormalized_angles_sin_cos=sidechain["unnormalized_angles"],
            )
