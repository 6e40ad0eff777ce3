"""The run's provenance: the stage manifests the workflow leaves in ``provenance/``.

Each stage writes ``provenance/<stage>.json``, a JSON object with at least ``"stage"``
and ``"seconds"`` and whatever inputs, versions and settings it records. The report
shows them generically (nested objects flattened to dotted keys), and their times make
``timings.json``: ``{stage: seconds}``, like AlphaFold's ``timings.json``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from folding.errors import InputError

PROVENANCE_DIR = "provenance"
TIMINGS_FILE = "timings.json"


@dataclass(frozen=True)
class StageManifest:
    """One stage's record: its name, its time, and every other field it wrote."""

    stage: str
    seconds: float | None
    fields: Mapping[str, Any] = field(hash=False)
    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))

    def flat_fields(self) -> list[tuple[str, str]]:
        """(dotted key, text) of every field but stage and seconds, for display."""
        rows: list[tuple[str, str]] = []
        _flatten("", {k: v for k, v in self.fields.items() if k not in ("stage", "seconds")},
                 rows)
        return rows


def _flatten(prefix: str, value: Any, rows: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, rows)
    elif isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
        for i, item in enumerate(value):
            _flatten(f"{prefix}[{i}]", item, rows)
    elif isinstance(value, list):
        rows.append((prefix, ", ".join(_scalar_text(v) for v in value)))
    else:
        rows.append((prefix, _scalar_text(value)))


def _scalar_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return f"{value:.6g}"
    return json.dumps(value)


def read_manifests(target_dir: Path) -> tuple[StageManifest, ...]:
    """The stage manifests of a target, sorted by file name; none if the folder is absent."""
    folder = target_dir / PROVENANCE_DIR
    if not folder.is_dir():
        return ()
    manifests = []
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise InputError(
                f"{path}: not valid JSON ({error}); re-run the stage that wrote it"
            ) from error
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a JSON object; re-run the stage that wrote it")
        seconds = data.get("seconds")
        manifests.append(StageManifest(
            stage=str(data.get("stage") or path.stem),
            seconds=float(seconds) if isinstance(seconds, int | float)
            and not isinstance(seconds, bool) else None,
            fields=data,
            path=path,
        ))
    return tuple(manifests)


def timings(manifests: tuple[StageManifest, ...]) -> dict[str, float]:
    """``{stage: seconds}``; a stage recorded twice is keyed by its file name the second time."""
    result: dict[str, float] = {}
    for manifest in manifests:
        if manifest.seconds is None:
            continue
        key = manifest.stage if manifest.stage not in result else manifest.path.stem
        result[key] = manifest.seconds
    return result
