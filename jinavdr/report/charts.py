"""PNG charts of a leaderboard: benchmark means with CI error bars, and a per-language heatmap.

The means chart never puts means over different datasets on one axis: each panel holds models that
all cover the panel's datasets and shows their means over exactly those (the ranked models on their
common datasets; each unranked model on the datasets it covers, next to every model, measured or
published, that covers them too). Labels carry coverage, ``(3/43)``; a legend appears only where a
panel mixes measured and published bars.

Drawn with matplotlib's Agg canvas directly (no pyplot, no global backend switch), imported only
when a chart is made. Output is stable: fixed size, dpi and style; PNG metadata (Software, dates)
is left out, so the same leaderboard gives the same bytes with the same matplotlib version.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinavdr.errors import MissingDependencyError
from jinavdr.report.format import in_points, metric_label, to_points
from jinavdr.report.frames import language_label
from jinavdr.report.leaderboard import Leaderboard

__all__ = [
    "Bar",
    "Panel",
    "chart_paths",
    "heatmap_cells",
    "language_heatmap",
    "means_chart",
    "means_panels",
    "write_charts",
]

_DPI = 100
_STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "svg.hashsalt": "jinavdr",
    "figure.dpi": _DPI,
    "savefig.dpi": _DPI,
}
_MEASURED, _REFERENCE = "#2f6db5", "#9aa5b1"


def _matplotlib() -> tuple[Any, Any, Any]:
    try:
        import matplotlib
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise MissingDependencyError("leaderboard charts (--charts)", "plots", "matplotlib") from None
    return matplotlib, Figure, FigureCanvasAgg


def _save(fig: Any, canvas_cls: Any, path: Path) -> None:
    canvas_cls(fig)
    fig.savefig(path, format="png", dpi=_DPI, metadata={"Software": None})


@dataclass(frozen=True)
class Bar:
    """One model in a panel: its mean over the panel's datasets (fraction) and CI, if known."""

    label: str
    value: float
    reference: bool
    ci: tuple[float, float] | None = None


@dataclass(frozen=True)
class Panel:
    """Models drawn together: each has every one of ``datasets``, and is shown by its mean over them."""

    title: str
    datasets: tuple[str, ...]
    bars: tuple[Bar, ...]


def _coverage_label(board: Leaderboard, column: int) -> str:
    col = board.columns[column]
    return f"{col.label} ({len(board.covered(column))}/{len(board.datasets)})"


def _panel(board: Leaderboard, title: str, datasets: tuple[str, ...], cis: dict[int, tuple[float, float]]) -> Panel:
    bars = []
    for i, col in enumerate(board.columns):
        value = board.mean_over(i, datasets)
        if value is not None:
            bars.append(Bar(_coverage_label(board, i), value, col.is_reference, cis.get(i)))
    bars.sort(key=lambda b: (-round(b.value * 100, 2), b.reference, b.label.casefold()))
    return Panel(title, datasets, tuple(bars))


def _names(datasets: tuple[str, ...]) -> str:
    return ", ".join(datasets) if len(datasets) <= 4 else f"{len(datasets)} datasets"


def means_panels(board: Leaderboard) -> list[Panel]:
    """The groups the means chart draws, each on the datasets its models share (see module rules).

    1. The ranked models (and the references that cover their common datasets) on the common datasets.
    2. Each set of unranked models that cover the same datasets, with every other model, measured
       or published, that covers all of those datasets, recomputed on them.
    3. Without any ranked model: the published references on every dataset of the collection.
    A panel never mixes means over different datasets.
    """
    total = len(board.datasets)
    panels = []
    if board.common:
        cis = {r.column: r.ci for r in board.summary if r.ranked_on_common and r.ci is not None}
        title = f"Ranked on the {len(board.common)} of {total} datasets every ranked model covers"
        panels.append(_panel(board, title, board.common, cis))  # type: ignore[arg-type]
    groups: dict[tuple[str, ...], list[int]] = {}
    for row in board.summary:
        if board.columns[row.column].is_reference or row.ranked_on_common:
            continue
        covered = board.covered(row.column)
        if covered:
            groups.setdefault(covered, []).append(row.column)
    for datasets, members in sorted(groups.items(), key=lambda g: (-len(g[0]), g[0])):
        who = ", ".join(board.columns[i].label for i in members)
        verb = "it covers" if len(members) == 1 else "they cover"
        title = f"Unranked {who}: on the {len(datasets)} of {total} datasets {verb} ({_names(datasets)})"
        panels.append(_panel(board, title, datasets, {}))
    if not board.common and any(c.is_reference for c in board.columns):
        everything = tuple(d.name for d in board.datasets)
        refs = _panel(board, f"Published references on all {total} datasets", everything, {})
        if refs.bars:
            panels.append(refs)
    return [p for p in panels if p.bars]


