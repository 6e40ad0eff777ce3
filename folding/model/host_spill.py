"""Spilling to host memory: CUDA unified memory for a prediction that does not fit a GPU.

When the memory plan (:mod:`folding.model.memory_plan`) estimates that a target does
not fit the GPU's memory but does fit the GPU and the host's free RAM together, the
prediction runs again in a fresh process with CUDA unified (managed) memory, as
AlphaFold's own launcher runs every prediction: ``TF_FORCE_UNIFIED_MEMORY=1`` lets
XLA's GPU allocator take managed memory that pages to host RAM, and
``XLA_PYTHON_CLIENT_MEM_FRACTION`` above 1 lets its pool grow past the card (a
fraction of 3 takes up to 3x the card's memory, device and host together). Pages
that live on the host are slow to reach, so a spilled prediction runs slower, but it
runs instead of failing after compilation.

The environment must be set before JAX starts its GPU client, which is why the
decision leads to a new process (:func:`relaunch`) rather than a setting.
``FOLDING_HOST_SPILL`` in the environment marks a process that already spills, so the
decision is taken once. ``folding model run --no-spill`` refuses instead.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from folding.model.memory_plan import GIB, USABLE_FRACTION, MemoryPlan

#: Set in the environment of a process that runs with unified memory.
SPILL_ENV = "FOLDING_HOST_SPILL"
#: JAX's default share of the card for its pool (``XLA_PYTHON_CLIENT_MEM_FRACTION``).
DEFAULT_POOL_FRACTION = 0.75
#: Share of the host's available RAM that spilled pages may take.
HOST_SHARE = 0.8
#: The largest pool fraction asked for (AlphaFold's launcher uses 4.0).
MAX_POOL_FRACTION = 4.0
#: Up to this share of the card a larger pool suffices, without unified memory.
LARGEST_PLAIN_POOL = 0.95


@dataclass(frozen=True)
class SpillDecision:
    """Whether to re-run the prediction (``spill``), the environment to run it with, and
    why: with CUDA unified memory, or, when the card itself holds the estimate, only with
    a larger JAX memory pool than its default 75%."""

    spill: bool
    reason: str
    environment: Mapping[str, str]


def _card_bytes(plan: MemoryPlan, environ: Mapping[str, str]) -> int:
    """The card's memory: JAX's pool limit over the pool fraction it was started with."""
    fraction = float(environ.get("XLA_PYTHON_CLIENT_MEM_FRACTION", DEFAULT_POOL_FRACTION))
    return int(plan.device.total_bytes / fraction)


def decide(plan: MemoryPlan, host_available_bytes: int,
           environ: Mapping[str, str] | None = None) -> SpillDecision:
    """Decide whether ``plan`` (which did not fit) should run with unified memory.

    It should when the device is a GPU whose memory is known, this process does not
    spill already, and the estimate (with the plan's margin) fits the card plus
    :data:`HOST_SHARE` of ``host_available_bytes``. The pool fraction asked for
    covers the estimate with that margin, capped at :data:`MAX_POOL_FRACTION`; up to
    :data:`LARGEST_PLAIN_POOL` of the card, a larger pool is all it takes.
    """
    environ = os.environ if environ is None else environ
    none: dict[str, str] = {}
    if plan.fits:
        return SpillDecision(False, "fits in device memory", none)
    if plan.device.platform != "gpu" or plan.device.total_bytes == 0:
        return SpillDecision(False, f"no unified memory on {plan.device.platform}", none)
    if environ.get(SPILL_ENV):
        return SpillDecision(False, "already running with unified memory", none)
    card = _card_bytes(plan, environ)
    needed = plan.estimated_bytes / USABLE_FRACTION
    available = card + HOST_SHARE * host_available_bytes
    if needed > available:
        return SpillDecision(
            False, f"needs about {needed / GIB:.0f} GiB with its margin, more than the GPU's "
            f"{card / GIB:.0f} GiB and {HOST_SHARE:.0%} of the host's "
            f"{host_available_bytes / GIB:.0f} GiB available RAM together", none)
    fraction = min(MAX_POOL_FRACTION, math.ceil(10 * needed / card) / 10 + 0.1)
    if fraction <= LARGEST_PLAIN_POOL:
        # The card holds it once JAX's pool may take more of it: no host memory needed.
        return SpillDecision(
            True, f"needs about {needed / GIB:.0f} GiB with its margin: {fraction:.0%} of "
            f"the GPU's {card / GIB:.0f} GiB (a larger JAX memory pool, no spill)",
            {"XLA_PYTHON_CLIENT_MEM_FRACTION": f"{fraction:.2f}", SPILL_ENV: "1"})
    environment = {
        "TF_FORCE_UNIFIED_MEMORY": "1",
        "XLA_PYTHON_CLIENT_MEM_FRACTION": f"{fraction:.1f}",
        "XLA_PYTHON_CLIENT_PREALLOCATE": "false",
        SPILL_ENV: "1",
    }
    return SpillDecision(
        True, f"needs about {needed / GIB:.0f} GiB with its margin: the GPU's "
        f"{card / GIB:.0f} GiB plus host RAM (unified memory, pool fraction {fraction:.1f}; "
        "slower)", environment)


def relaunch(decision: SpillDecision) -> None:
    """Replace this process by the same command with the decision's environment."""
    environment = {**os.environ, **decision.environment}
    argv = [sys.executable, *sys.argv]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, environment)
