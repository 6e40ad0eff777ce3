"""The run's index: ``OUT/index.html`` and ``OUT/index.json`` linking every target.

A target is a folder of the output directory that holds ``result_*.npz`` files. For
each, the index gives its length, its models, the best model by AlphaFold's ranking
with its mean pLDDT and pTM, whether the top model was relaxed, the parameters used,
and a link to its ``report.html``. Like the target reports, the page is one
self-contained file with no network access, and carries a banner when any target was
predicted with untrained parameters.
"""

from __future__ import annotations

import html
import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from folding import __version__
from folding.atomic import write_json, write_text
from folding.errors import InputError
from folding.report.html import fill, package_text, untrained_banner
from folding.report.ranking import rank_models
from folding.report.results import REPORT_FILE, load_models, model_names, natural_key

log = logging.getLogger(__name__)

INDEX_HTML = "index.html"
INDEX_JSON = "index.json"


@dataclass(frozen=True)
class TargetSummary:
    """One row of the index."""

    name: str
    length: int
    num_models: int
    best_model: str
    ranking_label: str
    ranking_confidence: float
    mean_plddt: float
    ptm: float | None
    top_model_relaxed: bool
    untrained: bool
    params_ids: tuple[str, ...]
    report: str | None
    num_chains: int = 1
    iptm: float | None = None


def summarize_target(target_dir: Path) -> TargetSummary:
    """The index row of one target folder."""
    models = load_models(target_dir)
    ranking = rank_models(models)
    best = next(m for m in models if m.name == ranking.best)
    report = target_dir / REPORT_FILE
    return TargetSummary(
        name=target_dir.name,
        length=best.num_residues,
        num_models=len(models),
        best_model=best.name,
        ranking_label=ranking.label,
        ranking_confidence=round(ranking.confidences[best.name], 4),
        mean_plddt=round(best.mean_plddt, 2),
        ptm=None if best.ptm is None else round(best.ptm, 4),
        top_model_relaxed=best.relax.relaxed,
        untrained=any(m.untrained for m in models),
        params_ids=tuple(sorted({m.params_id or "unknown" for m in models})),
        report=f"{target_dir.name}/{REPORT_FILE}" if report.exists() else None,
        num_chains=1 if best.asym_id is None else len(set(best.asym_id.tolist())),
        iptm=None if best.iptm is None else round(best.iptm, 4),
    )


def find_targets(output_dir: Path) -> list[Path]:
    """Target folders of a run (those holding result_*.npz), in natural name order."""
    if not output_dir.is_dir():
        raise InputError(f"{output_dir}: no such output folder; pass the run's output folder")
    found = [p for p in output_dir.iterdir() if p.is_dir() and model_names(p)]
    return sorted(found, key=lambda p: natural_key(p.name))


def _row(summary: TargetSummary) -> str:
    name = html.escape(summary.name)
    link = (f'<a href="{html.escape(summary.report)}">{name}</a>' if summary.report
            else f'{name} <span class="warn">(no report yet)</span>')
    ptm = "&ndash;" if summary.ptm is None else f"{summary.ptm:.2f}"
    iptm = "&ndash;" if summary.iptm is None else f"{summary.iptm:.2f}"
    params = "untrained" if summary.untrained else ", ".join(summary.params_ids)
    return (
        f"<tr><td>{link}</td><td class=\"num\">{summary.length}</td>"
        f'<td class="num">{summary.num_chains}</td>'
        f'<td class="num">{summary.num_models}</td><td>{html.escape(summary.best_model)}</td>'
        f'<td class="num">{summary.mean_plddt:.2f}</td><td class="num">{ptm}</td>'
        f'<td class="num">{iptm}</td>'
        f'<td>{"yes" if summary.top_model_relaxed else "no"}</td>'
        f'<td class="mono">{html.escape(params)}</td></tr>'
    )


def render_index(summaries: list[TargetSummary], generated: str) -> str:
    untrained_ids = [p for s in summaries if s.untrained for p in s.params_ids]
    table = (
        "<table><thead><tr><th>Target</th><th>Residues</th><th>Chains</th><th>Models</th>"
        "<th>Best model</th><th>Mean pLDDT</th><th>pTM</th><th>ipTM</th><th>Relaxed</th>"
        "<th>Parameters</th></tr></thead>"
        "<tbody>" + "".join(_row(s) for s in summaries) + "</tbody></table>"
        if summaries else '<p class="muted">No targets with model results were found.</p>'
    )
    return fill(package_text("index_template.html"), {
        "version": __version__,
        "title": "folding run",
        "css": package_text("report.css"),
        "banner": untrained_banner(untrained_ids) if untrained_ids else "",
        "heading": "Structure predictions",
        "subtitle": html.escape(
            f"{len(summaries)} target{'' if len(summaries) == 1 else 's'}; "
            f"folding {__version__}; generated {generated}"),
        "targets_table": table,
        "footer": "Best model = highest mean pLDDT for monomers, highest 0.8 ipTM + 0.2 pTM "
                  "for complexes, as AlphaFold and AlphaFold-Multimer rank their models.",
    })


def make_index(output_dir: Path) -> list[TargetSummary]:
    """Write ``index.html`` and ``index.json`` for every target in ``output_dir``."""
    output_dir = Path(output_dir)
    summaries = [summarize_target(p) for p in find_targets(output_dir)]
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    write_json(output_dir / INDEX_JSON, {
        "folding_version": __version__,
        "generated": generated,
        "untrained_parameters": any(s.untrained for s in summaries),
        "targets": [asdict(s) for s in summaries],
    })
    write_text(output_dir / INDEX_HTML, render_index(summaries, generated))
    log.info("index of %d targets written to %s", len(summaries), output_dir / INDEX_HTML)
    return summaries
