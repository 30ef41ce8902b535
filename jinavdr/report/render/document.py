"""The leaderboard as a format-neutral document: sections of paragraphs, tables and bullet lists.

Markdown and HTML render the same :class:`Document`, so both always show the same numbers, marks
and legends. Text here is plain (renderers escape it); bold is a cell attribute.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from jinavdr.models.facts import facts_for
from jinavdr.report.format import in_points, metric_label, points, shown, signed
from jinavdr.report.frames import language_label
from jinavdr.report.leaderboard import Cell, Column, Leaderboard, Row

if TYPE_CHECKING:
    import pandas as pd

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
    href: str | None = None  # a link target (the text is its label)


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    numeric: tuple[bool, ...]  # right-aligned columns
    rows: tuple[tuple[Text, ...], ...]
    caption: str = ""  # e.g. "Models 1-6 of 12" when a wide table is split

    def to_frame(self) -> pd.DataFrame:
        """The table's display strings as a DataFrame (headers as columns; bold and links dropped)."""
        import pandas as pd

        return pd.DataFrame([[c.text for c in row] for row in self.rows], columns=list(self.headers))


@dataclass(frozen=True)
class Section:
    title: str
    level: int = 2
    paragraphs: tuple[str, ...] = ()
    image: tuple[str, str] | None = None  # (alt text, chart kind)
    tables: tuple[Table, ...] = ()
    notes: tuple[str, ...] = ()  # paragraphs after the tables (legends)
    bullets: tuple[str, ...] = ()
    details: tuple[tuple[str, str], ...] = ()  # collapsible (summary, preformatted text) blocks


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


#: A table with more model columns than this is split into tables of at most this many models.
MAX_MODELS_PER_TABLE = 6


def _chunks(n: int, size: int = MAX_MODELS_PER_TABLE) -> list[range]:
    """``range(n)`` cut into the fewest near-equal parts of at most ``size``: 12 -> 6 + 6, 13 -> 5 + 4 + 4."""
    if n <= size:
        return [range(n)]
    parts = -(-n // size)
    out, start = [], 0
    for i in range(parts):
        stop = start + n // parts + (1 if i < n % parts else 0)
        out.append(range(start, stop))
        start = stop
    return out


def _score_tables(
    first: str,
    columns: Sequence[Column],
    rows: Sequence[Row],
    detail: str | None,
    label: Callable[[str], str] = str,
) -> tuple[Table, ...]:
    """One table of ``rows`` x models; with more than :data:`MAX_MODELS_PER_TABLE` models, several
    tables of consecutive models, each repeating the row labels (readable with a dozen models)."""
    parts = _chunks(len(columns))
    tables = []
    for part in parts:
        headers = (first,) + ((detail,) if detail else ()) + tuple(_label(columns[i]) for i in part)
        numeric = (False,) + ((True,) if detail else ()) + (True,) * len(part)
        body = []
        for row in rows:
            lead = (Text(label(row.label)),) + ((Text(row.detail),) if detail else ())
            body.append(lead + tuple(_cell_text(row.cells[i]) for i in part))
        caption = f"Models {part.start + 1}–{part.stop} of {len(columns)}" if len(parts) > 1 else ""
        tables.append(Table(headers, numeric, tuple(body), caption))
    return tuple(tables)


def _dataset_language(label: str) -> str:
    """``airbnb-synthetic / jp`` -> ``airbnb-synthetic / ja`` (the language as an ISO code)."""
    dataset, sep, subset = label.rpartition(" / ")
    return f"{dataset}{sep}{language_label(subset)}" if sep else label


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
    if common == total:
        score_header = f"{metric} (×100)"
    elif common:
        score_header = f"{metric} on {common} common datasets"
    else:  # nothing ranked: the column holds only means over every dataset
        score_header = f"{metric} on all {total} datasets"
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
        same_basis = row.ranked_on_common or (common == 0 and row.covered == row.total)
        if own_column and not same_basis:  # a mean over other datasets never shares the column
            score, own = Text(MISSING), fmt_score(row.own.value)
            if row.ci is not None:  # the interval belongs to the mean it was computed for
                own, ci = f"{own} ({ci})", MISSING
        else:
            score, own = Text(fmt_score(row.score.value), bold=row.score.best), fmt_score(row.own.value)
        cells = [Text(rank), Text(col.label), Text(VECTOR_NAMES.get(col.vector, col.vector)), score, Text(ci)]
        if own_column:
            cells.append(Text(own))
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
            f"(--min-coverage {board.options.min_coverage:g}); its mean (and CI) over its own datasets is in the own-datasets column."
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
        tables=(Table(tuple(headers), numeric, tuple(rows)),),
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
        tables=_score_tables("Dataset", board.columns, board.dataset_rows, None),
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
            tables=_score_tables("Language", board.columns, board.language_means, "Datasets", language_label),
        ),
        Section(
            "Per dataset and language",
            level=3,
            tables=_score_tables(
                "Dataset / language", board.columns, board.language_rows, None, _dataset_language
            ),
        ),
    ]


