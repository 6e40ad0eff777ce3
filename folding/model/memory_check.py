"""The memory plan applied to one ``folding model run``, monomer or multimer.

Three steps around compilation (:mod:`folding.model.memory_plan` makes the plan,
:mod:`folding.model.host_spill` decides on more memory):

1. :func:`plan_run`, before compiling: the estimate chooses the chunk budget and
   refuses, with one error, a target that fits nowhere. When it says the target does
   not fit as JAX started but more memory could hold it, the decision waits for step 2.
2. :func:`checked_runner`, after compiling (before running): XLA's own figures of the
   executable the run then uses replace the estimate; a planned budget above 256 MiB
   that does not fit is compiled once more at 256 MiB or less.
3. :func:`enforce`: a plan that still does not fit runs again at once in a fresh process
   with more memory (a larger pool or CUDA unified memory), or is refused.

``--chunk-mb``, ``--no-memory-check`` and ``--no-spill`` act as their help says. A
relaunched process (``FOLDING_HOST_SPILL`` set) plans with the smallest chunk budget.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable
from typing import TypeVar

from folding.model import host_spill, memory_plan
from folding.model.memory_plan import CompiledMemory, MemoryPlan, ModelShape

log = logging.getLogger(__name__)

Runner = TypeVar("Runner")


def plan_run(args: argparse.Namespace, shape: ModelShape, msa_options: bool = True
             ) -> MemoryPlan:
    """Step 1: the plan from the estimate, logged (``msa_options``: whether the error may
    suggest ``--max-extra-msa``/``--max-msa-clusters``; the multimer models take neither)."""
    chunk_bytes = None if args.chunk_mb is None else args.chunk_mb << 20
    if chunk_bytes is None and os.environ.get(host_spill.SPILL_ENV):
        # Run again for memory: the smallest chunks, whatever the larger pool allows.
        chunk_bytes = memory_plan.GPU_CHUNK_CHOICES[-1]
    plan = memory_plan.plan_memory(shape, memory_plan.device_memory(), chunk_bytes)
    log.info("%s", plan.describe())
    if not plan.fits and not args.no_memory_check and not args.no_spill and \
            host_spill.decide(plan, memory_plan.host_memory()[1]).spill:
        # The estimate is only an estimate (see memory_plan); XLA's figures after
        # compiling decide whether to run again with more memory.
        log.info("the estimate does not fit as JAX started; deciding from XLA's compiled "
                 "memory figures whether more memory is needed")
        return plan
    enforce(args, plan, msa_options)
    return plan


def checked_runner(args: argparse.Namespace, plan: MemoryPlan, runner: Runner,
                   runner_at: Callable[[int], Runner],
                   compiled_memory: Callable[[Runner], CompiledMemory],
                   msa_options: bool = True) -> tuple[Runner, MemoryPlan]:
    """Steps 2 and 3: ``runner`` (built at ``plan.chunk_bytes``) or the one
    ``runner_at(chunk_bytes)`` builds at a smaller budget, whichever XLA's figures
    (``compiled_memory(runner)``, the compilation the run then uses) accept."""
    if args.no_memory_check:
        return runner, plan
    runners = {plan.chunk_bytes: runner}

    def compiled_at(chunk_bytes: int) -> CompiledMemory:
        if chunk_bytes not in runners:
            runners[chunk_bytes] = runner_at(chunk_bytes)
        return compiled_memory(runners[chunk_bytes])

    plan = memory_plan.check_compiled(plan, compiled_at)
    log.info("%s", plan.describe())
    enforce(args, plan, msa_options)
    return runners[plan.chunk_bytes], plan


def enforce(args: argparse.Namespace, plan: MemoryPlan, msa_options: bool = True) -> None:
    """Step 3: run a plan that does not fit again with more memory (host spill), else
    refuse it with one error, unless ``--no-memory-check``."""
    if not plan.fits and not args.no_memory_check and not args.no_spill:
        decision = host_spill.decide(plan, memory_plan.host_memory()[1])
        if decision.spill:
            log.warning("%s does not fit in GPU memory as JAX started; running it again with "
                        "more memory: %s", args.features, decision.reason)
            host_spill.relaunch(decision)
        log.info("no spill to host memory: %s", decision.reason)
    if not args.no_memory_check:
        plan.check(str(args.features), msa_options)
    elif not plan.fits:
        log.warning("running although the memory plan says it does not fit "
                    "(--no-memory-check)")
