"""The leaderboard as a format-neutral document: sections of paragraphs, tables and bullet lists.

Markdown and HTML render the same :class:`Document`, so both always show the same numbers, marks
and legends. Text here is plain (renderers escape it); bold is a cell attribute.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jinavdr.report.format import in_points, metric_label, points, shown, signed
from jinavdr.report.leaderboard import Cell, Column, Leaderboard, Row

__all__ = ["Document", "Section", "Table", "Text", "build_document", "fmt_score"]

#: Marks and what they mean (a legend lists only the marks that occur).
TIE = "≈"
PARTIAL = "†"
UNRANKED = "‡"
NO_PER_QUERY = "§"
MISSING = "—"

VECTOR_NAMES = {"single": "single-vector", "multi": "multi-vector", "lexical": "lexical", "?": "?"}


@dataclass(frozen=True)
class Text:
    text: str
    bold: bool = False


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    numeric: tuple[bool, ...]  # right-aligned columns
    rows: tuple[tuple[Text, ...], ...]


@dataclass(frozen=True)
class Section:
    title: str
    level: int = 2
    paragraphs: tuple[str, ...] = ()
    image: tuple[str, str] | None = None  # (alt text, chart kind)
    table: Table | None = None
    notes: tuple[str, ...] = ()  # paragraphs after the table (legends)
    bullets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    title: str
    intro: tuple[str, ...]
    sections: tuple[Section, ...]


def fmt_score(value: float | None) -> str:
    return MISSING if value is None else points(value)


def _cell_text(cell: Cell) -> Text:
    if cell.value is None:
        return Text(MISSING)
    text = fmt_score(cell.value)
    if cell.n != cell.expected:
        text += f" ({cell.n}/{cell.expected})"
    if cell.tied:
        text += f" {TIE}"
    return Text(text, bold=cell.best)


def _label(column: Column) -> str:
    return column.label


def _score_table(first: str, columns: Sequence[Column], rows: Sequence[Row], detail: str | None) -> Table:
    headers = (first,) + ((detail,) if detail else ()) + tuple(_label(c) for c in columns)
    numeric = (False,) + ((True,) if detail else ()) + (True,) * len(columns)
    body = []
    for row in rows:
        lead = (Text(row.label),) + ((Text(row.detail),) if detail else ())
        body.append(lead + tuple(_cell_text(c) for c in row.cells))
    return Table(headers, numeric, tuple(body))


def _used(rows: Sequence[Row]) -> tuple[bool, bool]:
    """(any tie mark, any partial cell) in ``rows``."""
    cells = [c for r in rows for c in r.cells]
    return any(c.tied for c in cells), any(c.value is not None and c.n != c.expected for c in cells)


# --------------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------------


def _summary_section(board: Leaderboard, metric: str, images: Mapping[str, Path]) -> Section:
    total = len(board.datasets)
    common = len(board.common)
    own_column = any(not r.ranked_on_common for r in board.summary) or (0 < common < total)
    score_header = f"{metric} (×100)" if common in (0, total) else f"{metric} on {common} common datasets"
    headers = ["Rank", "Model", "Vectors", score_header, f"{board.options.confidence:.0%} CI"]
    if own_column:
        headers.append(f"{metric} on own datasets")
    headers += ["Datasets", "Flags"]
    numeric = (True, False, False, True, True) + ((True,) if own_column else ()) + (True, False)
    marks: set[str] = set()
    rows = []
    for row in board.summary:
        col = board.columns[row.column]
        flags = []
        if not col.is_reference:
            if row.covered < row.total and row.ranked_on_common:
                flags.append(PARTIAL)
            if not row.ranked_on_common:
                flags.append(UNRANKED)
            if row.score.tied:
                flags.append(TIE)
            if col.scores and len(col.per_query) < len(col.scores):
                flags.append(NO_PER_QUERY)
        marks.update(flags)
        rank = "ref" if col.is_reference else (str(row.rank) if row.rank is not None else MISSING)
        ci = MISSING if row.ci is None else f"{fmt_score(row.ci[0])}–{fmt_score(row.ci[1])}"
        score = Text(fmt_score(row.score.value), bold=row.score.best)
        cells = [Text(rank), Text(col.label), Text(VECTOR_NAMES.get(col.vector, col.vector)), score, Text(ci)]
        if own_column:
            cells.append(Text(fmt_score(row.own.value)))
        cells += [Text(f"{row.covered}/{row.total}"), Text(" ".join(flags))]
        rows.append(tuple(cells))
    need = max(1, math.ceil(board.options.min_coverage * total))
    legend = []
    if PARTIAL in marks:
        legend.append(
            f"{PARTIAL} covers fewer than all {total} datasets: every ranked model is ranked on the "
            f"{common} datasets all ranked models cover."
        )
    if UNRANKED in marks:
        legend.append(
            f"{UNRANKED} unranked: covers fewer than {need} of {total} datasets "
            f"(--min-coverage {board.options.min_coverage:g}); its score is the mean over its own datasets."
        )
    if TIE in marks:
        legend.append(
            f"{TIE} not significantly different from rank 1 (paired randomisation test over queries, "
            f"Holm-adjusted p ≥ {board.options.alpha:g})."
        )
    if NO_PER_QUERY in marks:
        legend.append(
            f"{NO_PER_QUERY} some scores lack per-query values: no confidence interval or test for them."
        )
    paragraphs = [
        ("Bold: rank 1. " if any(r.rank == 1 for r in board.summary) else "")
        + f"CI: {board.options.confidence:.0%} percentile bootstrap over queries "
        f"(stratified by subset, {board.options.n_bootstrap} resamples, seed {board.options.seed})."
    ]
    if any(c.is_reference for c in board.columns):
        paragraphs.append(
            "[paper] rows are published numbers, not re-measured; they were produced with the paper's "
            "protocol and take no rank."
        )
    image = ("Benchmark means with confidence intervals", "means") if "means" in images else None
    return Section(
        "Summary",
        paragraphs=tuple(paragraphs),
        image=image,
        table=Table(tuple(headers), numeric, tuple(rows)),
        notes=tuple(legend),
    )


def _dataset_section(board: Leaderboard, metric: str) -> Section:
    tied, partial = _used(board.dataset_rows)
    paragraphs = (
        f"{metric} ×100 per dataset (a multilingual dataset: unweighted mean of its languages). "
        "Bold: best measured score (all equal best scores are bold).",
    )
    legend = []
    if tied:
        legend.append(
            f"{TIE} not significantly different from the dataset's best (paired randomisation test over "
            f"queries, Holm-adjusted within the dataset, p ≥ {board.options.alpha:g})."
        )
    if partial:
        legend.append("(n/N): only n of the dataset's N subsets were run; not counted in any mean.")
    return Section(
        "Per dataset",
        paragraphs=paragraphs,
        table=_score_table("Dataset", board.columns, board.dataset_rows, None),
        notes=tuple(legend),
    )


def _language_sections(board: Leaderboard, metric: str, images: Mapping[str, Path]) -> list[Section]:
    if not board.language_rows:
        return []
    image = ("Per-language heatmap", "languages") if "languages" in images else None
    return [
        Section(
            "Per language",
            paragraphs=(
                f"Multilingual datasets only. Mean {metric} ×100 per language over the multilingual datasets "
                "that have it; (n/N): the model has n of those N datasets.",
            ),
            image=image,
            table=_score_table("Language", board.columns, board.language_means, "Datasets"),
        ),
        Section(
            "Per dataset and language",
            level=3,
            table=_score_table("Dataset / language", board.columns, board.language_rows, None),
        ),
    ]


def _group_section(title: str, first: str, board: Leaderboard, rows: Sequence[Row], metric: str) -> Section:
    return Section(
        title,
        paragraphs=(
            f"Mean {metric} ×100 over the datasets of each group that the model covers; "
            "(n/N): n of the group's N datasets.",
        ),
        table=_score_table(first, board.columns, rows, "Datasets"),
    )


def _comparison_sections(board: Leaderboard, metric: str) -> list[Section]:
    if not board.comparisons:
        return []
    sections = [
        Section(
            "Compared with published numbers",
            paragraphs=(
                "Each measured model next to its published counterpart, on the datasets both have. "
                "Δ = measured − published, from the values as shown. The paper scored the QA copies "
                "with its own protocol, so small differences are expected (see docs/leaderboard.md).",
            ),
        )
    ]
    for comp in board.comparisons:
        measured, ref = board.columns[comp.column], board.columns[comp.reference]
        rows = []
        for r in comp.rows:
            m, p = shown(r.measured), shown(r.published)
            rows.append((Text(r.dataset), Text(in_points(m)), Text(in_points(p)), Text(signed(m - p))))
        m, p = shown(comp.measured_mean), shown(comp.published_mean)
        rows.append(
            (
                Text(f"Mean ({len(comp.rows)} datasets)", bold=True),
                Text(in_points(m), bold=True),
                Text(in_points(p), bold=True),
                Text(signed(m - p), bold=True),
            )
        )
        table = Table(("Dataset", measured.label, ref.label, "Δ"), (False, True, True, True), tuple(rows))
        sections.append(Section(f"{measured.label} vs {ref.label}", level=3, table=table))
    return sections


def _models_section(board: Leaderboard) -> Section:
    rows = []
    for col in board.measured:
        revision = col.revision or MISSING
        rows.append(
            tuple(
                Text(x)
                for x in (
                    col.label,
                    col.slug,
                    col.adapter,
                    col.model_id,
                    revision,
                    col.protocol,
                    col.source,
                    str(col.n_files),
                    f"`{col.settings}`",
                )
            )
        )
    refs = sorted({c.source for c in board.columns if c.is_reference})
    paragraphs = ("Published numbers: " + "; ".join(refs) + ".",) if refs else ()
    headers = (
        "Model",
        "Slug",
        "Adapter",
        "Checkpoint",
        "Revision",
        "Protocol",
        "Source",
        "Files",
        "Settings",
    )
    return Section(
        "Models",
        paragraphs=paragraphs,
        table=Table(headers, (False,) * 7 + (True, False), tuple(rows)) if rows else None,
    )


def _method_section(board: Leaderboard) -> Section:
    o = board.options
    total = len(board.datasets)
    need = max(1, math.ceil(o.min_coverage * total))
    bullets = [
        "Dataset score: unweighted mean over the dataset's language subsets; a model covers a dataset "
        "when it has all of them.",
        f"Ranking: models covering at least {need} of {total} datasets are ranked by their mean over the "
        f"datasets all of them cover ({len(board.common)} here); ties in the shown score share a rank.",
        f"Significance: paired sign-flip randomisation test on per-query scores ({o.n_resamples} resamples, "
        f"seed {o.seed}, exact for up to 16 differing queries), Holm-adjusted, alpha {o.alpha:g}.",
        f"Confidence intervals: {o.confidence:.0%} percentile bootstrap over queries, stratified by subset "
        f"({o.n_bootstrap} resamples, seed {o.seed}).",
    ]
    return Section("Method", bullets=tuple(bullets + list(board.notes)))


def build_document(board: Leaderboard, images: Mapping[str, Path] | None = None) -> Document:
    images = images or {}
    metric = metric_label(board.options.metric)
    measured = board.measured
    what = f"the `{board.collection}` collection" if board.collection else "the expected datasets"
    intro = (
        f"{metric} ×100 on {len(board.datasets)} datasets of {what}: {len(measured)} measured "
        f"model{'s' if len(measured) != 1 else ''} from {board.n_files} result file"
        f"{'s' if board.n_files != 1 else ''}.",
        "Generated by `jinavdr leaderboard`; regenerate it rather than editing it.",
    )
    sections = [
        _summary_section(board, metric, images),
        _dataset_section(board, metric),
        *_language_sections(board, metric, images),
        _group_section("Per domain", "Domain", board, board.domain_means, metric),
        _group_section("Per document format", "Document format", board, board.format_means, metric),
        *_comparison_sections(board, metric),
        _models_section(board),
        _method_section(board),
    ]
    title = f"Leaderboard: {board.collection}" if board.collection else "Leaderboard"
    return Document(title=title, intro=intro, sections=tuple(sections))
