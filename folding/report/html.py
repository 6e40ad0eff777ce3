"""The self-contained HTML report of one target.

One file holds everything: the page's CSS, the bundled 3Dmol.js (no CDN), the ranked
structures as PDB text, the plots as base64 PNG data URIs and the provenance. It makes
no network request; relative links point at the files beside it. The 3D viewer colours
by pLDDT with AlphaFold's bands and colours (or by chain), and has a model selector. For a
complex it shows ipTM, the ranking by 0.8 ipTM + 0.2 pTM, and a table of its chains: the
chain ids of the PDB and mmCIF files (entity by entity, as AlphaFold-Multimer writes
them) beside the chains as the input gave them.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType

from folding import __version__
from folding.report.confidence_files import PLDDT_BANDS
from folding.report.provenance import StageManifest
from folding.report.results import ModelResult
from folding.report.vendor import THREEDMOL_VERSION, threedmol_js

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


@dataclass(frozen=True)
class ReportChain:
    """One chain of a complex: its id in the model files and in the input, entity, copy."""

    model_chain: str
    input_chain: str
    entity_id: int
    copy: int
    start: int
    sequence: str


@dataclass(frozen=True, eq=False)
class ReportContent:
    """What the report shows; models and structures are in rank order."""

    name: str
    sequence: str
    models: tuple[ModelResult, ...]
    ranked_pdb: tuple[str, ...]
    plots: Mapping[str, tuple[str, bytes]] = field(hash=False)
    manifests: tuple[StageManifest, ...]
    timings: Mapping[str, float] = field(hash=False)
    files: tuple[str, ...]
    generated: str
    notes: tuple[str, ...] = ()
    chains: tuple[ReportChain, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "plots", MappingProxyType(dict(self.plots)))
        object.__setattr__(self, "timings", MappingProxyType(dict(self.timings)))

    @property
    def untrained(self) -> bool:
        return any(m.untrained for m in self.models)


def package_text(name: str) -> str:
    """A text file shipped in this package (templates, CSS, viewer script)."""
    return resources.files("folding.report").joinpath(name).read_text(encoding="utf-8")


def fill(template: str, values: Mapping[str, str]) -> str:
    """Replace each ``{{name}}`` in the template once; inserted text is not scanned again."""
    def replace(match: re.Match) -> str:
        key = match.group(1)
        if key not in values:
            raise KeyError(f"template placeholder {{{{{key}}}}} has no value")
        return values[key]
    return _PLACEHOLDER.sub(replace, template)


def script_json(value: object) -> str:
    """JSON safe to place inside a <script> element (no '<', '>' or '&' characters)."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def inline_script(source: str) -> str:
    """JavaScript checked to be safe inside a <script> element."""
    if re.search(r"</script|<!--", source, flags=re.IGNORECASE):
        raise ValueError("script text contains '</script' or '<!--' and cannot be inlined")
    return source


def untrained_banner(params_ids: Sequence[str]) -> str:
    ids = ", ".join(sorted(set(params_ids)))
    return (
        '<div class="banner" id="untrained-banner">UNTRAINED PARAMETERS: these models were '
        "predicted with random parameters; they are not predictions of this protein's "
        f"structure.<small>parameters: {html.escape(ids)}. Install AlphaFold's parameters "
        "and re-run for real predictions.</small></div>"
    )


def _fmt(value: float | int | None, spec: str = ".2f", missing: str = "&ndash;") -> str:
    return missing if value is None else format(value, spec)


def plddt_legend() -> str:
    items = []
    for i, (lower, name, colour, _) in reversed(list(enumerate(PLDDT_BANDS))):
        upper = PLDDT_BANDS[i + 1][0] if i + 1 < len(PLDDT_BANDS) else None
        if upper is None:
            rng = f"&ge; {lower:g}"
        elif lower == 0:
            rng = f"&lt; {upper:g}"
        else:
            rng = f"{lower:g}&ndash;{upper:g}"
        items.append(f'<li><span class="swatch" style="background:{colour}"></span>'
                     f"{name} ({rng})</li>")
    return '<ul class="legend">' + "".join(items) + "</ul>"


def _relax_cell(model: ModelResult) -> str:
    relax = model.relax
    if relax.status == "relaxed":
        parts = ["relaxed"]
        if relax.violations_before is not None or relax.violations_after is not None:
            parts.append(f"violations {_fmt(relax.violations_before, 'd', '?')} &rarr; "
                         f"{_fmt(relax.violations_after, 'd', '?')}")
        if relax.heavy_atom_rmsd is not None:
            parts.append(f"RMSD {relax.heavy_atom_rmsd:.2f} &Aring;")
        if relax.converged is False:
            parts.append('<span class="warn">not converged</span>')
        if relax.reason:
            parts.append(html.escape(relax.reason))
        return "; ".join(parts)
    if relax.status == "failed":
        return (f'<span class="warn">relaxation failed: {html.escape(relax.reason)}</span>; '
                "the unrelaxed model is used")
    return '<span class="muted">not relaxed</span>'


