"""GPU (or host) memory planning for one prediction: chunk budget and whether it fits.

Before anything is compiled, :func:`plan_memory` estimates the peak memory of one
recycling pass from the input's shape (residues L, MSA cluster rows N, extra-MSA rows
E, templates T), the trunk's dtype and the chunk budget, compares it with what the
device has free, and chooses the chunk budget of :mod:`folding.model.chunking`
(:attr:`~folding.model.global_config.GlobalConfig.chunk_bytes`). When the estimate
does not fit, :meth:`MemoryPlan.check` raises one clear error naming the longest
sequence this device takes, instead of an out-of-memory crash after minutes of
compilation. After compiling (before running) the plan is checked again with XLA's own
memory analysis of the executable (:class:`CompiledMemory`, :meth:`MemoryPlan.with_compiled`).
A target that does not fit is run again with more memory (:mod:`folding.model.host_spill`)
or refused.

**The estimate** (an estimate, not a bound). Measured on one H100 80 GB
(``benchmarks/gpu_memory.py``, model_1_ptm, one pass, float32, 64 MiB chunks, full
MSA: 512 cluster rows, 5,120 extra rows, 4 templates; live memory with
``XLA_PYTHON_CLIENT_ALLOCATOR=platform``) with the model as it was before the memory
work of 2026-11-23: 8.6 GiB at L = 1,024 and 23.1 GiB at L = 2,048. This build needs
0.411 and 0.364 of what that one did by XLA's memory analysis of both compiled on CPU
(:data:`BUILD_RATIO`), so the estimate is anchored at the measurements times those
ratios. Beside a fixed part (parameters and a few chunk intermediates), the memory that
grows with L comes from the MSA representations (N x L x 256 and E x L x 64 values:
per residue) and from the pair representation and its updates (L x L x 128 values: per
residue pair). Fitting the two anchors, beside 0.4 GiB of parameters and three 64 MiB
chunks, gives about 2.0 MiB per residue and 0.96 KiB per residue pair at the full MSA;
the per-residue part is scaled with the MSA rows actually run, the chunk budget counts
three times, and bfloat16 is taken as 0.48 x float32 for the parts that grow with L
(most activations halve, the recycled pair too; layer norms and softmaxes stay
float32; bounded by the one bfloat16 run measured, 4,096 residues on the H100). Usable memory is
60% of what an accelerator reports free (fitted to the runs that fit and the two that
did not, see USABLE_FRACTION), 90% on CPU:
on GPU ``bytes_limit - bytes_in_use`` of ``memory_stats()`` (JAX's pool, by
default 75% of the card; ``XLA_PYTHON_CLIENT_MEM_FRACTION`` raises it), on CPU the
host's available RAM.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from folding.errors import InputError

log = logging.getLogger(__name__)

MIB = 1 << 20
GIB = 1 << 30

#: The H100 measurements the estimate starts from: (residues, live bytes), with the
#: configuration below, made with the model as it was before commit d1e59f6.
MEASURED_LIVE_BYTES: tuple[tuple[int, int], ...] = ((1024, int(8.6 * GIB)),
                                                   (2048, int(23.1 * GIB)))
MEASURED_MSA_ROWS, MEASURED_EXTRA_ROWS, MEASURED_CHUNK_BYTES = 512, 5120, 64 * MIB
#: What one pass of this build needs over what that build needed, at the measured
#: configuration, from XLA's memory analysis of the two compiled on CPU
#: (``benchmarks/compiled_memory.py``: 5.11 / 12.44 GiB at L = 1,024, 13.14 / 36.05 GiB
#: at L = 2,048; the earlier build kept the pass before's outputs and did not donate the
#: recycled state). Since the distogram and PAE heads left the passes the CPU figures
#: are 4.86 and 11.86 GiB (ratios 0.391 and 0.329); the ratios are kept, conservative,
#: until a GPU measures this build. XLA's figures for the compiled model, checked
#: before it runs, decide in the end.
BUILD_RATIO: tuple[float, ...] = (0.411, 0.364)
#: The anchors of the estimate: the measurements times the ratios.
ESTIMATE_ANCHORS: tuple[tuple[int, int], ...] = tuple(
    (length, int(live * ratio))
    for (length, live), ratio in zip(MEASURED_LIVE_BYTES, BUILD_RATIO, strict=True))
#: float32 parameters of one monomer model (about 93 M values), rounded up.
PARAMS_BYTES = 400 * MIB
#: Channels of the cluster and extra MSA representations (Suppl. Table 1 / 1.7.2).
MSA_CHANNELS, EXTRA_MSA_CHANNELS = 256, 64
#: Share of the reported free memory the plan may use: room for the allocator, which
#: must place single large buffers (XLA's temporaries of one executable come as one
#: allocation) in a pool it has already cut up. Fitted to the H100 runs: float32
#: L=2,560 (estimate 33 GiB) ran in JAX's default pool (59.7 GiB of 80); float32
#: L=3,072 (45 GiB) ran out of memory in the default pool and again, relaunched by the
#: plan, in a 90% pool (71.3 GiB: one 32.25 GiB buffer could not be placed with 69 GiB
#: in use). 70% let that relaunch happen; 60% does not.
USABLE_FRACTION = 0.6
#: Share of the host's available RAM the plan may use on CPU (no pool to fragment).
HOST_USABLE_FRACTION = 0.9
#: bfloat16 trunk: the parts that grow with L, relative to float32. Bounded by the
#: H100 run of L=4,096 in bfloat16, which fit JAX's default pool (at most 0.49 with
#: the margin above); activations are half the size, float32 layer norms and
#: softmaxes keep some parts at full size.
DTYPE_FACTOR = {"float32": 1.0, "bfloat16": 0.48, "float16": 0.48}
#: Chunk budgets the planner chooses between: on CPU 16 MiB was fastest (see
#: GlobalConfig.chunk_bytes); on GPU larger chunks mean fewer sequential loop steps.
#: The traced model_1_ptm pass at L = 1,000 with cuDNN attention runs 12,332 chunk-loop
#: iterations (1.08 M operations) at 256 MiB and 640 (0.13 M) at 4,096 MiB, the budget
#: of the H100 speed runs (``benchmarks/chunk_steps.py``).
CPU_CHUNK_BYTES = 16 * MIB
GPU_CHUNK_CHOICES = tuple(m * MIB for m in (4096, 2048, 1024, 512, 256, 128, 64, 32, 16,
                                            8, 4))
#: Budgets above this one leave blocks of the triangle multiplication whole at long
#: lengths, which the estimate does not model: a plan above it whose compiled figures
#: do not fit compiles again at the largest budget up to this one
#: (:meth:`MemoryPlan.with_smaller_chunks`) before anything spills or is refused.
FALLBACK_CHUNK_BYTES = 256 * MIB
CHUNKS_ALIVE = 3


@dataclass(frozen=True)
class DeviceMemory:
    """What a device has: its platform ("gpu", "cpu", "tpu"), kind (the name JAX gives
    it), total and free bytes, and where the figures come from."""

    platform: str
    kind: str
    total_bytes: int
    free_bytes: int
    source: str

    def describe(self) -> str:
        return (f"{self.kind} ({self.platform}): {self.free_bytes / GIB:.1f} GiB free of "
                f"{self.total_bytes / GIB:.1f} GiB ({self.source})")


def host_memory() -> tuple[int, int]:
    """Total and available host RAM in bytes (/proc/meminfo, else sysconf)."""
    try:
        with open("/proc/meminfo") as handle:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in handle
                    if line.split()[1:2] and line.split()[1].isdigit()}
        return info["MemTotal"], info.get("MemAvailable", info.get("MemFree", 0))
    except (OSError, KeyError, ValueError, IndexError):
        page = os.sysconf("SC_PAGE_SIZE")
        return page * os.sysconf("SC_PHYS_PAGES"), page * os.sysconf("SC_AVPHYS_PAGES")


def device_memory(device: Any = None) -> DeviceMemory:
    """The memory of ``device`` (default: JAX's first device).

    Accelerators report ``memory_stats()`` (``bytes_limit`` is the pool JAX may use,
    ``bytes_in_use`` what it holds); CPUs report none, so the host's RAM is used.
    """
    import jax

    device = jax.devices()[0] if device is None else device
    platform = str(device.platform).lower()
    platform = "gpu" if platform in ("gpu", "cuda", "rocm") else platform
    kind = str(getattr(device, "device_kind", platform))
    stats = None
    try:
        stats = device.memory_stats()
    except Exception:  # backends without statistics raise or return None
        stats = None
    if stats and stats.get("bytes_limit"):
        limit = int(stats["bytes_limit"])
        return DeviceMemory(platform, kind, limit, max(0, limit - int(stats.get(
            "bytes_in_use", 0))), "memory_stats: bytes_limit - bytes_in_use")
    if platform != "cpu":
        # e.g. XLA_PYTHON_CLIENT_ALLOCATOR=platform reports no limit: unknown.
        return DeviceMemory(platform, kind, 0, 0, "unknown (no memory_stats limit)")
    total, available = host_memory()
    return DeviceMemory(platform, kind, total, available, "host RAM available")


@dataclass(frozen=True)
class ModelShape:
    """The input sizes that set the memory of one pass, and the trunk's dtype."""

    num_res: int
    num_msa: int = MEASURED_MSA_ROWS
    num_extra_msa: int = MEASURED_EXTRA_ROWS
    num_templates: int = 4
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.num_res < 1 or min(self.num_msa, self.num_extra_msa, self.num_templates) < 0:
            raise ValueError(f"invalid model shape {self}")
        if self.dtype not in DTYPE_FACTOR:
            raise ValueError(f"dtype must be one of {sorted(DTYPE_FACTOR)}, not {self.dtype!r}")


def _fit() -> tuple[float, float]:
    """Per-residue and per-pair bytes at the measured configuration (two-point fit)."""
    fixed = PARAMS_BYTES + CHUNKS_ALIVE * MEASURED_CHUNK_BYTES
    (l1, m1), (l2, m2) = ESTIMATE_ANCHORS
    y1, y2 = m1 - fixed, m2 - fixed
    per_pair = (y2 - y1 * l2 / l1) / (l2 * l2 - l1 * l2)
    per_residue = (y1 - per_pair * l1 * l1) / l1
    return per_residue, per_pair


PER_RESIDUE_BYTES, PER_PAIR_BYTES = _fit()


def estimate_bytes(shape: ModelShape, chunk_bytes: int) -> int:
    """Estimated peak memory of one recycling pass (see the module docstring)."""
    measured_rows = MEASURED_MSA_ROWS * MSA_CHANNELS + MEASURED_EXTRA_ROWS * EXTRA_MSA_CHANNELS
    rows = shape.num_msa * MSA_CHANNELS + shape.num_extra_msa * EXTRA_MSA_CHANNELS
    row_share = max(0.1, rows / measured_rows)
    grows = (PER_RESIDUE_BYTES * row_share * shape.num_res
             + PER_PAIR_BYTES * shape.num_res * shape.num_res)
    return int(PARAMS_BYTES + CHUNKS_ALIVE * chunk_bytes + DTYPE_FACTOR[shape.dtype] * grows)


@dataclass(frozen=True)
class CompiledMemory:
    """XLA's memory analysis of one compiled model iteration (``memory_analysis()``):
    its arguments (parameters, features, recycled state), outputs, temporaries (one
    buffer on a GPU, which must be placed whole), and the outputs that reuse the
    buffers of donated arguments (the recycled state, ``alias_bytes``)."""

    argument_bytes: int
    output_bytes: int
    temp_bytes: int
    alias_bytes: int = 0

    @classmethod
    def of(cls, executable: Any) -> CompiledMemory:
        """The figures of a compiled JAX executable (``lower(...).compile()``)."""
        stats = executable.memory_analysis()
        return cls(int(stats.argument_size_in_bytes), int(stats.output_size_in_bytes),
                   int(stats.temp_size_in_bytes), int(stats.alias_size_in_bytes))

    @property
    def needed_bytes(self) -> int:
        """Arguments, temporaries and the outputs that do not reuse an argument's buffer
        (the runner releases a pass's other outputs before the next pass runs)."""
        return self.argument_bytes + self.temp_bytes + self.output_bytes - self.alias_bytes

    def describe(self) -> str:
        return (f"compiled: arguments {self.argument_bytes / GIB:.2f} GiB, outputs "
                f"{self.output_bytes / GIB:.2f} GiB ({self.alias_bytes / GIB:.2f} GiB of them "
                f"in donated arguments), temporaries {self.temp_bytes / GIB:.2f} "
                f"GiB: needs {self.needed_bytes / GIB:.2f} GiB")


@dataclass(frozen=True)
class MemoryPlan:
    """The plan of one prediction: chunk budget, estimate, and whether it fits.

    ``longest_fitting`` is the longest sequence (same MSA rows, templates, dtype and
    the smallest chunk budget) whose estimate fits the usable memory. When the device
    does not say how much memory it has, the plan is not checked (``fits``, usable and
    longest 0) and uses the measured 64 MiB budget.
    """

    shape: ModelShape
    device: DeviceMemory
    chunk_bytes: int
    estimated_bytes: int
    usable_bytes: int
    fits: bool
    longest_fitting: int
    compiled: CompiledMemory | None = None
    chosen: bool = True

    def with_compiled(self, compiled: CompiledMemory) -> MemoryPlan:
        """The plan with XLA's own figures in place of the estimate (after compiling,
        before running): ``estimated_bytes`` becomes what the executable needs."""
        needed = compiled.needed_bytes
        fits = self.device.total_bytes == 0 or needed <= self.usable_bytes
        return replace(self, estimated_bytes=needed, fits=fits, compiled=compiled)

    def with_smaller_chunks(self) -> MemoryPlan | None:
        """The plan again with the budget capped at :data:`FALLBACK_CHUNK_BYTES`, when
        XLA's figures do not fit a budget the planner chose above it (None otherwise:
        nothing smaller to try before spilling or refusing)."""
        if self.fits or not self.chosen or self.chunk_bytes <= FALLBACK_CHUNK_BYTES:
            return None
        return plan_memory(self.shape, self.device, max_chunk_bytes=FALLBACK_CHUNK_BYTES)

    def describe(self) -> str:
        s = self.shape
        if self.device.total_bytes == 0:
            return (f"memory plan: L={s.num_res}, {s.num_msa} MSA rows, {s.num_extra_msa} "
                    f"extra rows, {s.num_templates} templates, {s.dtype}: estimated "
                    f"{self.estimated_bytes / GIB:.1f} GiB; {self.device.kind} memory "
                    f"unknown, not checked; chunk budget {self.chunk_bytes // MIB} MiB")
        source = "estimated" if self.compiled is None else self.compiled.describe() + ";"
        return (f"memory plan: L={s.num_res}, {s.num_msa} MSA rows, {s.num_extra_msa} extra "
                f"rows, {s.num_templates} templates, {s.dtype}: {source} "
                f"{self.estimated_bytes / GIB:.1f} GiB of {self.usable_bytes / GIB:.1f} GiB "
                f"usable on {self.device.describe()}; chunk budget "
                f"{self.chunk_bytes // MIB} MiB; "
                f"{'fits' if self.fits else 'does NOT fit'} (longest that fits here: about "
                f"{self.longest_fitting} residues)")

    def check(self, target: str = "the target", msa_options: bool = True) -> None:
        """Raise one :class:`InputError` before compiling when the estimate does not fit
        (``msa_options``: whether to suggest ``--max-extra-msa``/``--max-msa-clusters``,
        which the multimer models do not take)."""
        if self.fits:
            return
        s = self.shape
        hints = []
        if s.dtype == "float32":
            hints.append("--dtype bfloat16")
        if msa_options and s.num_extra_msa > 1024:
            hints.append("--max-extra-msa 1024")
        if msa_options and s.num_msa > 128:
            hints.append("--max-msa-clusters 128")
        if self.device.platform == "gpu":
            hints.append("XLA_PYTHON_CLIENT_MEM_FRACTION=0.95")
        hints.append("a device with more memory")
        raise InputError(
            f"{target}: {s.num_res} residues need about {self.estimated_bytes / GIB:.1f} GiB "
            f"({s.dtype}, {s.num_msa} MSA rows, {s.num_extra_msa} extra rows) but "
            f"{self.device.kind} has {self.usable_bytes / GIB:.1f} GiB usable"
            f"{'' if self.compiled is None else ' (XLA: ' + self.compiled.describe() + ')'}; "
            f"the longest sequence that fits here is about {self.longest_fitting} residues "
            f"(estimate); "
            f"try {', '.join(hints)}, or --no-memory-check to run anyway")


def check_compiled(plan: MemoryPlan, compiled_at: Callable[[int], CompiledMemory]
                   ) -> MemoryPlan:
    """``plan`` checked with XLA's figures, ``compiled_at(chunk_bytes)`` (compiling the
    model at that budget): when a budget the planner chose above
    :data:`FALLBACK_CHUNK_BYTES` does not fit, once more at the smaller plan's budget."""
    checked = plan.with_compiled(compiled_at(plan.chunk_bytes))
    smaller = checked.with_smaller_chunks()
    if smaller is None:
        return checked
    log.info("%s", checked.describe())
    log.info("compiling again with a chunk budget of %d MiB: XLA's figures for %d MiB do "
             "not fit", smaller.chunk_bytes // MIB, plan.chunk_bytes // MIB)
    return smaller.with_compiled(compiled_at(smaller.chunk_bytes))


def longest_fitting(shape: ModelShape, usable_bytes: int, chunk_bytes: int) -> int:
    """The longest ``num_res`` whose estimate fits ``usable_bytes`` (0 if none does)."""
    low, high = 0, 1
    while estimate_bytes(replace(shape, num_res=high), chunk_bytes) <= usable_bytes:
        low, high = high, high * 2
        if high > 1 << 20:
            return low
    while high - low > 1:
        mid = (low + high) // 2
        if estimate_bytes(replace(shape, num_res=mid), chunk_bytes) <= usable_bytes:
            low = mid
        else:
            high = mid
    return low


def plan_memory(shape: ModelShape, device: DeviceMemory, chunk_bytes: int | None = None,
                max_chunk_bytes: int | None = None) -> MemoryPlan:
    """Choose the chunk budget for ``shape`` on ``device`` and decide whether it fits.

    On CPU the budget is 16 MiB (fastest measured there). On GPU it is the largest of
    4,096 ... 4 MiB (at most ``max_chunk_bytes``) whose estimate fits, so long
    sequences get smaller chunks; a given ``chunk_bytes`` (``--chunk-mb``) is kept as it
    is and only checked.
    """
    chosen = chunk_bytes is None
    if device.total_bytes == 0:  # unknown: the measured configuration, not checked
        chunk_bytes = MEASURED_CHUNK_BYTES if chunk_bytes is None else chunk_bytes
        return MemoryPlan(shape, device, chunk_bytes, estimate_bytes(shape, chunk_bytes), 0,
                          True, 0, chosen=chosen)
    share = USABLE_FRACTION if device.platform != "cpu" else HOST_USABLE_FRACTION
    usable = int(device.free_bytes * share)
    smallest = GPU_CHUNK_CHOICES[-1]
    if chunk_bytes is None:
        largest = CPU_CHUNK_BYTES if device.platform != "gpu" else GPU_CHUNK_CHOICES[0]
        if max_chunk_bytes is not None:
            largest = min(largest, max_chunk_bytes)
        choices = tuple(c for c in GPU_CHUNK_CHOICES if c <= largest) or (smallest,)
        chunk_bytes = next((c for c in choices if estimate_bytes(shape, c) <= usable),
                           choices[-1])
    estimated = estimate_bytes(shape, chunk_bytes)
    return MemoryPlan(shape, device, chunk_bytes, estimated, usable, estimated <= usable,
                      longest_fitting(shape, usable, min(chunk_bytes, smallest)),
                      chosen=chosen)
