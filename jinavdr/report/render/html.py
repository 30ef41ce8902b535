"""One static, self-contained HTML page (inline CSS, charts embedded as data URIs, all text escaped)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from html import escape as _esc
from pathlib import Path

from jinavdr.report.leaderboard import Leaderboard
from jinavdr.report.render.document import Section, Table, Text, build_document

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:80rem;
padding:0 1rem;color:#1f2328;line-height:1.45}
table{border-collapse:collapse;margin:0.5rem 0 1.5rem;font-size:0.9rem}
th,td{border:1px solid #d0d7de;padding:0.25rem 0.5rem;vertical-align:top}
th{background:#f6f8fa}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
code{background:#f6f8fa;padding:0 0.2rem}
img{max-width:100%}
""".strip()


def _inline(text: str) -> str:
    """Escape plain text; spans between backticks become <code>."""
    parts = text.split("`")
    if len(parts) % 2 == 0:
        return _esc(text)
    return "".join(f"<code>{_esc(p)}</code>" if i % 2 else _esc(p) for i, p in enumerate(parts))


def _cell(tag: str, text: Text, numeric: bool) -> str:
    cls = ' class="num"' if numeric else ""
    body = _inline(text.text)
    if text.bold and body:
        body = f"<strong>{body}</strong>"
    return f"<{tag}{cls}>{body}</{tag}>"


def _table(table: Table) -> list[str]:
    head = "".join(_cell("th", Text(h), n) for h, n in zip(table.headers, table.numeric, strict=True))
    lines = ["<table>", f"<thead><tr>{head}</tr></thead>", "<tbody>"]
    for row in table.rows:
        lines.append(
            "<tr>" + "".join(_cell("td", c, n) for c, n in zip(row, table.numeric, strict=True)) + "</tr>"
        )
    lines += ["</tbody>", "</table>"]
    return lines


def _image(alt: str, path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<p><img alt="{_esc(alt)}" src="data:image/png;base64,{data}"></p>'


def _section(section: Section, images: Mapping[str, Path]) -> list[str]:
    tag = f"h{section.level}"
    lines = [f"<{tag}>{_inline(section.title)}</{tag}>"]
    lines += [f"<p>{_inline(p)}</p>" for p in section.paragraphs]
    if section.table is not None:
        lines += _table(section.table)
    lines += [f"<p>{_inline(p)}</p>" for p in section.notes]
    if section.image is not None:
        alt, kind = section.image
        lines.append(_image(alt, images[kind]))
    if section.bullets:
        lines += ["<ul>", *(f"<li>{_inline(b)}</li>" for b in section.bullets), "</ul>"]
    return lines


def render_html(board: Leaderboard, images: Mapping[str, Path] | None = None) -> str:
    images = images or {}
    doc = build_document(board, images)
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f"<title>{_esc(doc.title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_inline(doc.title)}</h1>",
        *(f"<p>{_inline(p)}</p>" for p in doc.intro),
    ]
    for section in doc.sections:
        lines += _section(section, images)
    lines += ["</body>", "</html>"]
    return "\n".join(lines) + "\n"
