"""The multimer template embedding: chain-aware pair features, no template attention.

Multimer supplement 2.4 (replacing Suppl. Alg. 2 lines 9-13 and Alg. 17): each template
is embedded on its own from nine inputs, each with its own projection
(``template_pair_embedding_0`` ... ``_8``): the pseudo-beta distogram (39 bins), its mask,
the template's residue types along rows and along columns (22 each), the three
components of the unit vector from each residue's backbone frame to every other
residue's CA, the backbone-frame mask, and the layer-normed query pair representation.
Distances and directions between residues of different chains are masked out
(templates are per chain). The embedding runs through two pair blocks (triangle
multiplications first, then triangle attention and the transition), is averaged over
the template slots, passed through a ReLU and projected to the pair channels
(``output_linear``).

:func:`template_torsion_rows` makes the template rows of the MSA (Suppl. Alg. 2 lines
7-8 in the multimer form): residue type and the sin, cos and mask of the four chi angles
(34 features); the row mask is the chi1 mask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import haiku as hk
import jax
import jax.numpy as jnp

from folding.common import atoms
from folding.common import stereochemistry as sc
from folding.common.alphabet import UNKNOWN_INDEX
from folding.model import all_atom
from folding.model.embeddings import distogram_one_hot
from folding.model.geometry import Rigid3, Rot3, Vec3
from folding.model.global_config import GlobalConfig
from folding.model.layer_stack import LayerStack
from folding.model.multimer.triangle import FusedTriangleMultiplication
from folding.model.primitives import LayerNorm, Linear, dropout_residual
from folding.model.template import TemplatePairStackConfig
from folding.model.transition import Transition
from folding.model.triangle import TriangleAttention

_N, _CA, _C = (atoms.ATOM37_INDEX[a] for a in ("N", "CA", "C"))
#: Lower bound of a norm before dividing by it (as the reference's vector type).
_NORM_FLOOR = 1e-6


@dataclass(frozen=True)
class MultimerTemplateConfig:
    """Template settings of the multimer models (c_t = 64, 39 distogram bins)."""

    enabled: bool = True
    num_channels: int = 64
    dgram_min_bin: float = 3.25
    dgram_max_bin: float = 50.75
    dgram_num_bins: int = 39
    template_pair_stack: TemplatePairStackConfig = field(default_factory=TemplatePairStackConfig)


def _unit(v: Vec3) -> Vec3:
    return v / jnp.sqrt(jnp.maximum(v.squared_norm(), _NORM_FLOOR ** 2))


def backbone_frames(positions: jax.Array, mask: jax.Array) -> tuple[Rigid3, jax.Array]:
    """Backbone frames [L] from atom37 positions (CA at the origin, C on the x axis, N in
    the xy plane: Suppl. Alg. 21) and where N, CA and C are all present."""
    n, ca, c = (Vec3.from_array(positions[..., i, :]) for i in (_N, _CA, _C))
    e0 = _unit(c - ca)
    e1 = _unit((n - ca) - e0 * (n - ca).dot(e0))
    frames = Rigid3(Rot3.from_columns(e0, e1, e0.cross(e1)), ca)
    return frames, (mask[..., _N] * mask[..., _CA] * mask[..., _C]).astype(jnp.float32)


def unit_vectors(frames: Rigid3) -> Vec3:
    """[L, L]: the direction of residue j's CA in residue i's backbone frame.

    Computed as the inverse frame applied to the point, R_i^T t_j + R_i^T (-t_i), in the
    reference's order of operations. The diagonal is zero in exact arithmetic, but the
    two terms are rounded differently, so it holds rounding noise that normalising
    blows up to unit length for some residues; the same order gives the same vectors.
    """
    inverse = frames.rot.inverse()
    to_local = Rigid3(inverse, inverse.apply(-frames.trans))
    return _unit(to_local[:, None].apply(frames.trans[None, :]))


def template_pair_inputs(query: jax.Array, aatype: jax.Array, positions: jax.Array,
                         atom_mask: jax.Array, multichain_mask: jax.Array,
                         config: MultimerTemplateConfig) -> list[tuple[jax.Array, int]]:
    """The nine inputs of one template and how many trailing axes each projection reads."""
    dtype = query.dtype
    beta = all_atom.pseudo_beta(aatype, positions, atom_mask)
    beta_mask_2d = beta.mask[:, None] * beta.mask[None, :] * multichain_mask
    dgram = distogram_one_hot(beta.positions, config.dgram_num_bins, config.dgram_min_bin,
                              config.dgram_max_bin) * beta_mask_2d[..., None]
    restype = jax.nn.one_hot(aatype, 22, dtype=dtype)
    frames, backbone = backbone_frames(positions.astype(jnp.float32), atom_mask)
    backbone_2d = backbone[:, None] * backbone[None, :] * multichain_mask
    direction = unit_vectors(frames)
    return [
        (dgram.astype(dtype), 1),
        (beta_mask_2d.astype(dtype), 0),
        (restype[None, :, :], 1),
        (restype[:, None, :], 1),
        ((direction.x * backbone_2d).astype(dtype), 0),
        ((direction.y * backbone_2d).astype(dtype), 0),
        ((direction.z * backbone_2d).astype(dtype), 0),
        (backbone_2d.astype(dtype), 0),
        (LayerNorm(name="query_embedding_norm")(query), 1),
    ]


class TemplateEmbeddingIteration(hk.Module):
    """One template pair block: triangle multiplication out and in, triangle attention
    around the starting and the ending node, pair transition (Multimer supplement 2.4)."""

    def __init__(self, config: TemplatePairStackConfig, global_config: GlobalConfig,
                 name: str = "template_embedding_iteration") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, act: jax.Array, pair_mask: jax.Array,
                 key: jax.Array | None = None) -> jax.Array:
        c, gc = self.config, self.global_config
        keys = iter(jax.random.split(key, 5) if key is not None else [None] * 5)
        for name in ("triangle_multiplication_outgoing", "triangle_multiplication_incoming"):
            cfg = getattr(c, name)
            update = FusedTriangleMultiplication(cfg, gc, name=name)(act, pair_mask)
            act = dropout_residual(act, update, cfg.dropout_rate, next(keys), 0)
        for name, ending in (("triangle_attention_starting_node", False),
                             ("triangle_attention_ending_node", True)):
            cfg = getattr(c, name)
            update = TriangleAttention(cfg, gc, ending, name=name)(act, pair_mask)
            act = dropout_residual(act, update, cfg.dropout_rate, next(keys),
                                   1 if ending else 0)
        update = Transition(c.pair_transition, gc, name="pair_transition")(act)
        return dropout_residual(act, update, c.pair_transition.dropout_rate, next(keys), 0)


class SingleTemplateEmbedding(hk.Module):
    """One template's embedding [L, L, c_t] (Multimer supplement 2.4)."""

    def __init__(self, config: MultimerTemplateConfig, global_config: GlobalConfig,
                 name: str = "single_template_embedding") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, query: jax.Array, aatype: jax.Array, positions: jax.Array,
                 atom_mask: jax.Array, pair_mask: jax.Array, multichain_mask: jax.Array,
                 key: jax.Array | None = None) -> jax.Array:
        c = self.config
        inputs = template_pair_inputs(query, aatype, positions, atom_mask, multichain_mask, c)
        act = 0.0
        for i, (value, num_input_dims) in enumerate(inputs):
            act = act + Linear(c.num_channels, num_input_dims=num_input_dims,
                               name=f"template_pair_embedding_{i}")(value)
        stack = c.template_pair_stack
        iteration = TemplateEmbeddingIteration(stack, self.global_config)
        keys = jax.random.split(key, stack.num_block) if key is not None else None

        def block(act, layer_key):
            return iteration(act, pair_mask, layer_key if keys is not None else None)

        act = LayerStack(stack.num_block)(block, act, keys)
        return LayerNorm(name="output_layer_norm")(act)


