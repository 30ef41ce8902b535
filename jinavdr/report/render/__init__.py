"""Renderers of a :class:`jinavdr.report.leaderboard.Leaderboard`: markdown, HTML and CSV.

Every renderer is a pure function of the leaderboard (and chart images): the same inputs give
byte-identical output.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from jinavdr.errors import UnknownNameError
from jinavdr.report.leaderboard import Leaderboard

__all__ = ["FORMATS", "format_for", "render", "write_output"]

FORMATS = ("md", "html", "csv")


def render(board: Leaderboard, fmt: str = "md", images: Mapping[str, Path] | None = None) -> str:
    """The leaderboard as text in ``fmt``; ``images`` maps chart kind ("means", "languages") to a
    PNG path (markdown links it by file name, HTML embeds it, CSV ignores it)."""
    if fmt == "md":
        from jinavdr.report.render.markdown import render_markdown

        return render_markdown(board, images)
    if fmt == "html":
        from jinavdr.report.render.html import render_html

        return render_html(board, images)
    if fmt == "csv":
        from jinavdr.report.render.csv import render_csv

        return render_csv(board)
    raise UnknownNameError("format", fmt, FORMATS)


def write_output(
    board: Leaderboard, output: str | Path, fmt: str | None = None, *, charts: bool = True
) -> list[Path]:
    """Write the leaderboard to ``output`` (format from ``fmt`` or the file suffix) and, for markdown
    and HTML with ``charts``, its PNG charts next to it. Returns every path written."""
    from jinavdr.results.store import write_atomic

    output = Path(output)
    fmt = fmt or format_for(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    images: dict[str, Path] = {}
    if charts and fmt in ("md", "html"):
        from jinavdr.report.charts import write_charts

        images = write_charts(board, output)
    write_atomic(output, render(board, fmt, images))
    output.chmod(0o644)  # the temporary file was private; the leaderboard is meant to be shared
    return [output, *images.values()]


def format_for(path: str | Path) -> str:
    """``.html``/``.htm`` -> html, ``.csv`` -> csv, anything else -> md."""
    suffix = Path(path).suffix.lower()
    return {".html": "html", ".htm": "html", ".csv": "csv"}.get(suffix, "md")
