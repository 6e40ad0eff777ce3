"""Numerical settings shared by every module of the model.

One frozen :class:`GlobalConfig` travels through the model: the compute dtype of the
trunk, the matmul precision, the memory budget that decides how the big attention and
transition intermediates are cut into chunks (:mod:`folding.model.chunking`), and
whether dropout runs at inference (for sampling diverse predictions).
"""

from __future__ import annotations

from dataclasses import dataclass

import jax.numpy as jnp

_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16, "float16": jnp.float16}


@dataclass(frozen=True)
class GlobalConfig:
    """Settings that are not hyperparameters of the network.

    Attributes:
        dtype: compute dtype of the Evoformer trunk ("float32", "bfloat16" or
            "float16"). Parameters are stored in float32 and cast when read; layer
            norms, softmaxes and the structure module stay in float32.
        matmul_precision: JAX matmul precision used while tracing the model
            ("default", "high" or "highest"); on CPU float32 matmuls are exact
            float32 whatever this says.
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
    matmul_precision: str = "default"
    chunk_bytes: int = 16 * 1024 * 1024
    eval_dropout: bool = False
    trim_msa_padding: bool = True

    def __post_init__(self) -> None:
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)}, not {self.dtype!r}")
        if self.chunk_bytes <= 0:
            raise ValueError("chunk_bytes must be positive")

    @property
    def compute_dtype(self) -> jnp.dtype:
        """The trunk's compute dtype as a JAX dtype."""
        return jnp.dtype(_DTYPES[self.dtype])
