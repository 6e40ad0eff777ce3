"""Confidence and MSA plots as PNG: pLDDT per residue, PAE heatmaps, MSA coverage.

* pLDDT (supplement 1.9.6) per residue for every model, over AlphaFold's confidence
  bands (very high >= 90, confident 70-90, low 50-70, very low < 50, in the colours of
  the AlphaFold Database).
* One PAE heatmap (supplement 1.9.7) per model, scored residue on x and aligned residue
  on y as in the AlphaFold Database, with lines at chain boundaries for multimers.
* MSA coverage as ColabFold draws it: every aligned sequence as a row, coloured by its
  identity to the query where it is not a gap, sorted by identity, with the number of
  sequences covering each position (the depth) as a black line.

Figures are built on :class:`matplotlib.figure.Figure` (no pyplot state, no display)
and returned as PNG bytes.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from folding.report.confidence_files import PLDDT_BANDS
from folding.report.results import ModelResult

#: The gap id in AlphaFold's raw ``msa`` feature (HH-suite order, and AlphaFold's).
MSA_GAP_ID = 21
#: PAE colour scale top when a model does not say its maximum (AlphaFold's 31.75 A).
DEFAULT_MAX_PAE = 31.75
#: At most this many MSA rows are drawn (rows are subsampled evenly beyond it).
MAX_DRAWN_ROWS = 4000
_LINE_COLOURS = ("#000000", "#7b3294", "#1b7837", "#b2182b", "#8c510a", "#4d4d4d",
                 "#c51b7d", "#2166ac", "#e08214", "#35978f")
_DPI = 110


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight",
                   metadata={"Software": None})
    return buffer.getvalue()


def _band_label(index: int) -> str:
    lower, name, _, _ = PLDDT_BANDS[index]
    upper = PLDDT_BANDS[index + 1][0] if index + 1 < len(PLDDT_BANDS) else None
    if upper is None:
        return f"{name} (pLDDT \u2265 {lower:g})"
    if lower == 0:
        return f"{name} (pLDDT < {upper:g})"
    return f"{name} ({lower:g} \u2264 pLDDT < {upper:g})"


def plddt_plot(models: Sequence[ModelResult], title: str) -> bytes:
    """pLDDT per residue of ``models`` (in rank order) over the confidence bands."""
    figure = Figure(figsize=(11, 4), layout="constrained")
    axes = figure.add_subplot()
    for i, (lower, _, colour, _) in enumerate(PLDDT_BANDS):
        upper = PLDDT_BANDS[i + 1][0] if i + 1 < len(PLDDT_BANDS) else 100.0
        axes.axhspan(lower, upper, color=colour, alpha=0.35, linewidth=0)
    length = models[0].num_residues
    positions = np.arange(1, length + 1)
    lines = []
    for rank, model in enumerate(models):
        (line,) = axes.plot(positions, model.plddt, color=_LINE_COLOURS[rank % len(_LINE_COLOURS)],
                            linewidth=1.3,
                            label=f"rank {rank + 1}: {model.name} (mean {model.mean_plddt:.1f})")
        lines.append(line)
    for start in models[0].chain_starts():
        axes.axvline(start + 0.5, color="#333333", linestyle="--", linewidth=0.8)
    axes.set_xlim(0.5, length + 0.5)
    axes.set_ylim(0, 100)
    axes.set_xlabel("Residue")
    axes.set_ylabel("pLDDT")
    axes.set_title(title)
    axes.grid(axis="x", alpha=0.3)
    figure.legend(handles=lines, title="Model (rank order)", loc="outside right upper",
                  fontsize=8, title_fontsize=9)
    band_handles = [Patch(facecolor=colour, alpha=0.6, label=_band_label(i))
                    for i, (_, _, colour, _) in reversed(list(enumerate(PLDDT_BANDS)))]
    figure.legend(handles=band_handles, title="AlphaFold confidence band",
                  loc="outside right lower", fontsize=8, title_fontsize=9)
    return _png(figure)


def pae_plot(models: Sequence[ModelResult], title: str) -> bytes | None:
    """One PAE heatmap per model that has a PAE (in rank order); None if none has."""
    with_pae = [(rank, m) for rank, m in enumerate(models) if m.pae is not None]
    if not with_pae:
        return None
    columns = min(len(with_pae), 5)
    rows = math.ceil(len(with_pae) / columns)
    figure = Figure(figsize=(3.4 * columns + 0.9, 3.5 * rows + 0.5), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    vmax = max(m.max_pae or DEFAULT_MAX_PAE for _, m in with_pae)
    image = None
    for axes, (rank, model) in zip(grid.flat, with_pae, strict=False):
        length = model.num_residues
        image = axes.imshow(model.pae, cmap="Greens_r", vmin=0, vmax=vmax,
                            extent=(0.5, length + 0.5, length + 0.5, 0.5),
                            interpolation="nearest")
        for start in model.chain_starts():
            axes.axhline(start + 0.5, color="#b2182b", linewidth=0.8)
            axes.axvline(start + 0.5, color="#b2182b", linewidth=0.8)
        ptm = f"pTM {model.ptm:.2f}" if model.ptm is not None else "pTM n/a"
        axes.set_title(f"rank {rank + 1}: {model.name}\n{ptm}", fontsize=9)
        axes.set_xlabel("Scored residue", fontsize=8)
        axes.set_ylabel("Aligned residue", fontsize=8)
        axes.tick_params(labelsize=7)
    for axes in list(grid.flat)[len(with_pae):]:
        axes.set_visible(False)
    figure.colorbar(image, ax=grid, shrink=0.85, label="Expected position error (\u00c5)")
    figure.suptitle(title)
    return _png(figure)


@dataclass(frozen=True, eq=False)
class MsaCoverage:
    """Per-sequence identity to the query and per-position depth of an MSA.

    ``identity`` [N] is the fraction of query positions where the sequence has the
    query's residue (gaps count as differences, as ColabFold counts them);
    ``aligned`` [N, L] says where a sequence is not a gap; ``depth`` [L] counts them.
    """

    identity: np.ndarray
    aligned: np.ndarray
    depth: np.ndarray

    @property
    def num_sequences(self) -> int:
        return int(self.identity.shape[0])

    @property
    def length(self) -> int:
        return int(self.depth.shape[0])


def msa_coverage(msa: np.ndarray) -> MsaCoverage:
    """Coverage of AlphaFold's raw ``msa`` feature [N, L] (query first, gap id 21)."""
    msa = np.asarray(msa)
    if msa.ndim != 2 or msa.shape[0] == 0:
        raise ValueError(f"msa must be [N, L] with N >= 1, got shape {msa.shape}")
    aligned = msa != MSA_GAP_ID
    identity = (msa == msa[0]).mean(axis=1)
    return MsaCoverage(identity=identity, aligned=aligned, depth=aligned.sum(axis=0))


