"""Leaderboards and gate comparisons as pandas frames: the tidy frame and its pivots.

The tidy schema is :data:`jinavdr.results.frame.FRAME_COLUMNS` (values are fractions). This module
reads a leaderboard or a comparison by attribute only (it imports neither, so both can offer
``to_pandas()`` without an import cycle).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jinavdr.errors import UnknownNameError
from jinavdr.report.references import AVERAGE_SUBSET
from jinavdr.results.frame import FrameRow, catalogue_labels, frame_from_rows, subset_language

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["PIVOTS", "comparison_frame", "language_label", "leaderboard_frame", "leaderboard_pivot"]

#: Tables :func:`leaderboard_pivot` builds, and the leaderboard rows each one reads.
PIVOTS = {
    "dataset": ("dataset_rows", "dataset"),
    "language": ("language_means", "language"),
    "dataset_language": ("language_rows", "dataset / language"),
    "domain": ("domain_means", "domain"),
    "format": ("format_means", "format"),
}


def language_label(subset: str) -> str:
    """How a language subset is shown: its ISO 639-1 code (``jp`` -> ``ja``); other names unchanged."""
    return subset_language(subset) or subset


def _measured_rows(board: Any, col: Any, info: Any, labels: Any, main_only: bool) -> list[FrameRow]:
    metric = board.options.metric
    present = [s for s in info.subsets if (info.name, s) in col.scores]
    coverage = len(present) / len(info.subsets)
    rows = []
    for subset in present:
        key = (info.name, subset)
        metrics = col.metrics.get(key) or {metric: col.scores[key]}
        per_query = col.per_query.get(key)
        for name in sorted(metrics):
            if main_only and name != metric:
                continue
            rows.append(
                FrameRow(
                    model=col.label, model_slug=col.slug, protocol=col.protocol, dataset=info.name,
                    subset=subset, language=subset_language(subset, labels.languages if labels else None),
                    domain=info.domain, format=info.document_format, metric=name,
                    value=float(metrics[name]), n_queries=len(per_query) if per_query else None,
                    coverage=coverage, reference=False, source=col.source,
                )
            )
    return rows


def _reference_rows(board: Any, col: Any, info: Any, labels: Any) -> list[FrameRow]:
    metric = board.options.metric
    present = [s for s in info.subsets if (info.name, s) in col.scores]
    values = [(s, col.scores[(info.name, s)]) for s in present]
    coverage = len(present) / len(info.subsets)
    if info.name in col.published and (len(info.subsets) > 1 or not present):
        # the paper's own dataset score: the single subset's score, or its average of the languages
        subset = info.subsets[0] if len(info.subsets) == 1 else AVERAGE_SUBSET
        values.append((subset, col.published[info.name]))
        coverage = 1.0 if len(info.subsets) == 1 or present == list(info.subsets) else coverage
    return [
        FrameRow(
            model=col.label, model_slug=col.slug, protocol=col.protocol, dataset=info.name, subset=subset,
            language="" if subset == AVERAGE_SUBSET else subset_language(
                subset, labels.languages if labels else None
            ),
            domain=info.domain, format=info.document_format, metric=metric, value=float(value),
            n_queries=None, coverage=coverage, reference=True, source=col.source,
        )
        for subset, value in values
    ]


def leaderboard_frame(board: Any, *, main_only: bool = False, catalogue: Any | None = None) -> pd.DataFrame:
    """The tidy frame of a :class:`~jinavdr.report.leaderboard.Leaderboard` (see ``to_pandas``)."""
    lookup = catalogue_labels(catalogue)
    rows: list[FrameRow] = []
    for col in board.columns:
        for info in board.datasets:
            labels = lookup(info.name)
            if col.is_reference:
                rows.extend(_reference_rows(board, col, info, labels))
            else:
                rows.extend(_measured_rows(board, col, info, labels, main_only))
    return frame_from_rows(rows)


def _cell_value(cell: Any) -> float:
    return float(cell.value) if cell.complete else math.nan


def leaderboard_pivot(board: Any, table: str = "dataset") -> pd.DataFrame:
    """Rows x model labels of one leaderboard table, complete scores as fractions, else NaN."""
    import pandas as pd

    if table not in PIVOTS:
        raise UnknownNameError("leaderboard table", table, PIVOTS)
    attribute, index_name = PIVOTS[table]
    rows: Sequence[Any] = getattr(board, attribute)
    labels = [language_label(r.label) for r in rows] if table == "language" else [r.label for r in rows]
    if table == "dataset_language":
        labels = [_dataset_language_label(r.label) for r in rows]
    data = [[_cell_value(c) for c in r.cells] for r in rows]
    frame = pd.DataFrame(data, index=pd.Index(labels, name=index_name), columns=[c.label for c in board.columns])
    frame.columns.name = "model"
    return frame


def _dataset_language_label(label: str) -> str:
    dataset, sep, subset = label.rpartition(" / ")
    return f"{dataset}{sep}{language_label(subset)}" if sep else label


# --------------------------------------------------------------------------------------------------
# The gate
# --------------------------------------------------------------------------------------------------


def comparison_frame(comparison: Any, *, catalogue: Any | None = None) -> pd.DataFrame:
    """A gate comparison as one row per compared dataset x subset (main metric; fractions).

    Columns: ``dataset, subset, language, metric, baseline, candidate, delta`` (candidate - baseline,
    fraction), ``n_queries_baseline, n_queries_candidate, p_value`` (unadjusted, None when untested),
    ``dataset_p_holm`` and ``dataset_verdict`` (the dataset's verdict label and status).
    """
    import pandas as pd

    lookup = catalogue_labels(catalogue)
    records = []
    for ds in comparison.datasets:
        labels = lookup(ds.dataset)
        for s in ds.subsets:
            records.append(
                {
                    "dataset": ds.dataset,
                    "subset": s.subset,
                    "language": subset_language(s.subset, labels.languages if labels else None),
                    "metric": comparison.main_metric,
                    "baseline": float(s.baseline),
                    "candidate": float(s.candidate),
                    "delta": float(s.candidate - s.baseline),
                    "n_queries_baseline": s.n_queries[0],
                    "n_queries_candidate": s.n_queries[1],
                    "p_value": s.p_value,
                    "dataset_p_holm": ds.verdict.p_adjusted,
                    "dataset_verdict": ds.verdict.label,
                    "dataset_status": ds.verdict.status,
                }
            )
    columns = [
        "dataset", "subset", "language", "metric", "baseline", "candidate", "delta", "n_queries_baseline",
        "n_queries_candidate", "p_value", "dataset_p_holm", "dataset_verdict", "dataset_status",
    ]  # fmt: skip
    frame = pd.DataFrame.from_records(records, columns=columns)
    return frame.astype({"p_value": "float64", "dataset_p_holm": "float64"})
