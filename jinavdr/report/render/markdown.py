"""GitHub-flavoured markdown, shaped to review well in a pull request diff (one row per line).

Tables are drawn by tabulate's ``pipe`` format (aligned columns, one row per line) from cells this
module escapes; links, bold and collapsible ``<details>`` blocks are the only markup added.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from jinavdr.report.leaderboard import Leaderboard
from jinavdr.report.render.document import Section, Table, Text, build_document

__all__ = ["escape", "pipe_table", "render_markdown"]

# Characters that would start markup; "_" only at a word edge (GFM ignores intraword "_"), "]" only
# where it could close a link ("](", "][", "]:"), so names like ``docqa_energy [paper]`` stay readable.
_SPECIAL = re.compile(r"([\\|*<>]|(?<!\w)_|_(?!\w)|\](?=[(\[:]))")


def escape(text: str) -> str:
    """Escape markdown syntax in plain text; spans between backticks stay inline code."""
    parts = text.split("`")
    if len(parts) % 2 == 0:  # unbalanced: treat every backtick literally
        return _SPECIAL.sub(r"\\\1", text).replace("`", "\\`")
    out = []
    for i, part in enumerate(parts):
        # a pipe inside a code span still ends a table cell in GFM, so it is escaped there too
        out.append("`" + part.replace("|", "\\|") + "`" if i % 2 else _SPECIAL.sub(r"\\\1", part))
    return "".join(out)


def _link_target(url: str) -> str:
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def _cell(text: Text) -> str:
    body = escape(text.text)
    if text.href and body:
        body = f"[{body}]({_link_target(text.href)})"
    return f"**{body}**" if text.bold and body else body


def pipe_table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool]) -> list[str]:
    """A GFM table of already escaped cells, drawn by tabulate (``pipe``): right-aligned numbers."""
    from tabulate import tabulate

    text = tabulate(
        [list(r) for r in rows] or [[""] * len(headers)],
        headers=list(headers),
        tablefmt="pipe",
        colalign=["right" if n else "left" for n in numeric],
        disable_numparse=True,
    )
    lines = text.splitlines()
    return lines if rows else lines[:2]


def _table(table: Table) -> list[str]:
    lines = [f"*{escape(table.caption)}*", ""] if table.caption else []
    body = [[_cell(c) for c in row] for row in table.rows]
    return lines + pipe_table([escape(h) for h in table.headers], body, table.numeric)


def _details(summary: str, text: str) -> list[str]:
    fence = "````" if "```" in text else "```"
    return [f"<details><summary>{html.escape(summary)}</summary>", "", f"{fence}json", text, fence, "", "</details>"]


def _section(section: Section, images: Mapping[str, Path]) -> list[str]:
    lines = ["#" * section.level + " " + escape(section.title), ""]
    for paragraph in section.paragraphs:
        lines += [escape(paragraph), ""]
    for table in section.tables:
        lines += [*_table(table), ""]
    for note in section.notes:
        lines += [escape(note), ""]
    if section.image is not None:
        alt, kind = section.image
        lines += [f"![{escape(alt)}]({images[kind].name})", ""]
    if section.bullets:
        lines += [*(f"- {escape(b)}" for b in section.bullets), ""]
    for summary, text in section.details:
        lines += [*_details(summary, text), ""]
    return lines


def render_markdown(board: Leaderboard, images: Mapping[str, Path] | None = None) -> str:
    images = images or {}
    doc = build_document(board, images)
    lines = [f"# {escape(doc.title)}", ""]
    for paragraph in doc.intro:
        lines += [escape(paragraph), ""]
    for section in doc.sections:
        lines += _section(section, images)
    return "\n".join(lines).rstrip("\n") + "\n"
