"""Shared set-up of the model tests: ``model_cases`` (synthetic and real inputs) is importable."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def relaunches(monkeypatch):
    """The spill decisions a run acts on: ``host_spill.relaunch`` (an exec of the same
    command with more memory) records its decision and raises ``model_cases.RelaunchedError``
    instead; the host reports 32 GiB of RAM available."""
    from model_cases import RelaunchedError

    from folding.model import host_spill, memory_plan

    seen = []

    def record(decision):
        seen.append(decision)
        raise RelaunchedError

    monkeypatch.setattr(host_spill, "relaunch", record)
    monkeypatch.setattr(memory_plan, "host_memory", lambda: (64 * memory_plan.GIB,
                                                             32 * memory_plan.GIB))
    return seen