def msa_coverage_plot(coverage: MsaCoverage, title: str) -> bytes:
    """ColabFold-style coverage: rows by identity (most identical on top), depth as a line."""
    order = np.argsort(coverage.identity, kind="stable")
    if order.size > MAX_DRAWN_ROWS:
        order = order[np.linspace(0, order.size - 1, MAX_DRAWN_ROWS).round().astype(int)]
    image = np.where(coverage.aligned[order], coverage.identity[order, None], np.nan)
    count, length = coverage.num_sequences, coverage.length
    figure = Figure(figsize=(10, 4.6), layout="constrained")
    axes = figure.add_subplot()
    shown = axes.imshow(image, cmap="rainbow_r", vmin=0, vmax=1, aspect="auto",
                        interpolation="nearest", origin="lower",
                        extent=(0.5, length + 0.5, 0, count))
    axes.plot(np.arange(1, length + 1), coverage.depth, color="black", linewidth=1.2,
              label="Sequences covering the position (depth)")
    axes.set_xlim(0.5, length + 0.5)
    axes.set_ylim(0, max(count, 1) * 1.02)
    axes.set_xlabel("Residue")
    axes.set_ylabel("Sequences")
    axes.set_title(f"{title}\n{count} sequences, "
                   f"median depth {int(np.median(coverage.depth))}")
    figure.legend(loc="outside lower center", fontsize=8)
    figure.colorbar(shown, ax=axes, label="Sequence identity to query")
    return _png(figure)