def _group_section(title: str, first: str, board: Leaderboard, rows: Sequence[Row], metric: str) -> Section:
    return Section(
        title,
        paragraphs=(
            f"Mean {metric} ×100 over the datasets of each group that the model covers; "
            "(n/N): n of the group's N datasets.",
        ),
        tables=_score_tables(first, board.columns, rows, "Datasets"),
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
        sections.append(Section(f"{measured.label} vs {ref.label}", level=3, tables=(table,)))
    return sections


#: Settings that are the model's identity or shown in their own column: left out of the compact column.
_SHOWN_ELSEWHERE = frozenset({"adapter", "model_id", "revision", "dtype", "max_pixels", "max_length", "vector"})


def _hub_link(model_id: str, revision: str | None) -> Text:
    """The pinned revision, linked to the checkpoint's files at it on the Hub (local paths: plain)."""
    hub = model_id.count("/") == 1 and not model_id.startswith((".", "/", "~"))
    if not revision:
        return Text(f"{MISSING} (unpinned)" if hub else MISSING)
    href = f"https://huggingface.co/{model_id}/tree/{revision}" if hub else None
    return Text(revision[:8], href=href)


def _vectors(col: Column, settings: Mapping[str, object]) -> str:
    """``single-vector, 2048 d``: the vector type and, where known, the size of each vector."""
    kind = VECTOR_NAMES.get(col.vector, col.vector)
    facts = facts_for(col.adapter)
    dim = settings.get("truncate_dim")
    if dim is None and facts is not None:
        dim = facts.multi_dim if col.vector == "multi" else facts.single_dim
    return f"{kind}, {dim} d" if isinstance(dim, int) else kind


def _max_input(settings: Mapping[str, object]) -> str:
    parts = []
    if isinstance(settings.get("max_pixels"), int):
        parts.append(f"{settings['max_pixels']:,} px")
    if isinstance(settings.get("max_length"), int):
        parts.append(f"{settings['max_length']:,} tokens")
    return ", ".join(parts) or MISSING


def _compact_settings(settings: Mapping[str, object]) -> str:
    """``k1=1.5, b=0.75``: the settings not shown in their own column (empty values left out)."""
    items = [
        f"{k}={v}" for k, v in sorted(settings.items()) if k not in _SHOWN_ELSEWHERE and v not in (None, "")
    ]
    return ", ".join(items) or MISSING


def _models_section(board: Leaderboard) -> Section:
    import json

    rows = []
    details = []
    for col in board.measured:
        settings = json.loads(col.settings or "{}")
        facts = facts_for(col.adapter)
        revision = col.revision or (settings.get("revision") if isinstance(settings.get("revision"), str) else None)
        rows.append(
            (
                Text(col.label),
                Text(col.model_id or MISSING),
                _hub_link(col.model_id, revision),
                Text((facts.params or "none") if facts else MISSING),
                Text(_vectors(col, settings)),
                Text(_max_input(settings)),
                Text(col.dtype or str(settings.get("dtype") or "default")),
                Text(col.protocol),
                Text(_compact_settings(settings)),
            )
        )
        full = {"slug": col.slug, "adapter": col.adapter, "source": col.source, "files": col.n_files,
                "settings": settings}
        details.append((f"{col.label}: full settings (JSON)", json.dumps(full, indent=2, sort_keys=True)))
    refs = sorted({c.source for c in board.columns if c.is_reference})
    paragraphs = (
        "Parameters and vector sizes as the model cards state them; dtype `default` is the adapter's "
        "(bfloat16 on GPU, float32 on CPU). Settings: those not in another column; the full record "
        "of each model follows.",
    ) if rows else ()
    if refs:
        paragraphs += ("Published numbers: " + "; ".join(refs) + ".",)
    headers = ("Model", "Checkpoint", "Revision", "Params", "Vectors", "Max input", "dtype", "Protocol", "Settings")
    return Section(
        "Models",
        paragraphs=paragraphs,
        tables=(Table(headers, (False,) * 9, tuple(rows)),) if rows else (),
        details=tuple(details),
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
