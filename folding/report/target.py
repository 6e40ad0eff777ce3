"""Everything ``folding report target`` writes for one target folder.

From the model outputs (:mod:`folding.report.results`) it writes, beside them:
``ranking_debug.json``; ``ranked_<i>.pdb`` and ``ranked_<i>.cif`` (best first, relaxed
where relaxation succeeded); per model ``pae_<model>.json`` (models with a PAE head),
``confidence_<model>.json`` and ``scores_<model>.json``; ``timings.json`` from the stage
manifests; ``plddt.png``, ``pae.png``, ``msa_coverage.png`` (from ``features.npz``);
and ``report.html``, last, so that its presence means the target is complete.

Every output is computed before the first is written, and each is written atomically;
a failure leaves the folder as it was. Outputs of an earlier run that no longer apply
(``ranked_<i>`` beyond the number of models) are removed.
"""

from __future__ import annotations

import json
import logging
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from folding.atomic import write_bytes, write_json, write_text
from folding.errors import InputError
from folding.report import confidence_files, plots
from folding.report.html import ReportChain, ReportContent, render_report
from folding.report.provenance import TIMINGS_FILE, read_manifests, timings
from folding.report.ranking import (
    RANKING_FILE,
    Ranking,
    rank_models,
    read_ranking,
    write_ranking,
)
from folding.report.results import REPORT_FILE, ModelResult, load_models
from folding.report.structures import ranked_structure

log = logging.getLogger(__name__)

FEATURES_FILE = "features.npz"
#: A complex's chains in the model's layout (``folding multimer features --chains-json``).
CHAINS_FILE = "chains.json"
PLOT_FILES = {"plddt": "plddt.png", "pae": "pae.png", "msa_coverage": "msa_coverage.png"}


@dataclass(frozen=True)
class TargetResult:
    """What was written for one target."""

    name: str
    ranking: Ranking
    files: tuple[str, ...]


def read_sequence(target_dir: Path, name: str) -> str:
    """The query sequence from ``<name>.fasta`` (records joined), or "" if there is none."""
    path = target_dir / f"{name}.fasta"
    if not path.exists():
        candidates = sorted(target_dir.glob("*.fasta"))
        if len(candidates) != 1:
            return ""
        path = candidates[0]
    lines = path.read_text().splitlines()
    return "".join(line.strip() for line in lines if line and not line.startswith(">")).upper()


def read_msa(target_dir: Path) -> np.ndarray | None:
    """The raw ``msa`` feature [N, L] of ``features.npz``, or None where it is absent."""
    path = target_dir / FEATURES_FILE
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as features:
            return features["msa"] if "msa" in features.files else None
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise InputError(f"{path}: not a readable features file ({error}); re-run "
                         "`folding features` for this target") from error


def read_chains(target_dir: Path, num_residues: int) -> tuple[ReportChain, ...]:
    """A complex's chains from ``chains.json`` (none for a monomer, or if it does not
    describe ``num_residues`` residues: a stale file of an earlier run)."""
    from folding.common.protein import PDB_CHAIN_IDS

    path = target_dir / CHAINS_FILE
    if not path.is_file():
        return ()
    try:
        entries = json.loads(path.read_text())["chains"]
        chains = tuple(sorted((ReportChain(
            model_chain=PDB_CHAIN_IDS[int(c["asym_id"]) - 1], input_chain=str(c["chain_id"]),
            entity_id=int(c["entity_id"]), copy=int(c["sym_id"]), start=int(c["start"]),
            sequence=str(c["sequence"])) for c in entries), key=lambda c: c.start))
    except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
        raise InputError(f"{path}: not a chains file ({error!r}); re-run `folding multimer "
                         "features` for this target") from error
    if sum(len(c.sequence) for c in chains) != num_residues or len(chains) < 2:
        return ()
    return chains


def _title(name: str, what: str, untrained: bool) -> str:
    return f"{name}: {what}" + (" (UNTRAINED PARAMETERS)" if untrained else "")


