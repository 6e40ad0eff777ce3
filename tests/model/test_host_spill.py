"""Spilling to host memory: when a prediction re-runs with CUDA unified memory.

The decision is tested on plans for a GPU the size of the H100 that was measured
(79.6 GiB, JAX's default pool of 75%), with this build's estimate: float32 at 5,400
residues runs again with a larger pool; 6,500 and 8,000 spill to host RAM when the
host has RAM to spare; the relaunched process itself does not decide again; CPUs never
spill. (An earlier build, which needed about three times the memory, ran out at 3,072
in float32 on that H100.) The relaunch itself needs a GPU
(``benchmarks/gpu_memory.py --plan``; not run here).
"""

from __future__ import annotations

import pytest

from folding.model import host_spill
from folding.model.memory_plan import (
    GIB,
    USABLE_FRACTION,
    DeviceMemory,
    ModelShape,
    plan_memory,
)

H100_POOL = int(79.6 * GIB * 0.75)


def _plan(num_res, dtype="float32", platform="gpu", total=H100_POOL):
    device = DeviceMemory(platform, "NVIDIA H100 80GB HBM3", total, total, "test")
    return plan_memory(ModelShape(num_res=num_res, dtype=dtype), device)


def test_a_target_that_fits_does_not_spill():
    decision = host_spill.decide(_plan(2048), 100 * GIB, environ={})
    assert not decision.spill and decision.reason == "fits in device memory"


def test_float32_5400_runs_again_with_a_larger_pool():
    """5,400 residues in float32 need about 63 GiB with the margin: 90% of the card, no
    unified memory."""
    plan = _plan(5400)
    assert not plan.fits
    decision = host_spill.decide(plan, 100 * GIB, environ={})
    assert decision.spill and "no spill" in decision.reason
    assert "TF_FORCE_UNIFIED_MEMORY" not in decision.environment
    fraction = float(decision.environment["XLA_PYTHON_CLIENT_MEM_FRACTION"])
    assert 0.75 < fraction <= host_spill.LARGEST_PLAIN_POOL
    assert fraction * 79.6 * GIB >= plan.estimated_bytes / USABLE_FRACTION


@pytest.mark.parametrize("length", [6500, 8000])
def test_float32_6500_and_8000_spill_to_host_ram_with_unified_memory(length):
    plan = _plan(length)
    assert not plan.fits
    decision = host_spill.decide(plan, 100 * GIB, environ={})
    assert decision.spill
    env = decision.environment
    assert env["TF_FORCE_UNIFIED_MEMORY"] == "1"
    assert env[host_spill.SPILL_ENV] == "1"
    assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    fraction = float(env["XLA_PYTHON_CLIENT_MEM_FRACTION"])
    # The pool must cover the estimate with the plan's margin, on a card of 79.6 GiB.
    assert 1.0 < fraction <= host_spill.MAX_POOL_FRACTION
    assert fraction * 79.6 * GIB >= plan.estimated_bytes / USABLE_FRACTION
    assert "unified memory" in decision.reason


def test_no_spill_without_host_ram_or_twice_or_off_gpu():
    plan = _plan(9000)
    short = host_spill.decide(plan, 4 * GIB, environ={})
    assert not short.spill and "host's 4 GiB available RAM" in short.reason
    again = host_spill.decide(_plan(8000), 100 * GIB, environ={host_spill.SPILL_ENV: "1"})
    assert not again.spill and again.reason == "already running with unified memory"
    cpu = _plan(100_000, platform="cpu", total=8 * GIB)
    assert not cpu.fits
    assert host_spill.decide(cpu, 100 * GIB, environ={}).reason == "no unified memory on cpu"


def test_pool_fraction_read_from_the_environment():
    """With a 95% pool the card is the limit over 0.95, not over 0.75."""
    plan = _plan(8000, total=int(79.6 * GIB * 0.95))
    decision = host_spill.decide(plan, 100 * GIB,
                                 environ={"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.95"})
    assert not plan.fits
    assert decision.spill and decision.environment["TF_FORCE_UNIFIED_MEMORY"] == "1"
    # The card is 79.6 GiB whichever pool it was started with: same fraction asked.
    default_pool = host_spill.decide(_plan(8000), 100 * GIB, environ={})
    assert (decision.environment["XLA_PYTHON_CLIENT_MEM_FRACTION"]
            == default_pool.environment["XLA_PYTHON_CLIENT_MEM_FRACTION"])
