"""Ranking models by confidence, and ``ranking_debug.json`` as AlphaFold writes it.

AlphaFold ranks monomer models by their mean pLDDT and multimer models by
``0.8 * ipTM + 0.2 * pTM`` (supplement 1.9.6 and 1.9.7; AlphaFold-Multimer section 7.3),
best first, and records the confidences and the order in ``ranking_debug.json``::

    {"plddts": {"model_1_ptm": 87.3, ...}, "order": ["model_3_ptm", ...]}

(the key is ``"iptm+ptm"`` for multimers), written with an indent of 4. Models of equal
confidence keep their run order, as Python's stable sort does in AlphaFold.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from folding.atomic import write_json
from folding.errors import InputError
from folding.report.results import ModelResult

RANKING_FILE = "ranking_debug.json"
PLDDT_LABEL = "plddts"
MULTIMER_LABEL = "iptm+ptm"


@dataclass(frozen=True)
class Ranking:
    """Models ordered best first, with the confidence each was ranked by."""

    label: str
    confidences: Mapping[str, float] = field(hash=False)
    order: tuple[str, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "confidences", MappingProxyType(dict(self.confidences)))
        if sorted(self.order) != sorted(self.confidences):
            raise ValueError("ranking order must list every ranked model once")

    @property
    def best(self) -> str:
        return self.order[0]

    def rank_of(self, name: str) -> int:
        """0-based rank of a model (ranked_<rank>.pdb)."""
        return self.order.index(name)

    def to_json(self) -> dict:
        return {self.label: dict(self.confidences), "order": list(self.order)}


def ranking_confidence(model: ModelResult, multimer: bool) -> float:
    """The number a model is ranked by: mean pLDDT, or 0.8 ipTM + 0.2 pTM for multimers."""
    if multimer:
        if model.iptm is None or model.ptm is None:
            raise ValueError(f"{model.name}: multimer ranking needs ipTM and pTM")
        return 0.8 * model.iptm + 0.2 * model.ptm
    return model.mean_plddt


def rank_models(models: Sequence[ModelResult]) -> Ranking:
    """Rank models best first (multimer confidence when every model has ipTM and pTM)."""
    if not models:
        raise ValueError("no models to rank")
    multimer = all(m.iptm is not None and m.ptm is not None for m in models)
    confidences = {m.name: ranking_confidence(m, multimer) for m in models}
    order = sorted(confidences, key=lambda name: confidences[name], reverse=True)
    return Ranking(
        label=MULTIMER_LABEL if multimer else PLDDT_LABEL,
        confidences=confidences,
        order=tuple(order),
    )


def write_ranking(target_dir: Path, ranking: Ranking) -> Path:
    """Write ``ranking_debug.json`` atomically; return its path."""
    path = target_dir / RANKING_FILE
    write_json(path, ranking.to_json(), indent=4)
    return path


def read_ranking(path: Path) -> Ranking:
    """Read a ``ranking_debug.json``."""
    try:
        data = json.loads(path.read_text())
        label = next(k for k in (PLDDT_LABEL, MULTIMER_LABEL) if k in data)
        return Ranking(label=label, confidences=data[label], order=tuple(data["order"]))
    except (OSError, ValueError, KeyError, TypeError, StopIteration) as error:
        raise InputError(
            f"{path}: not a ranking_debug.json ({error!r}); re-run `folding report rank`"
        ) from error