def make_plots(
    name: str, ranked: list[ModelResult], msa: np.ndarray | None
) -> tuple[dict[str, tuple[str, bytes]], list[str]]:
    """{key: (caption, PNG)} of the target's plots, and notes on plots that were skipped."""
    untrained = any(m.untrained for m in ranked)
    made: dict[str, tuple[str, bytes]] = {}
    notes: list[str] = []
    caption = "Predicted LDDT per residue"
    made["plddt"] = (caption, plots.plddt_plot(ranked, _title(name, caption, untrained)))
    caption = "Predicted aligned error"
    pae = plots.pae_plot(ranked, _title(name, caption, untrained))
    if pae is None:
        notes.append("No PAE plot: these models have no predicted aligned error head "
                     "(use the _ptm models for PAE and pTM).")
    else:
        made["pae"] = (caption, pae)
    if msa is None:
        notes.append(f"No MSA coverage plot: {FEATURES_FILE} with an 'msa' array was not found.")
    elif msa.ndim != 2 or msa.shape[1] != ranked[0].num_residues or msa.shape[0] == 0:
        notes.append(f"No MSA coverage plot: the MSA in {FEATURES_FILE} has shape {msa.shape}, "
                     f"not [N, {ranked[0].num_residues}].")
    else:
        caption = "MSA coverage"
        made["msa_coverage"] = (caption, plots.msa_coverage_plot(
            plots.msa_coverage(msa), _title(name, caption, False)))
    return made, notes


def make_target_report(target_dir: Path, name: str | None = None) -> TargetResult:
    """Write every output of one target (see the module docstring)."""
    target_dir = Path(target_dir)
    name = name or target_dir.resolve().name
    models = load_models(target_dir)
    ranking = rank_models(models)
    by_name = {m.name: m for m in models}
    ranked = [by_name[n] for n in ranking.order]
    structures = [ranked_structure(m, i, name) for i, m in enumerate(ranked)]
    manifests = read_manifests(target_dir)
    stage_times = timings(manifests)
    plot_images, notes = make_plots(name, ranked, read_msa(target_dir))

    outputs: dict[str, str | bytes] = {}
    for structure in structures:
        outputs[f"ranked_{structure.rank}.pdb"] = structure.pdb_text
        outputs[f"ranked_{structure.rank}.cif"] = structure.cif_text
    for model in models:
        if model.pae is not None:
            outputs[f"pae_{model.name}.json"] = confidence_files.pae_json(
                model.pae, model.max_pae if model.max_pae is not None else plots.DEFAULT_MAX_PAE)
        outputs[f"confidence_{model.name}.json"] = confidence_files.confidence_json(model.plddt)
        outputs[f"scores_{model.name}.json"] = confidence_files.scores_json(model)
    for key, (_, png) in plot_images.items():
        outputs[PLOT_FILES[key]] = png
    listed = [RANKING_FILE, TIMINGS_FILE, *outputs]
    content = ReportContent(
        name=name,
        sequence=read_sequence(target_dir, name),
        models=tuple(ranked),
        ranked_pdb=tuple(s.pdb_text for s in structures),
        plots=plot_images,
        manifests=manifests,
        timings=stage_times,
        files=tuple(listed),
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        notes=tuple(notes),
        chains=read_chains(target_dir, ranked[0].num_residues) if ranked[0].asym_id is not None
        else (),
    )
    report = render_report(content)

    _write_ranking_if_changed(target_dir, ranking)
    write_json(target_dir / TIMINGS_FILE, stage_times, indent=4)
    for file_name, data in outputs.items():
        if isinstance(data, bytes):
            write_bytes(target_dir / file_name, data)
        else:
            write_text(target_dir / file_name, data if data.endswith("\n") else data + "\n")
    _remove_stale(target_dir, len(structures))
    write_text(target_dir / REPORT_FILE, report)
    log.info("%s: wrote %d files, best model %s (%s %.2f)", name, len(listed) + 1,
             ranking.best, "mean pLDDT" if ranking.label == "plddts" else "0.8 ipTM + 0.2 pTM",
             ranking.confidences[ranking.best])
    return TargetResult(name=name, ranking=ranking, files=(*listed, REPORT_FILE))


def _write_ranking_if_changed(target_dir: Path, ranking: Ranking) -> None:
    """Keep an identical ``ranking_debug.json`` untouched (``folding report rank`` wrote it
    before relaxation; rewriting it would make the workflow think relaxation is out of date).
    """
    path = target_dir / RANKING_FILE
    if path.exists():
        try:
            if read_ranking(path).to_json() == ranking.to_json():
                return
        except InputError:
            pass
        log.warning("%s differs from the ranking of the current results; rewriting it", path)
    write_ranking(target_dir, ranking)


def _remove_stale(target_dir: Path, count: int) -> None:
    for path in target_dir.glob("ranked_*.*"):
        stem = path.stem.removeprefix("ranked_")
        if path.suffix in (".pdb", ".cif") and stem.isdigit() and int(stem) >= count:
            path.unlink()