def _params_cell(params_id: str) -> str:
    """A parameter identity, long digests shortened (the full text in the tooltip)."""
    text = params_id or "unknown"
    shown = text if len(text) <= 24 else text[:20] + "\u2026"
    return f'<span class="mono" title="{html.escape(text)}">{html.escape(shown)}</span>'


def scores_table(models: Sequence[ModelResult]) -> str:
    rows = []
    for rank, model in enumerate(models):
        max_pae = None if model.pae is None else float(model.pae.max())
        rows.append(
            f'<tr{" class=best" if rank == 0 else ""}><td class="num">{rank + 1}</td>'
            f"<td>{html.escape(model.name)}</td>"
            f'<td class="num">{model.mean_plddt:.2f}</td>'
            f'<td class="num">{_fmt(model.ptm)}</td>'
            f'<td class="num">{_fmt(model.iptm)}</td>'
            f'<td class="num">{_fmt(max_pae, ".1f")}</td>'
            f'<td class="num">{_fmt(model.num_recycles, "d")}</td>'
            f"<td>{_relax_cell(model)}</td>"
            f"<td>{html.escape(model.dtype or 'unknown')}</td>"
            f"<td>{_params_cell(model.params_id)}</td></tr>"
        )
    return (
        "<table><thead><tr><th>Rank</th><th>Model</th><th>Mean pLDDT</th><th>pTM</th>"
        "<th>ipTM</th><th>Max PAE (&Aring;)</th><th>Recycles</th><th>Relaxation</th>"
        "<th>Trunk dtype</th><th>Parameters</th></tr></thead><tbody>" + "".join(rows)
        + "</tbody></table>"
        + (
            '<p class="muted">Models are ranked by 0.8 ipTM + 0.2 pTM, as AlphaFold-Multimer '
            "ranks its models (ranking_debug.json).</p>"
            if models and all(m.iptm is not None and m.ptm is not None for m in models) else
            '<p class="muted">Models are ranked by mean pLDDT, as AlphaFold ranks monomer '
            "models (ranking_debug.json).</p>"
        )
    )


def _summary(content: ReportContent) -> str:
    best = content.models[0]
    residues = len(content.sequence.replace(":", ""))
    cards = [(str(residues or best.num_residues), "residues")]
    if content.chains:
        cards.append((str(len(content.chains)), "chains"))
    cards += [
        (str(len(content.models)), "models"),
        (f"{best.mean_plddt:.1f}", f"mean pLDDT of {html.escape(best.name)}"),
    ]
    if best.iptm is not None:
        cards.append((f"{best.iptm:.2f}", "ipTM of the top model"))
    if best.ptm is not None:
        cards.append((f"{best.ptm:.2f}", "pTM of the top model"))
    return '<div class="summary">' + "".join(
        f"<div><b>{value}</b><span>{label}</span></div>" for value, label in cards) + "</div>"


def _plots(content: ReportContent) -> str:
    parts = []
    for key, (caption, png) in content.plots.items():
        encoded = base64.b64encode(png).decode("ascii")
        parts.append(f'<h3>{html.escape(caption)}</h3><img class="plot" id="plot-{key}" '
                     f'alt="{html.escape(caption)}" src="data:image/png;base64,{encoded}">')
    parts.extend(f'<p class="muted">{html.escape(note)}</p>' for note in content.notes)
    return "".join(parts) or '<p class="muted">No plots.</p>'


def _grouped(sequence: str) -> str:
    return " ".join(sequence[i:i + 10] for i in range(0, len(sequence), 10))


def sequence_section(content: ReportContent) -> str:
    """The sequence; for a complex, a table of its chains and each chain's sequence."""
    if not content.chains:
        return f'<p class="sequence">{html.escape(_grouped(content.sequence))}</p>'
    rows = "".join(
        f'<tr><td class="mono">{html.escape(c.model_chain)}</td>'
        f'<td class="mono">{html.escape(c.input_chain)}</td><td class="num">{c.entity_id}</td>'
        f'<td class="num">{c.copy}</td><td class="num">{c.start + 1}&ndash;'
        f'{c.start + len(c.sequence)}</td><td class="num">{len(c.sequence)}</td></tr>'
        for c in content.chains)
    sequences = "".join(
        f'<p class="sequence"><b>{html.escape(c.model_chain)}</b> '
        f"{html.escape(_grouped(c.sequence))}</p>" for c in content.chains)
    return (
        '<table id="chains"><thead><tr><th>Chain (PDB, mmCIF)</th><th>Input chain</th>'
        "<th>Entity</th><th>Copy</th><th>Residues</th><th>Length</th></tr></thead><tbody>"
        + rows + "</tbody></table>"
        '<p class="muted">Chains are laid out entity by entity (every copy of the first '
        "sequence, then the next), as AlphaFold-Multimer writes them; chains.json maps them "
        "to the input. The PAE plot marks the chain boundaries: off-diagonal blocks are the "
        "interfaces.</p>" + sequences
    )


