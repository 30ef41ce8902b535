"""GitHub-flavoured markdown, shaped to review well in a pull request diff (one row per line)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from jinavdr.report.leaderboard import Leaderboard
from jinavdr.report.render.document import Section, Table, Text, build_document

__all__ = ["escape", "render_markdown"]

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


def _cell(text: Text) -> str:
    body = escape(text.text)
    return f"**{body}**" if text.bold and body else body


def _table(table: Table) -> list[str]:
    lines = ["| " + " | ".join(escape(h) for h in table.headers) + " |"]
    lines.append("|" + "|".join("---:" if n else "---" for n in table.numeric) + "|")
    for row in table.rows:
        lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return lines


def _section(section: Section, images: Mapping[str, Path]) -> list[str]:
    lines = ["#" * section.level + " " + escape(section.title), ""]
    for paragraph in section.paragraphs:
        lines += [escape(paragraph), ""]
    if section.table is not None:
        lines += [*_table(section.table), ""]
    for note in section.notes:
        lines += [escape(note), ""]
    if section.image is not None:
        alt, kind = section.image
        lines += [f"![{escape(alt)}]({images[kind].name})", ""]
    if section.bullets:
        lines += [*(f"- {escape(b)}" for b in section.bullets), ""]
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
