"""Invariant point attention: Algorithm 22 of the AlphaFold2 supplement.

Each residue attends to every other with logits made of three terms: scalar
query-key products, the pair representation, and the squared distances between query
and key points that each residue places in its own backbone frame and that are
compared in the global frame. Values are scalars, points (read back into the query's
local frame) and the pair representation. Because the points only enter through global
distances and local coordinates, the output is invariant to any rigid motion of all
frames together.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np

from folding.model import chunking
from folding.model.geometry import Rigid3, Vec3
from folding.model.primitives import Linear, dense, layer_norm, linear_params

Array = jax.Array
_HIGHEST = jax.lax.Precision.HIGHEST


@dataclasses.dataclass(frozen=True)
class InvariantPointAttentionConfig:
    """Hyperparameters of Algorithm 22 (supplement Table 1 / structure module section)."""

    num_head: int = 12
    num_scalar_qk: int = 16
    num_scalar_v: int = 16
    num_point_qk: int = 4
    num_point_v: int = 8
    num_output: int = 384
    #: Regulariser under the square root of the output points' norms.
    distance_epsilon: float = 1e-8


@dataclasses.dataclass(frozen=True)
class PointProjections:
    """Alg. 22 lines 1-3 for every residue: scalar queries, keys and values [L, H, C]
    and query, key and value points [L, H, P] in the global frame."""

    q_scalar: Array
    k_scalar: Array
    v_scalar: Array
    q_point: Vec3
    k_point: Vec3
    v_point: Vec3


#: Makes the projections of Alg. 22 from (single [L, C], frames [L], config); the
#: monomer and multimer models lay out their parameters differently.
Projector = Callable[[Array, Rigid3, InvariantPointAttentionConfig], PointProjections]


def _points(flat: Array, num_head: int, num_points: int) -> Vec3:
    """[L, 3 * H * P] (all x, then all y, then all z) -> Vec3 [L, H, P]."""
    x, y, z = jnp.split(flat, 3, axis=-1)
    shape = (flat.shape[0], num_head, num_points)
    return Vec3(x.reshape(shape), y.reshape(shape), z.reshape(shape))


def monomer_projections(single: Array, frames: Rigid3, c: InvariantPointAttentionConfig
                        ) -> PointProjections:
    """The AlphaFold2 layout: ``q_scalar``, ``kv_scalar`` (keys then values),
    ``q_point_local`` and ``kv_point_local`` (all x, then all y, then all z), with biases;
    points are made in each residue's local frame and moved to the global frame."""
    num_res, h = single.shape[0], c.num_head
    q_scalar = Linear(h * c.num_scalar_qk, name="q_scalar")(single)
    kv_scalar = Linear(h * (c.num_scalar_qk + c.num_scalar_v), name="kv_scalar")(single)
    kv_scalar = kv_scalar.reshape(num_res, h, c.num_scalar_qk + c.num_scalar_v)
    k_scalar, v_scalar = jnp.split(kv_scalar, [c.num_scalar_qk], axis=-1)
    local_frames = frames[:, None, None]
    q_point = local_frames.apply(_points(
        Linear(3 * h * c.num_point_qk, name="q_point_local")(single), h, c.num_point_qk))
    kv_point = local_frames.apply(_points(
        Linear(3 * h * (c.num_point_qk + c.num_point_v), name="kv_point_local")(single),
        h, c.num_point_qk + c.num_point_v))
    return PointProjections(q_scalar.reshape(num_res, h, c.num_scalar_qk), k_scalar,
                            v_scalar, q_point, kv_point[..., :c.num_point_qk],
                            kv_point[..., c.num_point_qk:])


def softened_norm(v: Vec3, epsilon: float) -> Array:
    """AlphaFold2's norm of the output points, sqrt(|v|^2 + epsilon)."""
    return v.norm(epsilon)


