"""Reading a target folder: the model outputs the report is made from.

The workflow leaves, per target, ``result_<model>.npz`` (written by ``folding model
run``), ``unrelaxed_<model>.pdb`` and, for relaxed models, ``relaxed_<model>.pdb`` with
``relax_<model>.json``. This module reads them into typed values; optional content
(PAE and pTM exist only for ``_ptm`` models, relaxation may be absent or may have
failed) is ``None`` rather than an error. Problems a user can fix (no results, an
unreadable file, arrays of the wrong shape) raise :class:`~folding.errors.InputError`
naming the file.
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from folding.errors import InputError

#: The report page of a target, written last by ``folding report target``.
REPORT_FILE = "report.html"
RESULT_PATTERN = re.compile(r"^result_(?P<model>.+)\.npz$")
#: ``params_id`` of models run with random parameters starts with this.
UNTRAINED_PREFIX = "untrained"


def natural_key(name: str) -> tuple:
    """Sort key that puts model_2 before model_10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def model_names(target_dir: Path) -> list[str]:
    """Names of the models with a ``result_<model>.npz`` in ``target_dir``, in run order."""
    names = [m.group("model") for p in target_dir.iterdir() if (m := RESULT_PATTERN.match(p.name))]
    return sorted(names, key=natural_key)


@dataclass(frozen=True)
class RelaxOutcome:
    """What relaxation did to one model.

    ``status`` is ``"relaxed"`` (a relaxed PDB exists and its record, if any, does not say
    ``"relaxed": false``), ``"failed"`` (relaxation was tried but gave no relaxed model:
    ``folding relax`` then copies the unrelaxed input and records why; the unrelaxed
    model is used) or ``"not relaxed"``.
    """

    status: str
    reason: str = ""
    violations_before: int | None = None
    violations_after: int | None = None
    heavy_atom_rmsd: float | None = None
    seconds: float | None = None
    converged: bool | None = None

    @property
    def relaxed(self) -> bool:
        return self.status == "relaxed"


@dataclass(frozen=True, eq=False)
class ModelResult:
    """The stored outputs of one model run (arrays read-only).

    Attributes:
        name: the model name (``model_1_ptm``), from ``result_<name>.npz``.
        plddt: [L] per-residue pLDDT, 0-100 (supplement 1.9.6).
        pae: [L, L] predicted aligned error in Angstrom (1.9.7), or None.
        max_pae: the largest PAE the head can predict (31.75 A), or None.
        ptm: predicted TM-score (1.9.7), or None; iptm for multimers, or None.
        params_id: ``untrained:seed=S`` or the sha256 of the parameter file ("" if unknown;
            ``untrained (REMARK 250 ...)`` when only the PDB file says so).
        dtype: the trunk's compute dtype ("float32", "bfloat16"; "" if not recorded).
        num_recycles: recycling iterations run, or None.
        asym_id: [L] chain of each residue (1-based) for multimers, or None.
        unrelaxed_pdb / relaxed_pdb: paths that exist, or None.
        relax: what relaxation did.
    """

    name: str
    plddt: np.ndarray
    pae: np.ndarray | None
    max_pae: float | None
    ptm: float | None
    iptm: float | None
    params_id: str
    num_recycles: int | None
    asym_id: np.ndarray | None
    unrelaxed_pdb: Path | None
    relaxed_pdb: Path | None
    relax: RelaxOutcome
    dtype: str = ""

    @property
    def num_residues(self) -> int:
        return int(self.plddt.shape[0])

    @property
    def mean_plddt(self) -> float:
        """Mean pLDDT over residues: AlphaFold's monomer ranking confidence."""
        return float(np.mean(self.plddt.astype(np.float64)))

    @property
    def untrained(self) -> bool:
        return self.params_id.startswith(UNTRAINED_PREFIX)

    @property
    def structure_path(self) -> Path | None:
        """The structure to rank and show: relaxed if relaxation succeeded, else unrelaxed."""
        if self.relax.relaxed and self.relaxed_pdb is not None:
            return self.relaxed_pdb
        return self.unrelaxed_pdb or self.relaxed_pdb

    def chain_starts(self) -> list[int]:
        """Residue indices where a new chain starts (after the first): chain boundaries."""
        if self.asym_id is None:
            return []
        return [int(i) for i in np.flatnonzero(np.diff(self.asym_id)) + 1]


def _text(value: np.ndarray) -> str:
    item = value.item() if value.ndim == 0 else value.reshape(-1)[0]
    return item.decode() if isinstance(item, bytes) else str(item)


def _scalar(value: np.ndarray | None) -> float | None:
    if value is None or value.size != 1:
        return None
    return float(value.reshape(()))


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files if key != "distogram_logits"}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise InputError(
            f"{path}: not a readable result file ({error}); re-run `folding model run` for it"
        ) from error


