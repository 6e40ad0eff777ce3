"""Shared set-up of the model tests: ``model_cases`` (synthetic and real inputs) is importable."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
