"""Template embedding: template pair features, pair stack, point-wise attention, torsion rows.

Suppl. Alg. 2 lines 7-13: each template's pair features (pseudo-beta distogram,
residue types, backbone masks) are embedded and refined by the template pair stack
(Alg. 16), then the query pair representation attends over the templates at every
residue pair (Alg. 17, TemplatePointwiseAttention). Models 1 and 2 also append one
MSA row per template built from its residue types and torsion angles (Alg. 2 lines
7-8), which :func:`template_torsion_rows` makes.

All features are functions of distances and torsion angles, so a rigid motion of the
template coordinates changes nothing. The monomer models do not use the template
backbone unit vectors (the official ``use_template_unit_vector`` is off): their three
channels are zeros.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import haiku as hk
import jax
import jax.numpy as jnp

from folding.common import atoms
from folding.model.attention import AttentionConfig, GatedAttention, gated_output
from folding.model.attention_core import mask_bias
from folding.model.embeddings import distogram_one_hot
from folding.model.global_config import GlobalConfig
from folding.model.layer_stack import LayerStack
from folding.model.primitives import LayerNorm, Linear, dropout_residual
from folding.model.torsion import atom37_to_torsion_angles
from folding.model.transition import Transition, TransitionConfig
from folding.model.triangle import (
    TriangleAttention,
    TriangleMultiplication,
    TriangleMultiplicationConfig,
)

_N, _CA, _C = (atoms.ATOM37_INDEX[a] for a in ("N", "CA", "C"))


@dataclass(frozen=True)
class TemplatePairStackConfig:
    """Suppl. Alg. 16 with Table 1's template widths (c_t = 64, 4 heads of 16)."""

    num_block: int = 2
    triangle_attention_starting_node: AttentionConfig = field(default_factory=lambda: (
        AttentionConfig(num_head=4, key_dim=64, value_dim=64, dropout_rate=0.25)))
    triangle_attention_ending_node: AttentionConfig = field(default_factory=lambda: (
        AttentionConfig(num_head=4, key_dim=64, value_dim=64, dropout_rate=0.25)))
    triangle_multiplication_outgoing: TriangleMultiplicationConfig = field(default_factory=lambda: (
        TriangleMultiplicationConfig(outgoing=True, num_intermediate_channel=64)))
    triangle_multiplication_incoming: TriangleMultiplicationConfig = field(default_factory=lambda: (
        TriangleMultiplicationConfig(outgoing=False, num_intermediate_channel=64)))
    pair_transition: TransitionConfig = field(
        default_factory=lambda: TransitionConfig(num_intermediate_factor=2))


@dataclass(frozen=True)
class TemplateConfig:
    """Template settings (Suppl. 1.7.1, Table 5: only models 1 and 2 use templates)."""

    enabled: bool = False
    embed_torsion_angles: bool = False
    num_channels: int = 64  # c_t
    dgram_min_bin: float = 3.25
    dgram_max_bin: float = 50.75
    dgram_num_bins: int = 39
    attention: AttentionConfig = field(default_factory=lambda: AttentionConfig(
        num_head=4, gating=False, key_dim=64, value_dim=64))
    template_pair_stack: TemplatePairStackConfig = field(default_factory=TemplatePairStackConfig)


class TemplatePairStack(hk.Module):
    """Suppl. Alg. 16: triangle attention (start, end), multiplication (out, in), transition."""

    def __init__(self, config: TemplatePairStackConfig, global_config: GlobalConfig,
                 name: str = "template_pair_stack") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, pair: jax.Array, pair_mask: jax.Array, key: jax.Array | None
                 ) -> jax.Array:
        c, gc = self.config, self.global_config
        keys = jax.random.split(key, c.num_block) if key is not None else None

        def block(act, layer_key):
            subkeys = iter(jax.random.split(layer_key, 5) if keys is not None else [None] * 5)
            for name, ending in (("triangle_attention_starting_node", False),
                                 ("triangle_attention_ending_node", True)):
                cfg = getattr(c, name)
                update = TriangleAttention(cfg, gc, ending, name=name)(act, pair_mask)
                act = dropout_residual(act, update, cfg.dropout_rate, next(subkeys),
                                       1 if ending else 0)
            for name in ("triangle_multiplication_outgoing", "triangle_multiplication_incoming"):
                cfg = getattr(c, name)
                update = TriangleMultiplication(cfg, gc, name=name)(act, pair_mask)
                act = dropout_residual(act, update, cfg.dropout_rate, next(subkeys), 0)
            update = Transition(c.pair_transition, gc, name="pair_transition")(act)
            return dropout_residual(act, update, c.pair_transition.dropout_rate, next(subkeys), 0)

        return LayerStack(c.num_block)(block, pair, keys)


def template_pair_features(aatype: jax.Array, pseudo_beta: jax.Array,
                           pseudo_beta_mask: jax.Array, atom_mask: jax.Array,
                           config: TemplateConfig) -> jax.Array:
    """The 88 pair features of one template (Suppl. Alg. 2 line 9, Table 1)."""
    num_res = aatype.shape[0]
    beta_mask_2d = pseudo_beta_mask[:, None] * pseudo_beta_mask[None, :]
    dgram = distogram_one_hot(pseudo_beta, config.dgram_num_bins, config.dgram_min_bin,
                              config.dgram_max_bin)
    restype = jax.nn.one_hot(aatype, 22)
    backbone = atom_mask[:, _N] * atom_mask[:, _CA] * atom_mask[:, _C]
    backbone_2d = backbone[:, None] * backbone[None, :]
    features = jnp.concatenate([
        dgram,
        beta_mask_2d[..., None],
        jnp.broadcast_to(restype[None, :, :], (num_res, num_res, 22)),
        jnp.broadcast_to(restype[:, None, :], (num_res, num_res, 22)),
        jnp.zeros((num_res, num_res, 3), jnp.float32),  # backbone unit vectors, unused
        backbone_2d[..., None],
    ], axis=-1)
    return features * backbone_2d[..., None]


