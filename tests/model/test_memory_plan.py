"""GPU memory planning: the estimate reproduces its anchors (H100 measurements of an
earlier build times XLA's ratio of this build's needs to that one's), decisions for a
few (length, memory) cases, the chosen chunk budget, and one clear error before
compiling."""

from __future__ import annotations

import pytest

from folding.errors import InputError
from folding.model.memory_plan import (
    BUILD_RATIO,
    ESTIMATE_ANCHORS,
    GIB,
    MEASURED_LIVE_BYTES,
    MIB,
    USABLE_FRACTION,
    DeviceMemory,
    ModelShape,
    device_memory,
    estimate_bytes,
    plan_memory,
)


def _gpu(gib: float) -> DeviceMemory:
    return DeviceMemory("gpu", "test GPU", int(gib * GIB), int(gib * GIB), "test")


def test_estimate_reproduces_its_anchors():
    for (length, anchor), (_, live), ratio in zip(ESTIMATE_ANCHORS, MEASURED_LIVE_BYTES,
                                                  BUILD_RATIO, strict=True):
        assert anchor == pytest.approx(live * ratio, rel=1e-6)
        assert 0.2 < ratio < 1.0  # this build needs less than the one measured
        assert estimate_bytes(ModelShape(length), 64 * MIB) == pytest.approx(anchor, rel=1e-6)


def test_estimate_grows_with_length_rows_and_dtype():
    base = estimate_bytes(ModelShape(1000), 64 * MIB)
    assert estimate_bytes(ModelShape(2000), 64 * MIB) > 2.2 * base  # quadratic part grows
    assert estimate_bytes(ModelShape(1000, num_msa=128, num_extra_msa=1024), 64 * MIB) < base
    assert estimate_bytes(ModelShape(1000, dtype="bfloat16"), 64 * MIB) < 0.7 * base


@pytest.mark.parametrize("length,gib,fits", [
    (2560, 0.75 * 79.6, True),   # measured to run on an H100 80 GB (JAX's default pool)
    (5000, 0.75 * 79.6, True),   # estimated for this build, not measured
    (6000, 0.75 * 79.6, False),
    (800, 16 * 0.75, True),
    (2000, 16 * 0.75, False),
    (3000, 24, False),
    (300, 4, True),
    (100, 1, False),
])
def test_fit_decisions(length, gib, fits):
    plan = plan_memory(ModelShape(length), _gpu(gib))
    assert plan.fits is fits
    assert (plan.longest_fitting >= length) is fits
    assert plan.estimated_bytes <= plan.usable_bytes or not fits


def test_chunk_budget_follows_free_memory_and_platform():
    roomy = plan_memory(ModelShape(512), _gpu(60))
    assert roomy.chunk_bytes == 4096 * MIB  # the budget of the H100 speed runs
    capped = plan_memory(ModelShape(512), _gpu(60), max_chunk_bytes=256 * MIB)
    assert capped.chunk_bytes == 256 * MIB
    # A 16 GB card cannot hold three 4 GiB chunks beside the model: smaller ones.
    assert plan_memory(ModelShape(512), _gpu(0.75 * 16)).chunk_bytes < 4096 * MIB
    # Near the limit the plan takes smaller chunks (three are counted alive).
    shape = ModelShape(1500)
    tight_gib = (estimate_bytes(shape, 16 * MIB) + 1) / GIB / USABLE_FRACTION
    tight = plan_memory(shape, _gpu(tight_gib))
    assert tight.fits and tight.chunk_bytes == 16 * MIB
    cpu = plan_memory(ModelShape(512), DeviceMemory("cpu", "cpu", 64 * GIB, 64 * GIB, "t"))
    assert cpu.chunk_bytes == 16 * MIB
    given = plan_memory(ModelShape(512), _gpu(60), chunk_bytes=5 * MIB)
    assert given.chunk_bytes == 5 * MIB


def test_too_long_is_one_clear_error():
    plan = plan_memory(ModelShape(4000), _gpu(16))
    assert not plan.fits
    with pytest.raises(InputError) as error:
        plan.check("target.npz")
    message = str(error.value)
    assert "\n" not in message
    for words in ("target.npz", "4000 residues", "test GPU", "longest",
                  f"about {plan.longest_fitting} residues", "--dtype bfloat16",
                  "--max-extra-msa", "--no-memory-check"):
        assert words in message, words
    assert 1000 < plan.longest_fitting < 4000
    assert "does NOT fit" in plan.describe()