def _draw_panel(ax: Any, panel: Panel, board: Leaderboard) -> None:
    from matplotlib.patches import Patch

    ypos = list(range(len(panel.bars)))[::-1]
    values = [to_points(b.value) for b in panel.bars]
    colours = [_REFERENCE if b.reference else _MEASURED for b in panel.bars]
    ax.barh(ypos, values, color=colours, height=0.6)
    ends = {}
    with_ci = [(y, b) for y, b in zip(ypos, panel.bars, strict=True) if b.ci is not None]
    if with_ci:
        ax.errorbar(
            [to_points(b.value) for _, b in with_ci],
            [y for y, _ in with_ci],
            xerr=[[max(0.0, to_points(b.value - b.ci[0])) for _, b in with_ci],  # type: ignore[index]
                  [max(0.0, to_points(b.ci[1] - b.value)) for _, b in with_ci]],  # type: ignore[index]
            fmt="none", ecolor="#333333", capsize=3, linewidth=1,
        )
        ends = {y: to_points(b.ci[1]) for y, b in with_ci}  # type: ignore[index]
    for y, v in zip(ypos, values, strict=True):
        ax.text(max(ends.get(y, v), v) + 1.0, y, in_points(v), fontsize=8, va="center")
    ax.set_yticks(ypos, [b.label + (" [paper]" if b.reference and "[paper]" not in b.label else "")
                         for b in panel.bars])
    ax.set_xlim(0, 110)
    ax.set_xticks(range(0, 101, 20))
    ax.set_title(textwrap.fill(panel.title, 95), loc="right", fontsize=9)
    ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
    ax.set_axisbelow(True)
    kinds = {b.reference for b in panel.bars}
    if len(kinds) > 1:  # a legend only when it tells two kinds of bar apart
        handles = [Patch(color=_MEASURED, label="measured"), Patch(color=_REFERENCE, label="published [paper]")]
        ax.legend(handles=handles, loc="lower right", fontsize=8, frameon=False)


def means_chart(board: Leaderboard, path: str | Path) -> Path | None:
    """Horizontal bars of mean scores (x100), one panel per group of models sharing datasets
    (:func:`means_panels`); labels carry each model's coverage (datasets covered / collection).
    None when nothing is scored."""
    panels = means_panels(board)
    if not panels:
        return None
    matplotlib, Figure, Canvas = _matplotlib()
    path = Path(path)
    heights = [0.9 + 0.34 * len(p.bars) for p in panels]
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(9.0, 0.9 + sum(heights)), layout="constrained")
        axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
        for ax, panel in zip(axes, panels, strict=True):
            _draw_panel(ax, panel, board)
        cis = any(b.ci is not None for p in panels for b in p.bars)
        label = (
            f"{metric_label(board.options.metric)} ×100, mean over each panel's datasets; (n/N): datasets "
            f"covered of {len(board.datasets)}" + (f"; error bars: {board.options.confidence:.0%} bootstrap CI"
                                                  if cis else "")
        )
        axes[-1].set_xlabel(textwrap.fill(label, 100))
        fig.suptitle(f"Leaderboard: {board.collection}" if board.collection else "Leaderboard", fontsize=10)
        _save(fig, Canvas, path)
    return path


def heatmap_cells(board: Leaderboard) -> tuple[list[str], list[str], list[list[str | float | None]]]:
    """(model labels, language labels, cells) of the language heatmap.

    A cell is the mean (x100) when the model has every multilingual dataset with that language, so
    every number in a column is a mean over the same datasets; otherwise the text ``n/N`` (only n of
    the N datasets: no mean is drawn), or None when the model has none. Models without any cell are
    left out.
    """
    rows = board.language_means
    models: list[str] = []
    cells: list[list[str | float | None]] = []
    for i, col in enumerate(board.columns):
        line: list[str | float | None] = []
        for row in rows:
            cell = row.cells[i]
            if cell.value is None:
                line.append(None)
            elif cell.complete:
                line.append(to_points(cell.value))
            else:
                line.append(f"{cell.n}/{cell.expected}")
        if any(c is not None for c in line):
            models.append(col.label)
            cells.append(line)
    return models, [language_label(r.label) for r in rows], cells


def language_heatmap(board: Leaderboard, path: str | Path) -> Path | None:
    """Models x languages heatmap of the per-language means (x100); None without multilingual data.

    Only complete means are coloured (:func:`heatmap_cells`); a model with some of a language's
    datasets shows ``n/N`` on grey.
    """
    models, languages, cells = heatmap_cells(board)
    if not models:
        return None
    matplotlib, Figure, Canvas = _matplotlib()
    import numpy as np

    path = Path(path)
    data = np.array([[c if isinstance(c, float) else np.nan for c in line] for line in cells], dtype=float)
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(max(5.0, 1.5 + 0.55 * len(languages)) + 2.5, 1.4 + 0.45 * len(models)))
        ax = fig.add_subplot()
        cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#dddddd")
        image = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=0, vmax=100, aspect="auto")
        partial = False
        for i, line in enumerate(cells):
            for j, cell in enumerate(line):
                if isinstance(cell, float):
                    colour = "white" if cell < 60 else "black"
                    ax.text(j, i, f"{cell:.1f}", ha="center", va="center", fontsize=7, color=colour)
                elif isinstance(cell, str):
                    partial = True
                    ax.text(j, i, cell, ha="center", va="center", fontsize=7, color="#555555")
        ax.set_xticks(range(len(languages)), languages)
        ax.set_yticks(range(len(models)), models)
        note = "; n/N = only n of the N datasets, no mean drawn" if partial else ""
        ax.set_xlabel(f"language (mean over all multilingual datasets that have it{note})")
        ax.set_title(f"{metric_label(board.options.metric)} ×100 per language")
        fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
        fig.tight_layout()
        _save(fig, Canvas, path)
    return path


def chart_paths(output: str | Path) -> dict[str, Path]:
    """Where the charts of an output file go: next to it, prefixed by its stem (none for README/index)."""
    output = Path(output)
    prefix = "" if output.stem.lower() in ("readme", "index") else f"{output.stem}-"
    return {
        "means": output.with_name(f"{prefix}means.png"),
        "languages": output.with_name(f"{prefix}languages.png"),
    }


def write_charts(board: Leaderboard, output: str | Path) -> dict[str, Path]:
    """Draw every chart that has data next to ``output``; returns {kind: path} of those written."""
    paths = chart_paths(output)
    written = {}
    for kind, draw in (("means", means_chart), ("languages", language_heatmap)):
        result = draw(board, paths[kind])
        if result is not None:
            written[kind] = result
    return written