def read_relax(target_dir: Path, name: str) -> RelaxOutcome:
    """The relaxation outcome of model ``name`` from its files (see the module docstring)."""
    pdb = target_dir / f"relaxed_{name}.pdb"
    record_path = target_dir / f"relax_{name}.json"
    record: dict = {}
    if record_path.exists():
        try:
            record = json.loads(record_path.read_text())
        except (OSError, ValueError) as error:
            raise InputError(f"{record_path}: not valid JSON ({error}); re-run relax") from error
        if not isinstance(record, dict):
            raise InputError(f"{record_path}: expected a JSON object; re-run relax")
    if pdb.exists() and record.get("relaxed") is not False:
        status, reason = "relaxed", str(record.get("reason") or "")
    elif record:
        status = "failed"
        reason = str(record.get("reason") or record.get("error") or "no relaxed structure written")
    else:
        status, reason = "not relaxed", ""

    def number(key: str, kind: type) -> int | float | None:
        value = record.get(key)
        return kind(value) if isinstance(value, int | float) and not isinstance(value, bool) \
            else None

    converged = record.get("converged")
    return RelaxOutcome(
        status=status,
        reason=reason,
        violations_before=number("violations_before", int),
        violations_after=number("violations_after", int),
        heavy_atom_rmsd=number("heavy_atom_rmsd", float),
        seconds=number("seconds", float),
        converged=converged if isinstance(converged, bool) else None,
    )


def _says_untrained(pdb: Path) -> bool:
    """Whether a PDB file's REMARK records say its parameters were untrained."""
    if not pdb.exists():
        return False
    with pdb.open() as handle:
        for line in handle:
            if not line.startswith("REMARK"):
                return False
            if "UNTRAINED" in line.upper():
                return True
    return False


def load_model(target_dir: Path, name: str) -> ModelResult:
    """Read ``result_<name>.npz`` and the files beside it."""
    path = target_dir / f"result_{name}.npz"
    data = _read_npz(path)
    if "plddt" not in data:
        raise InputError(f"{path}: has no 'plddt' array; re-run `folding model run` for it")
    plddt = np.asarray(data["plddt"], dtype=np.float32)
    if plddt.ndim != 1 or plddt.size == 0:
        raise InputError(f"{path}: 'plddt' has shape {plddt.shape}, expected [L]")
    if not np.isfinite(plddt).all() or plddt.min() < 0 or plddt.max() > 100:
        raise InputError(
            f"{path}: 'plddt' has values outside 0-100 or not finite; the model run failed, "
            "re-run `folding model run` for it"
        )
    length = plddt.shape[0]
    pae = data.get("predicted_aligned_error")
    if pae is not None:
        pae = np.asarray(pae, dtype=np.float32)
        if pae.shape != (length, length):
            raise InputError(
                f"{path}: 'predicted_aligned_error' has shape {pae.shape}, expected "
                f"({length}, {length}) like 'plddt'"
            )
        if not np.isfinite(pae).all():
            raise InputError(f"{path}: 'predicted_aligned_error' has non-finite values; the "
                             "model run failed, re-run `folding model run` for it")
        pae.setflags(write=False)
    asym_id = data.get("asym_id")
    if asym_id is not None:
        asym_id = np.asarray(asym_id).reshape(-1)
        if asym_id.shape != (length,):
            asym_id = None
    plddt.setflags(write=False)
    recycles = _scalar(data.get("num_recycles"))
    unrelaxed = target_dir / f"unrelaxed_{name}.pdb"
    relaxed = target_dir / f"relaxed_{name}.pdb"
    params_id = _text(data["params_id"]) if "params_id" in data else ""
    if not params_id.startswith(UNTRAINED_PREFIX) and _says_untrained(unrelaxed):
        params_id = f"{UNTRAINED_PREFIX} (REMARK 250 of {unrelaxed.name})"
    return ModelResult(
        name=name,
        plddt=plddt,
        pae=pae,
        max_pae=_scalar(data.get("max_predicted_aligned_error")) if pae is not None else None,
        ptm=_scalar(data.get("ptm")),
        iptm=_scalar(data.get("iptm")),
        params_id=params_id,
        num_recycles=None if recycles is None else int(recycles),
        asym_id=asym_id,
        unrelaxed_pdb=unrelaxed if unrelaxed.exists() else None,
        relaxed_pdb=relaxed if relaxed.exists() else None,
        relax=read_relax(target_dir, name),
        dtype=_text(data["dtype"]) if "dtype" in data else "",
    )


def load_models(target_dir: Path) -> tuple[ModelResult, ...]:
    """All models of a target, in run order; an InputError if there are none or they disagree."""
    if not target_dir.is_dir():
        raise InputError(f"{target_dir}: no such target folder; pass the folder of one target")
    names = model_names(target_dir)
    if not names:
        raise InputError(
            f"{target_dir}: no result_<model>.npz files; run `folding model run` for this "
            "target first"
        )
    models = tuple(load_model(target_dir, name) for name in names)
    lengths = {m.num_residues for m in models}
    if len(lengths) > 1:
        detail = ", ".join(f"{m.name}: {m.num_residues}" for m in models)
        raise InputError(
            f"{target_dir}: models have different lengths ({detail}); remove stale "
            "result_*.npz files and re-run"
        )
    return models