def test_this_machines_memory():
    memory = device_memory()
    assert memory.total_bytes > 0 and 0 <= memory.free_bytes <= memory.total_bytes
    assert memory.platform in ("cpu", "gpu", "tpu")


def test_unknown_device_memory_is_not_checked():
    unknown = DeviceMemory("gpu", "GPU without statistics", 0, 0, "unknown")
    plan = plan_memory(ModelShape(5000), unknown)
    assert plan.fits and plan.chunk_bytes == 64 * MIB
    plan.check()
    assert "unknown, not checked" in plan.describe()


def test_compiled_figures_replace_the_estimate():
    """After compiling, XLA's memory analysis decides: a plan whose estimate fits but
    whose executable needs more than the usable memory does not fit, and says why."""
    from folding.errors import InputError
    from folding.model.memory_plan import CompiledMemory

    plan = plan_memory(ModelShape(300), _gpu(8))
    assert plan.fits and plan.compiled is None
    small = CompiledMemory(argument_bytes=GIB // 2, output_bytes=GIB // 8, temp_bytes=GIB)
    assert small.needed_bytes == GIB // 2 + GIB + GIB // 8
    assert plan.with_compiled(small).fits
    # Outputs held in donated arguments' buffers (the recycled state) count once.
    donated = CompiledMemory(argument_bytes=GIB, output_bytes=GIB, temp_bytes=GIB,
                             alias_bytes=GIB // 2)
    assert donated.needed_bytes == GIB + GIB + GIB // 2
    large = CompiledMemory(argument_bytes=GIB, output_bytes=GIB, temp_bytes=6 * GIB)
    refused = plan.with_compiled(large)
    assert not refused.fits and refused.estimated_bytes == 8 * GIB
    assert "compiled: arguments 1.00 GiB" in refused.describe()
    with pytest.raises(InputError, match="XLA: compiled"):
        refused.check("target.npz")


def test_a_large_budget_that_xla_finds_too_big_falls_back_to_smaller_chunks():
    """A planned GPU budget above FALLBACK_CHUNK_BYTES whose compiled figures do not fit
    is planned again at most at that budget; a given budget or a small one is not."""
    from folding.model.memory_plan import FALLBACK_CHUNK_BYTES, CompiledMemory

    plan = plan_memory(ModelShape(2000, dtype="bfloat16"), _gpu(60))
    assert plan.fits and plan.chunk_bytes > FALLBACK_CHUNK_BYTES and plan.chosen
    assert plan.with_smaller_chunks() is None  # it fits: nothing to do
    too_big = CompiledMemory(argument_bytes=GIB, output_bytes=GIB, temp_bytes=60 * GIB)
    smaller = plan.with_compiled(too_big).with_smaller_chunks()
    assert smaller is not None and smaller.compiled is None
    assert smaller.chunk_bytes == FALLBACK_CHUNK_BYTES and smaller.fits
    # The fallback plan itself has nowhere smaller to go: spill or refuse next.
    assert smaller.with_compiled(too_big).with_smaller_chunks() is None
    given = plan_memory(ModelShape(2000, dtype="bfloat16"), _gpu(60), chunk_bytes=4096 * MIB)
    assert not given.chosen and given.with_compiled(too_big).with_smaller_chunks() is None


def test_check_compiled_compiles_again_once_with_smaller_chunks():
    from folding.model.memory_plan import FALLBACK_CHUNK_BYTES, CompiledMemory, check_compiled

    plan = plan_memory(ModelShape(2000, dtype="bfloat16"), _gpu(60))
    compiled = []

    def compiled_at(chunk_bytes, big=60 * GIB):
        compiled.append(chunk_bytes)
        temp = big if chunk_bytes > FALLBACK_CHUNK_BYTES else GIB
        return CompiledMemory(argument_bytes=GIB, output_bytes=GIB, temp_bytes=temp)

    checked = check_compiled(plan, compiled_at)
    assert compiled == [plan.chunk_bytes, FALLBACK_CHUNK_BYTES]
    assert checked.fits and checked.chunk_bytes == FALLBACK_CHUNK_BYTES
    assert checked.estimated_bytes == 3 * GIB  # XLA's figures of the fallback
    compiled.clear()
    assert check_compiled(plan, lambda c: compiled_at(c, big=GIB)).chunk_bytes == plan.chunk_bytes
    assert compiled == [plan.chunk_bytes]  # it fit: one compilation
