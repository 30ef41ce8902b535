"""One static, self-contained HTML page (inline CSS, charts embedded as data URIs, all text escaped).

Tables are drawn by pandas (``DataFrame.to_html``) from cells escaped here.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from html import escape as _esc
from pathlib import Path

from jinavdr.report.leaderboard import Leaderboard
from jinavdr.report.render.document import Section, Table, Text, build_document

__all__ = ["html_table", "render_html"]

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


def _body(text: Text) -> str:
    body = _inline(text.text)
    if text.href and body:
        body = f'<a href="{_esc(text.href)}">{body}</a>'
    return f"<strong>{body}</strong>" if text.bold and body else body


def _numeric_cells(html: str, numeric: tuple[bool, ...]) -> str:
    """Mark the cells of numeric columns ``class="num"`` (right-aligned) in pandas' table HTML."""
    out, column = [], 0
    for line in html.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("<tr"):
            column = 0
        elif stripped.startswith(("<td", "<th")):
            tag = stripped[1:3]
            if column < len(numeric) and numeric[column]:
                line = line.replace(f"<{tag}>", f'<{tag} class="num">', 1)
            column += 1
        out.append(line)
    return "\n".join(out)


def html_table(table: Table) -> list[str]:
    """The table drawn by pandas (``DataFrame.to_html``) from cells this module escaped."""
    import pandas as pd

    frame = pd.DataFrame([[_body(c) for c in row] for row in table.rows], columns=[_inline(h) for h in table.headers])
    html = frame.to_html(index=False, escape=False, border=0, classes="scores", na_rep="")
    lines = [f"<p><em>{_inline(table.caption)}</em></p>"] if table.caption else []
    return lines + _numeric_cells(html, table.numeric).splitlines()


def _image(alt: str, path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<p><img alt="{_esc(alt)}" src="data:image/png;base64,{data}"></p>'


def _section(section: Section, images: Mapping[str, Path]) -> list[str]:
    tag = f"h{section.level}"
    lines = [f"<{tag}>{_inline(section.title)}</{tag}>"]
    lines += [f"<p>{_inline(p)}</p>" for p in section.paragraphs]
    for table in section.tables:
        lines += html_table(table)
    lines += [f"<p>{_inline(p)}</p>" for p in section.notes]
    if section.image is not None:
        alt, kind = section.image
        lines.append(_image(alt, images[kind]))
    if section.bullets:
        lines += ["<ul>", *(f"<li>{_inline(b)}</li>" for b in section.bullets), "</ul>"]
    for summary, text in section.details:
        lines.append(f"<details><summary>{_esc(summary)}</summary><pre><code>{_esc(text)}</code></pre></details>")
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