def report_versions() -> dict[str, str]:
    """Versions of what made this report."""
    import platform

    import matplotlib
    import numpy

    return {"folding": __version__, "3Dmol.js": THREEDMOL_VERSION,
            "matplotlib": matplotlib.__version__, "numpy": numpy.__version__,
            "python": platform.python_version()}


def _provenance(content: ReportContent) -> str:
    ids = sorted({m.params_id or "unknown" for m in content.models})
    parts = ["<h3>Model parameters</h3><ul>"]
    for params_id in ids:
        names = ", ".join(m.name for m in content.models if (m.params_id or "unknown") == params_id)
        label = " (untrained, random)" if params_id.startswith("untrained") else ""
        parts.append(f'<li><code>{html.escape(params_id)}</code>{label}: {html.escape(names)}</li>')
    parts.append("</ul>")
    if content.timings:
        rows = "".join(f'<tr><td>{html.escape(stage)}</td><td class="num">{seconds:.1f}</td></tr>'
                       for stage, seconds in content.timings.items())
        total = sum(content.timings.values())
        parts.append("<h3>Timings</h3><table><thead><tr><th>Stage</th><th>Seconds</th></tr>"
                     f"</thead><tbody>{rows}<tr><th>Total</th>"
                     f'<th class="num">{total:.1f}</th></tr></tbody></table>')
    parts.append("<h3>This report</h3><ul>" + "".join(
        f"<li>{html.escape(k)}: <code>{html.escape(v)}</code></li>"
        for k, v in report_versions().items()) + "</ul>")
    parts.append("<h3>Stages</h3>")
    if not content.manifests:
        parts.append('<p class="muted">No stage manifests (provenance/*.json) were found.</p>')
    for manifest in content.manifests:
        rows = "".join(f'<tr><td class="mono">{html.escape(k)}</td>'
                       f'<td class="mono">{html.escape(v)}</td></tr>'
                       for k, v in manifest.flat_fields())
        seconds = "" if manifest.seconds is None else f" &middot; {manifest.seconds:.1f} s"
        parts.append(f"<details><summary>{html.escape(manifest.stage)}{seconds}</summary>"
                     f"<table><tbody>{rows}</tbody></table></details>")
    return "".join(parts)


def render_report(content: ReportContent) -> str:
    """The report page as one HTML string."""
    models = content.models
    options = "".join(
        f'<option value="{i}"{" selected" if i == 0 else ""}>rank {i + 1}: '
        f"{html.escape(m.name)} (pLDDT {m.mean_plddt:.1f}"
        f'{", relaxed" if m.relax.relaxed else ""})</option>'
        for i, m in enumerate(models))
    data = {
        "target": content.name,
        "bands": [[lower, colour] for lower, _, colour, _ in reversed(PLDDT_BANDS)],
        "models": [
            {"rank": i + 1, "name": m.name, "mean_plddt": round(m.mean_plddt, 2),
             "relaxed": m.relax.relaxed, "pdb": pdb}
            for i, (m, pdb) in enumerate(zip(models, content.ranked_pdb, strict=True))
        ],
    }
    files = "".join(f'<li><a href="{html.escape(f)}">{html.escape(f)}</a></li>'
                    for f in content.files)
    heading = f"{content.name}"
    values = {
        "version": __version__,
        "title": html.escape(f"{content.name}: folding report"),
        "css": package_text("report.css"),
        "banner": untrained_banner([m.params_id for m in models if m.untrained])
        if content.untrained else "",
        "heading": html.escape(heading),
        "subtitle": html.escape(
            f"Structure prediction report (AlphaFold2 models by folding {__version__}), "
            f"generated {content.generated}"),
        "summary": _summary(content),
        "model_options": options,
        "legend": plddt_legend(),
        "scores_table": scores_table(models),
        "plots": _plots(content),
        "sequence": sequence_section(content),
        "provenance": _provenance(content),
        "files": f"<ul>{files}</ul>" if files else '<p class="muted">none</p>',
        "footer": html.escape(
            f"folding {__version__}. 3D viewer: 3Dmol.js {THREEDMOL_VERSION} (BSD-3-Clause), "
            "embedded in this file. Colours of pLDDT as in the AlphaFold Protein Structure "
            "Database."),
        "data": script_json(data),
        "threedmol": inline_script(threedmol_js()),
        "viewer_js": inline_script(package_text("viewer.js")),
    }
    return fill(package_text("report_template.html"), values)
