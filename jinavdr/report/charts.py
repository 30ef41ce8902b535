"""PNG charts of a leaderboard: benchmark means with CI error bars, and a per-language heatmap.

Drawn with matplotlib's Agg canvas directly (no pyplot, no global backend switch), imported only
when a chart is made. Output is stable: fixed size, dpi and style; PNG metadata (Software, dates)
is left out, so the same leaderboard gives the same bytes with the same matplotlib version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinavdr.errors import MissingDependencyError
from jinavdr.report.format import in_points, metric_label, to_points
from jinavdr.report.leaderboard import Leaderboard

__all__ = ["chart_paths", "means_chart", "language_heatmap", "write_charts"]

_DPI = 100
_STYLE = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "svg.hashsalt": "jinavdr",
    "figure.dpi": _DPI,
    "savefig.dpi": _DPI,
}
_MEASURED, _REFERENCE, _UNRANKED = "#2f6db5", "#9aa5b1", "#c9d6e8"


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


def means_chart(board: Leaderboard, path: str | Path) -> Path | None:
    """Horizontal bars of the summary scores (x100) with CI error bars; None when nothing is scored."""
    rows = [r for r in board.summary if r.score.value is not None]
    if not rows:
        return None
    matplotlib, Figure, Canvas = _matplotlib()
    from matplotlib.patches import Patch

    path = Path(path)
    ypos = list(range(len(rows)))[::-1]
    labels, values, colours = [], [], []
    bars: list[tuple[int, float, float, float]] = []  # (y, value, minus, plus) of rows with a CI
    for y, r in zip(ypos, rows, strict=True):
        col = board.columns[r.column]
        value = to_points(r.score.value)  # type: ignore[arg-type]
        labels.append(col.label if r.ranked_on_common or col.is_reference else f"{col.label} (unranked)")
        values.append(value)
        colours.append(_REFERENCE if col.is_reference else (_MEASURED if r.ranked_on_common else _UNRANKED))
        if r.ci is not None:
            bars.append((y, value, max(0.0, value - to_points(r.ci[0])), max(0.0, to_points(r.ci[1]) - value)))
    ends = {y: v + plus for y, v, _, plus in bars}
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(8.0, 1.6 + 0.38 * len(rows)))
        ax = fig.add_subplot()
        ax.barh(ypos, values, color=colours, height=0.6)
        if bars:
            ax.errorbar(
                [b[1] for b in bars],
                [b[0] for b in bars],
                xerr=[[b[2] for b in bars], [b[3] for b in bars]],
                fmt="none",
                ecolor="#333333",
                capsize=3,
                linewidth=1,
            )
        for y, v in zip(ypos, values, strict=True):
            ax.text(ends.get(y, v) + 1.0, y, in_points(v), fontsize=8, va="center")
        ax.set_yticks(ypos, labels)
        ax.set_xlim(0, 110)
        ax.set_xticks(range(0, 101, 20))
        n = len(board.common) or len(board.datasets)
        ax.set_xlabel(
            f"{metric_label(board.options.metric)} ×100, mean over {n} datasets "
            f"(error bars: {board.options.confidence:.0%} bootstrap CI)"
        )
        ax.set_title(f"Leaderboard: {board.collection}" if board.collection else "Leaderboard")
        ax.grid(axis="x", color="#e5e5e5", linewidth=0.6)
        ax.set_axisbelow(True)
        kinds = [("ranked", _MEASURED), ("unranked", _UNRANKED), ("published [paper]", _REFERENCE)]
        handles = [Patch(color=c, label=name) for name, c in kinds if c in colours]
        ax.legend(handles=handles, loc="lower right", fontsize=8, frameon=False)
        fig.tight_layout()
        _save(fig, Canvas, path)
    return path


def language_heatmap(board: Leaderboard, path: str | Path) -> Path | None:
    """Models x languages heatmap of the per-language means (x100); None without multilingual data.

    A mean over only some of the datasets that have the language is marked ``*``.
    """
    rows = board.language_means
    if not rows:
        return None
    matplotlib, Figure, Canvas = _matplotlib()
    import numpy as np

    path = Path(path)
    # models with no multilingual score at all are left out
    keep = [i for i in range(len(board.columns)) if any(row.cells[i].value is not None for row in rows)]
    if not keep:
        return None
    columns = [board.columns[i].label for i in keep]
    data = np.full((len(columns), len(rows)), np.nan)
    complete = np.zeros((len(columns), len(rows)), dtype=bool)
    for j, row in enumerate(rows):
        for k, i in enumerate(keep):
            cell = row.cells[i]
            if cell.value is not None:
                data[k, j] = to_points(cell.value)
                complete[k, j] = cell.complete
    with matplotlib.rc_context(_STYLE):
        fig = Figure(figsize=(max(5.0, 1.5 + 0.55 * len(rows)) + 2.5, 1.4 + 0.45 * len(columns)))
        ax = fig.add_subplot()
        cmap = matplotlib.colormaps["viridis"].with_extremes(bad="#dddddd")
        image = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=0, vmax=100, aspect="auto")
        for i in range(len(columns)):
            for j in range(len(rows)):
                if not np.isnan(data[i, j]):
                    colour = "white" if data[i, j] < 60 else "black"
                    mark = "" if complete[i, j] else "*"
                    ax.text(
                        j, i, f"{data[i, j]:.1f}{mark}", ha="center", va="center", fontsize=7, color=colour
                    )
        ax.set_xticks(range(len(rows)), [r.label for r in rows])
        ax.set_yticks(range(len(columns)), columns)
        note = "; * = mean over only some of them" if not complete[~np.isnan(data)].all() else ""
        ax.set_xlabel(f"language (mean over the multilingual datasets that have it{note})")
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