class SingleTemplateEmbedding(hk.Module):
    """Suppl. Alg. 2 lines 9 and 11: one template's pair features through the pair stack."""

    def __init__(self, config: TemplateConfig, global_config: GlobalConfig,
                 name: str = "single_template_embedding") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, template: dict[str, jax.Array], pair_mask: jax.Array,
                 key: jax.Array | None) -> jax.Array:
        features = template_pair_features(
            template["template_aatype"], template["template_pseudo_beta"],
            template["template_pseudo_beta_mask"], template["template_all_atom_masks"],
            self.config)
        act = Linear(self.config.num_channels, name="embedding2d")(features.astype(pair_mask.dtype))
        act = TemplatePairStack(self.config.template_pair_stack, self.global_config)(
            act, pair_mask, key)
        return LayerNorm(name="output_layer_norm")(act)


class TemplateEmbedding(hk.Module):
    """Suppl. Alg. 2 lines 9-13 with Alg. 17: the templates' update to the pair."""

    def __init__(self, config: TemplateConfig, global_config: GlobalConfig,
                 name: str = "template_embedding") -> None:
        super().__init__(name=name)
        self.config = config
        self.global_config = global_config

    def __call__(self, pair: jax.Array, templates: dict[str, jax.Array], pair_mask: jax.Array,
                 key: jax.Array | None = None) -> jax.Array:
        """pair [L, L, c_z]; templates: the ``template_*`` features with a leading [T].

        The point-wise attention (Alg. 17) is a softmax over the templates at each
        residue pair. It is accumulated one template at a time (a running maximum,
        sum and weighted sum, in float32, as in FlashAttention), so only one embedded
        template [L, L, c_t] exists at a time rather than all T of them.
        """
        c = self.config
        channels = pair.shape[-1]
        template_mask = templates["template_mask"].astype(jnp.float32)
        num_templates = template_mask.shape[0]
        embedder = SingleTemplateEmbedding(self.config, self.global_config)
        weights = GatedAttention(c.attention.num_head, channels, c.attention.gating,
                                 c.attention.key_dim, c.attention.value_dim).weights(
            channels, c.num_channels, pair.dtype)
        key_dim = weights.query_w.shape[-1]
        query = jnp.einsum("ija,ahc->ijhc", pair, weights.query_w) * key_dim ** (-0.5)
        keys = (jax.random.split(key, num_templates) if key is not None
                else jnp.zeros((num_templates,), jnp.int32))
        per_template = {k: v for k, v in templates.items() if k != "template_mask"}
        biases = mask_bias(template_mask, jnp.float32)

        def accumulate(state, args):
            running_max, total, weighted = state
            template, template_key, bias = args
            embedded = embedder(template, pair_mask,
                                template_key if key is not None else None)  # [L, L, c_t]
            k = jnp.einsum("ija,ahc->ijhc", embedded, weights.key_w)
            v = jnp.einsum("ija,ahc->ijhc", embedded, weights.value_w)
            logits = jnp.einsum("ijhc,ijhc->ijh", query, k,
                                preferred_element_type=jnp.float32) + bias
            new_max = jnp.maximum(running_max, logits)
            rescale = jnp.exp(running_max - new_max)
            p = jnp.exp(logits - new_max)
            total = total * rescale + p
            weighted = weighted * rescale[..., None] + p[..., None] * v.astype(jnp.float32)
            return (new_max, total, weighted), None

        heads = query.shape[:3]
        state = (jnp.full(heads, -jnp.inf, jnp.float32), jnp.zeros(heads, jnp.float32),
                 jnp.zeros((*heads, weights.value_w.shape[-1]), jnp.float32))
        (_, total, weighted), _ = hk.scan(accumulate, state, (per_template, keys, biases))
        attended = (weighted / total[..., None]).astype(pair.dtype)
        out = gated_output(weights, pair, attended)
        return out * (jnp.sum(template_mask) > 0).astype(out.dtype)


def template_torsion_rows(templates: dict[str, jax.Array], msa_channel: int
                          ) -> tuple[jax.Array, jax.Array]:
    """Suppl. Alg. 2 lines 7-8: one MSA row per template and its mask.

    Features: residue type (22), torsion (sin, cos) and alternative (sin, cos) (14 each)
    and torsion masks (7) -> ``template_single_embedding`` with ReLU ->
    ``template_projection``. The row mask is the psi-angle mask (backbone of one
    residue). Returns ([T, L, c_m], [T, L]).
    """
    aatype = templates["template_aatype"]
    num_templates, num_res = aatype.shape
    torsions = atom37_to_torsion_angles(aatype, templates["template_all_atom_positions"],
                                        templates["template_all_atom_masks"])
    features = jnp.concatenate([
        jax.nn.one_hot(aatype, 22),
        torsions.sin_cos.reshape(num_templates, num_res, 14),
        torsions.alt_sin_cos.reshape(num_templates, num_res, 14),
        torsions.mask,
    ], axis=-1)
    act = jax.nn.relu(Linear(msa_channel, name="template_single_embedding")(features))
    act = Linear(msa_channel, name="template_projection")(act)
    return act, torsions.mask[:, :, 2]