class TemplateEmbedding(hk.Module):
    """The templates' update to the pair representation [L, L, c_z]."""

    def __init__(self, config: MultimerTemplateConfig, global_config: GlobalConfig,
                 name: str = "template_embedding") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, query: jax.Array, template_aatype: jax.Array,
                 template_positions: jax.Array, template_mask: jax.Array,
                 pair_mask: jax.Array, asym_id: jax.Array,
                 key: jax.Array | None = None) -> jax.Array:
        """query [L, L, c_z]; templates [T, L], [T, L, 37, 3], [T, L, 37] (all T slots
        count in the average, empty ones included, as in the reference)."""
        c = self.config
        num_templates = template_aatype.shape[0]
        multichain_mask = (asym_id[:, None] == asym_id[None, :]).astype(jnp.float32)
        embedder = SingleTemplateEmbedding(c, self.global_config)
        keys = (jax.random.split(key, num_templates) if key is not None
                else jnp.zeros((num_templates,), jnp.int32))

        def add_one(total, template):
            aatype, positions, mask, template_key = template
            embedded = embedder(query, aatype, positions, mask, pair_mask, multichain_mask,
                                template_key if key is not None else None)
            return total + embedded, None

        total = jnp.zeros((*query.shape[:2], c.num_channels), query.dtype)
        total, _ = hk.scan(add_one, total,
                           (template_aatype, template_positions, template_mask, keys))
        act = jax.nn.relu(total / num_templates)
        return Linear(query.shape[-1], name="output_linear")(act)


