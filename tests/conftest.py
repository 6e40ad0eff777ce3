"""Shared fixtures: where the real data lives, and small helpers every test may use."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# tests/oracle.py (the reference set-up) is importable as `oracle`.
sys.path.insert(0, str(Path(__file__).resolve().parent))


def shared_data_dir() -> Path:
    """The real data folder: $FOLDING_SHARED_DATA, else ../shared/data beside the project."""
    return Path(os.environ.get("FOLDING_SHARED_DATA", ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data folder; tests that need it are skipped, with the reason, where it is absent."""
    path = shared_data_dir()
    if not (path / "README.md").exists():
        pytest.skip(f"real data not found at {path} (set FOLDING_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def venv_bin() -> Path:
    """The folder holding this environment's console scripts (``folding``, ``snakemake``)."""
    return Path(sys.executable).parent
