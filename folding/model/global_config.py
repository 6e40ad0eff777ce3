"""Numerical settings shared by every module of the model.

One frozen :class:`GlobalConfig` travels through the model: the compute dtype of the
trunk, the matmul precision, the attention implementation, the memory budget that
decides how the big attention and transition intermediates are cut into chunks
(:mod:`folding.model.chunking`), and whether dropout runs at inference (for sampling
diverse predictions).

Two numerical modes:

* ``dtype="float32"`` is real float32: every matmul at precision "highest" (on an
  NVIDIA GPU the "default" precision of a float32 matmul is TF32, a 10-bit mantissa,
  which moves outputs far beyond the parity tolerances against the reference). This
  is the mode the parity tests check; on CPU it costs nothing.
* ``dtype="bfloat16"`` is the fast mode: the trunk's activations and weights in
  bfloat16 with float32 accumulation, matmuls at the "default" precision, attention
  through cuDNN's fused kernel on a GPU. Layer norms, softmaxes, the structure
  module's geometry and the confidence heads stay in float32. Its accuracy against
  float32 is measured by ``tests/model/test_bf16.py`` (numbers in
  ``benchmarks/README.md``).

A run asks for "auto" unless told otherwise (:func:`resolve_dtype`): bfloat16 where the
hardware computes in it natively, as AlphaFold (``global_config.bfloat16``) and ColabFold
run on accelerators, and float32 elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp

_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}
_PRECISIONS = ("auto", "default", "high", "highest", "bfloat16", "tensorfloat32", "float32")
# Kept in step with folding.model.attention_core.ATTENTION_IMPLEMENTATIONS (tested).
_ATTENTION = ("auto", "xla", "cudnn", "pallas")


@dataclass(frozen=True)
class GlobalConfig:
    """Settings that are not hyperparameters of the network.

    Attributes:
        dtype: compute dtype of the Evoformer trunk ("float32", "bfloat16" or
            "float16"). Parameters are stored in float32 and cast when read; layer
            norms, softmaxes and the structure module stay in float32.
        matmul_precision: JAX matmul precision used while tracing the model
            ("default", "high", "highest", or "auto": "highest" in float32 mode and
            "default" in the half-precision modes; see
            :attr:`resolved_matmul_precision`). On CPU float32 matmuls are exact
            float32 whatever this says; on a GPU "default" means TF32.
        attention: implementation of the attention core
            (:func:`folding.model.attention_core.attend`): "auto" (on a CUDA GPU in
            bfloat16/float16 the fastest fused kernel that runs the head size, see
            :data:`folding.model.attention_core.AUTO_PREFERENCE`; else the plain XLA path),
            "xla" (always the plain path), "cudnn" (cuDNN's fused flash attention) or
            "pallas" (our Pallas flash-attention kernel with the pair bias and key
            mask read separately, :mod:`folding.model.pallas_attention`); the last two
            are an error where they cannot run.
        chunk_bytes: the largest intermediate (attention logits, transition hidden
            layer, outer-product block) a chunked operation may materialise at once.
            Outputs do not depend on it. On CPU, intermediates that stay near the
            cache are fastest: 16 MiB beat both 4 MiB and 64 MiB (64 MiB made the MSA
            transition and row attention 1.6-2.4x slower at L=64-256).
        eval_dropout: apply the training dropout rates at inference too, so that
            different seeds sample different predictions (as ColabFold's
            ``use_dropout``).
        trim_msa_padding: drop the MSA rows that are fully masked (the fixed-size
            padding of the processed features) before running the model. Masked rows
            never reach unmasked outputs, so the results are unchanged and shallow
            MSAs run much faster.
    """

    dtype: str = "float32"
    matmul_precision: str = "auto"
    attention: str = "auto"
    chunk_bytes: int = 16 * 1024 * 1024
    eval_dropout: bool = False
    trim_msa_padding: bool = True

    def __post_init__(self) -> None:
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, not {self.dtype!r}")
        if self.chunk_bytes <= 0:
            raise ValueError("chunk_bytes must be positive")
        if self.matmul_precision not in _PRECISIONS:
            raise ValueError(f"matmul_precision must be one of {_PRECISIONS}, "
                             f"not {self.matmul_precision!r}")
        if self.attention not in _ATTENTION:
            raise ValueError(f"attention must be one of {_ATTENTION}, not {self.attention!r}")

    @property
    def resolved_matmul_precision(self) -> str:
        """The precision the model runs at: "auto" resolved from the dtype."""
        if self.matmul_precision != "auto":
            return self.matmul_precision
        return "highest" if self.dtype == "float32" else "default"

    @property
    def compute_dtype(self) -> jnp.dtype:
        """The trunk's compute dtype as a JAX dtype."""
        return jnp.dtype(_DTYPES[self.dtype])


def cuda_capability_major(device: Any) -> int | None:
    """The major compute capability of a CUDA GPU (8 for an A100, 9 for an H100), None
    for any other device (CPU, TPU, a ROCm GPU) or one that does not say."""
    platform = str(device.platform).lower()
    version = str(getattr(getattr(device, "client", None), "platform_version", "")).lower()
    if platform not in ("gpu", "cuda") or "cuda" not in version:
        return None
    try:
        return int(str(getattr(device, "compute_capability", "")).split(".")[0])
    except ValueError:
        return None


#: The dtypes a run may ask for: "auto" or one of GlobalConfig's.
REQUESTED_DTYPES = ("auto", "float32", "bfloat16")


def resolve_dtype(requested: str, device: Any = None) -> tuple[str, str]:
    """The trunk's dtype for ``requested`` on ``device`` (default JAX's first), and why.

    "auto" is bfloat16 on an NVIDIA GPU of compute capability 8.0 or more (A100, A10,
    L4, H100: bfloat16 tensor cores) and on a TPU, float32 on CPUs (no bfloat16 speed
    there), older GPUs (V100, T4) and other GPUs. Any other value is returned as it is.
    """
    if requested not in REQUESTED_DTYPES:
        raise ValueError(f"dtype must be one of {REQUESTED_DTYPES}, not {requested!r}")
    if requested != "auto":
        return requested, "asked for"
    if device is None:
        import jax

        device = jax.devices()[0]
    platform = str(device.platform).lower()
    kind = str(getattr(device, "device_kind", platform))
    if platform == "tpu":
        return "bfloat16", f"auto: {kind} (TPU)"
    major = cuda_capability_major(device)
    if major is not None:
        capability = f"compute capability {getattr(device, 'compute_capability', major)}"
        if major >= 8:
            return "bfloat16", f"auto: {kind}, {capability}"
        return "float32", f"auto: {kind}, {capability} (no bfloat16 units)"
    return "float32", f"auto: {kind}" + ("" if kind == platform else f" ({platform})")