def chi_angles(aatype: jax.Array, positions: jax.Array, mask: jax.Array
               ) -> tuple[jax.Array, jax.Array]:
    """The four chi angles [..., 4] (radians) and where they are defined [..., 4].

    A chi angle is defined when the residue type has it and its four atoms are present;
    unknown and gap residues have none.
    """
    aatype = jnp.clip(aatype, 0, UNKNOWN_INDEX)
    index = jnp.asarray(sc.CHI_ATOM37_INDICES)[aatype]  # [..., 4, 4]
    flat = index.reshape((*index.shape[:-2], 16))
    quads = jnp.take_along_axis(positions, flat[..., None], axis=-2)
    quads = quads.reshape((*index.shape, 3))
    a, b, c, d = (Vec3.from_array(quads[..., k, :]) for k in range(4))
    v1, v2, v3 = a - b, b - c, d - c
    c1, c2 = v1.cross(v2), v3.cross(v2)
    v2_norm = jnp.sqrt(jnp.maximum(v2.squared_norm(), _NORM_FLOOR ** 2))
    angles = jnp.arctan2(c2.cross(c1).dot(v2), v2_norm * c1.dot(c2))
    present = jnp.prod(jnp.take_along_axis(mask, flat, axis=-1).reshape(index.shape), -1)
    defined = jnp.asarray(sc.CHI_ANGLES_MASK)[aatype] * present
    return angles, defined.astype(jnp.float32)


def template_torsion_rows(template_aatype: jax.Array, template_positions: jax.Array,
                          template_mask: jax.Array, msa_channel: int
                          ) -> tuple[jax.Array, jax.Array]:
    """One MSA row per template [T, L, c_m] and its mask [T, L] (the chi1 mask).

    Creates ``template_single_embedding`` (34 -> c_m, ReLU) and ``template_projection``.
    """
    angles, defined = chi_angles(template_aatype, template_positions, template_mask)
    features = jnp.concatenate([
        jax.nn.one_hot(template_aatype, 22),
        jnp.sin(angles) * defined,
        jnp.cos(angles) * defined,
        defined,
    ], axis=-1)
    act = jax.nn.relu(Linear(msa_channel, name="template_single_embedding")(features))
    return Linear(msa_channel, name="template_projection")(act), defined[..., 0]
