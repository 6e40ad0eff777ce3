"""Shape buckets: pad a target's features up to a few fixed sizes so XLA compiles once per
bucket, not once per target.

XLA compiles the model for every distinct input shape: residues L, MSA cluster rows N,
extra-MSA rows E and templates T. A run over many targets would compile (minutes on a
GPU) for each. :func:`bucket_shape` rounds each size up to a bucket; :func:`pad_features`
appends masked residues, masked MSA rows and masked templates (zeros with zero masks) and
:func:`crop_output` cuts the outputs back to the real residues and rows.

Padding is invisible to the real residues: every place where residues meet masks the
padded ones out (attention biases from ``seq_mask`` / ``msa_mask`` / the pair mask, the
triangle multiplications' projections, the outer product mean's normalisation, IPA's
2D mask, ``template_mask`` and the template masks), and the confidences reduce over the
real residues only (mean pLDDT and pTM are weighted by ``seq_mask``, with TM-score's
d0 from the number of real residues). Relative positions of padded residues only reach
pairs that include a padded residue. Outputs therefore equal the unpadded run's up to
floating-point summation order (tests check 1e-3 A and 1e-4 on pTM).

Buckets: residues to a multiple of 32 up to 256, of 64 up to 1,024, of 128 up to
2,048, then of 256 (fewer than 32 padded residues up to 256, at most 25% up to 1,024,
12.5% beyond); MSA rows (after the fully masked padding rows are trimmed) to the next
power of two, at most to the rows the features were padded to (so deep MSAs run at the
model's 512 clusters and 5,120 or 1,024 extra rows, as AlphaFold); templates to the
model's ``max_templates``. Compilation costs minutes on a GPU, a padded pass seconds:
coarse buckets are the better trade.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

from folding.model.alphafold import IterationOutput
from folding.model.features import (
    FEATURE_SPEC,
    TEMPLATE_SPEC,
    ProcessedFeatures,
    RecycledState,
)

#: (largest length, step): residue counts up to the length round up to the step.
RESIDUE_STEPS: tuple[tuple[int, int], ...] = ((256, 32), (1024, 64), (2048, 128))
LONG_RESIDUE_STEP = 256


def bucket_residues(num_res: int) -> int:
    """The residue bucket of ``num_res`` (the next multiple of its length class' step)."""
    step = next((s for limit, s in RESIDUE_STEPS if num_res <= limit), LONG_RESIDUE_STEP)
    return max(step, math.ceil(num_res / step) * step)


def bucket_rows(num_rows: int, cap: int | None = None) -> int:
    """The MSA row bucket: the next power of two, but not beyond ``cap`` (the rows the
    features were padded to before trimming) unless ``num_rows`` is beyond it."""
    bucket = 1 << max(0, math.ceil(math.log2(max(1, num_rows))))
    if cap is not None:
        bucket = min(bucket, max(cap, num_rows))
    return bucket


@dataclass(frozen=True)
class BucketShape:
    """Sizes of the padded features: residues, cluster rows, extra rows, templates."""

    num_res: int
    num_msa: int
    num_extra_msa: int
    num_templates: int = 0


def feature_shape(features: ProcessedFeatures) -> BucketShape:
    """The sizes of ``features`` as they are."""
    a = features.arrays
    templates = a["template_aatype"].shape[1] if features.use_templates else 0
    return BucketShape(features.num_res, a["msa_feat"].shape[1], a["extra_msa"].shape[1],
                       templates)


def bucket_shape(features: ProcessedFeatures, max_templates: int = 4,
                 caps: BucketShape | None = None) -> BucketShape:
    """The bucket of ``features``: each size rounded up (templates to ``max_templates``).

    ``caps`` (the shape before the MSA padding was trimmed) bounds the row buckets.
    """
    shape = feature_shape(features)
    return BucketShape(bucket_residues(shape.num_res),
                       bucket_rows(shape.num_msa, caps and caps.num_msa),
                       bucket_rows(shape.num_extra_msa, caps and caps.num_extra_msa),
                       max(shape.num_templates, max_templates) if features.use_templates
                       else 0)


def pad_features(features: ProcessedFeatures, shape: BucketShape) -> ProcessedFeatures:
    """``features`` padded with zeros (masked residues, rows, templates) to ``shape``."""
    sizes = {"L": shape.num_res, "N": shape.num_msa, "E": shape.num_extra_msa,
             "T": shape.num_templates}
    spec = dict(FEATURE_SPEC)
    if features.use_templates:
        spec.update(TEMPLATE_SPEC)
    arrays = dict(features.arrays)
    for name, (_, axes) in spec.items():
        value = arrays[name]
        widths = [(0, 0)] * value.ndim
        for axis, symbol in enumerate(axes):
            if isinstance(symbol, str) and symbol in sizes:
                extra = sizes[symbol] - value.shape[axis]
                if extra < 0:
                    raise ValueError(f"feature {name!r} has {value.shape[axis]} on axis "
                                     f"{symbol}, more than the bucket's {sizes[symbol]}")
                widths[axis] = (0, extra)
        if any(w != (0, 0) for w in widths):
            arrays[name] = np.pad(value, widths)
    return ProcessedFeatures(arrays, features.use_templates)


#: Output fields by the axes that hold residues ("L") or MSA rows ("N").
_OUTPUT_AXES: dict[str, tuple[str, ...]] = {
    "final_atom_positions": ("L",), "final_atom_mask": ("L",), "plddt": ("L",),
    "distogram_logits": ("L", "L"), "masked_msa_logits": ("N", "L"),
    "experimentally_resolved_logits": ("L",), "plddt_logits": ("L",), "single": ("L",),
    "predicted_aligned_error": ("L", "L"), "aligned_error_logits": ("L", "L"),
}


def crop_output(output: IterationOutput, num_res: int, num_msa: int) -> IterationOutput:
    """The outputs of a padded run cut back to the first ``num_res`` residues and
    ``num_msa`` MSA rows (scalars, computed over the real residues, stay as they are)."""
    sizes = {"L": num_res, "N": num_msa}
    changes = {}
    for field in fields(output):
        axes = _OUTPUT_AXES.get(field.name)
        value = getattr(output, field.name)
        if axes is None or value is None:
            continue
        changes[field.name] = value[tuple(slice(0, sizes[a]) for a in axes)]
    r = output.recycled
    changes["recycled"] = RecycledState(r.prev_pos[:num_res], r.prev_msa_first_row[:num_res],
                                        r.prev_pair[:num_res, :num_res])
    return replace(output, **changes)