class InvariantPointAttention(hk.Module):
    """Algorithm 22 (InvariantPointAttention).

    Call with the single representation [L, C], the pair representation [L, L, Cz], a
    residue mask [L] and the backbone frames (a :class:`Rigid3` of shape [L], in the
    structure module's length units); returns the update to the single representation,
    [L, num_output]. Runs in float32. ``projections`` and ``point_norm`` set the
    parameter layout of lines 1-3 and the norm of the output points (AlphaFold2's by
    default; AlphaFold-Multimer's in :mod:`folding.model.multimer.structure_module`);
    the attention itself, ``trainable_point_weights``, ``attention_2d`` and
    ``output_projection`` are common to both.
    """

    def __init__(self, config: InvariantPointAttentionConfig,
                 projections: Projector = monomer_projections,
                 point_norm: Callable[[Vec3, float], Array] = softened_norm,
                 name: str = "invariant_point_attention") -> None:
        super().__init__(name=name)
        self.config = config
        self.projections = projections
        self.point_norm = point_norm

    def __call__(self, single: Array, pair: Array, mask: Array, frames: Rigid3,
                 pair_norm: tuple[Array, Array] | None = None,
                 chunk_bytes: int | None = None) -> Array:
        """``pair_norm`` (layer-norm scale and offset): ``pair`` is raw and normalised
        here a block of rows at a time, so no normalised copy of it exists in full.
        ``chunk_bytes``: the attention runs a block of query residues at a time (each
        query row's logits, weights and outputs are independent of the others)."""
        c = self.config
        num_res = single.shape[0]
        h = c.num_head
        proj = self.projections(single, frames, c)

        # Weights that give each of the three logit terms unit variance at initialisation
        # (supplement 1.8.2): w_C = sqrt(2 / (9 P_qk)), w_L = sqrt(1 / 3).
        scalar_weight = np.sqrt(1.0 / (3 * c.num_scalar_qk))
        point_weight = np.sqrt(1.0 / (3 * c.num_point_qk * 9.0 / 2.0))
        pair_weight = np.sqrt(1.0 / 3)
        gamma = jax.nn.softplus(hk.get_parameter(
            "trainable_point_weights", [h], jnp.float32,
            hk.initializers.Constant(np.log(np.exp(1.0) - 1.0))))
        w_2d, b_2d = linear_params("attention_2d", (pair.shape[-1],), (h,), jnp.float32)
        k_hlp = proj.k_point.map(lambda a: jnp.swapaxes(a, 0, 1)[:, None, :, :])  # [H,1,L,P]

        def attend(q_s, q_x, q_y, q_z, pair_rows, mask_rows):
            """Query rows R: [R, H, C] scalars, [R, H, P] points, [R, L, Cz] pair."""
            if pair_norm is not None:
                pair_rows = layer_norm(pair_rows.astype(jnp.float32), *pair_norm)
            scalar_logits = jnp.einsum("qhc,khc->hqk", scalar_weight * q_s, proj.k_scalar)
            q_hlp = Vec3(q_x, q_y, q_z).map(lambda a: jnp.swapaxes(a, 0, 1)[:, :, None, :])
            dist2 = q_hlp.squared_distance(k_hlp)  # [H, R, L, P]
            point_logits = -0.5 * jnp.sum((point_weight * gamma)[:, None, None, None] * dist2,
                                          axis=-1)
            pair_logits = pair_weight * jnp.transpose(dense(pair_rows, w_2d, b_2d), (2, 0, 1))
            logits = scalar_logits + point_logits + pair_logits
            mask_2d = mask_rows[:, None] * mask[None, :]
            attn = jax.nn.softmax(logits - 1e5 * (1.0 - mask_2d), axis=-1)
            result_scalar = jnp.einsum("hqk,khc->qhc", attn, proj.v_scalar)
            # The point average stays in full float32 whatever the matmul precision.
            point = proj.v_point.map(lambda a: jnp.einsum("hqk,khp->qhp", attn, a,
                                                          precision=_HIGHEST))
            result_pair = jnp.einsum("hqk,qkc->qhc", attn, pair_rows)
            return result_scalar, point.x, point.y, point.z, result_pair

        item = num_res * (4 * h * (c.num_point_qk + 8) + 8 * pair.shape[-1])
        size = num_res if chunk_bytes is None else chunking.chunk_size(num_res, item,
                                                                        chunk_bytes)
        q = proj.q_point
        result_scalar, x, y, z, result_pair = chunking.map_chunks(
            attend, [proj.q_scalar, q.x, q.y, q.z, pair, mask], [0] * 6, 0, size)
        result_point = frames[:, None, None].apply_inverse(Vec3(x, y, z))  # back to local

        flat = (num_res, -1)
        features = [
            result_scalar.reshape(flat),
            result_point.x.reshape(flat), result_point.y.reshape(flat),
            result_point.z.reshape(flat),
            self.point_norm(result_point, c.distance_epsilon).reshape(flat),
            result_pair.reshape(flat),
        ]
        return Linear(c.num_output, name="output_projection")(jnp.concatenate(features, -1))
