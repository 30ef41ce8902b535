"""The tidy DataFrame: the one in-memory table form of results.

One row per model x dataset x subset x metric, with the labels results are grouped by::

    model, model_slug, protocol, dataset, subset, language, domain, format, metric, value,
    n_queries, coverage, reference, source

- ``value`` is the metric on its stored scale, a fraction in [0, 1] (``ndcg_at_5`` 0.8123);
  displays show it x100 (:mod:`jinavdr.report.format`).
- ``language`` is an ISO 639-1 code (``ja``), while ``subset`` stays the data's id (``jp``).
- ``coverage`` is the fraction of the dataset's expected subsets the model has (1.0: complete).
- ``reference`` is True for published numbers (never for measured result files).

Rows are sorted by (model, protocol, dataset, subset, metric), so equal inputs give equal frames.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jinavdr.results.schema import ResultFile

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FRAME_COLUMNS", "FrameRow", "DatasetLabels", "catalogue_labels", "frame_from_rows", "results_frame"]

#: Columns of every tidy frame, in order.
FRAME_COLUMNS: tuple[str, ...] = (
    "model", "model_slug", "protocol", "dataset", "subset", "language", "domain", "format",
    "metric", "value", "n_queries", "coverage", "reference", "source",
)  # fmt: skip


@dataclass(frozen=True)
class DatasetLabels:
    """What the catalogue knows about a dataset: its expected subsets, their languages, its groups."""

    subsets: tuple[str, ...]
    languages: Mapping[str, str]  # subset -> ISO 639-1 code ("" when unknown or several)
    domain: str = ""
    document_format: str = ""


@dataclass(frozen=True)
class FrameRow:
    model: str
    model_slug: str
    protocol: str
    dataset: str
    subset: str
    language: str
    domain: str
    format: str
    metric: str
    value: float
    n_queries: int | None
    coverage: float
    reference: bool
    source: str


def subset_language(subset: str, known: Mapping[str, str] | None = None) -> str:
    """The ISO 639-1 code shown for ``subset``: the catalogue's, else the subset name normalised
    when it looks like a language code (``jp`` -> ``ja``), else ``""`` (``default``)."""
    from jinavdr.catalogue.tasks import normalize_language

    if known and known.get(subset):
        return known[subset]
    if subset == "default" or not subset.isalpha() or len(subset) not in (2, 3):
        return ""
    return normalize_language(subset)


def catalogue_labels(catalogue: Any | None = None) -> Callable[[str], DatasetLabels | None]:
    """A lookup dataset name -> :class:`DatasetLabels` from the catalogue (None when unknown)."""
    from jinavdr.errors import UnknownNameError

    if catalogue is None:
        from jinavdr.catalogue.tasks import load_catalogue

        catalogue = load_catalogue()
    cache: dict[str, DatasetLabels | None] = {}

    def lookup(name: str) -> DatasetLabels | None:
        if name not in cache:
            try:
                task = catalogue.get(name)
            except UnknownNameError:
                cache[name] = None
            else:
                cache[name] = DatasetLabels(
                    subsets=tuple(s.name for s in task.subsets),
                    languages={s.name: s.language or "" for s in task.subsets},
                    domain=task.domain,
                    document_format=task.document_format,
                )
        return cache[name]

    return lookup


def frame_from_rows(rows: Iterable[FrameRow]) -> pd.DataFrame:
    """The tidy frame of ``rows`` with :data:`FRAME_COLUMNS`, typed and sorted."""
    import pandas as pd

    records = [tuple(getattr(r, c) for c in FRAME_COLUMNS) for r in rows]
    frame = pd.DataFrame.from_records(records, columns=list(FRAME_COLUMNS))
    frame = frame.astype(
        {"value": "float64", "coverage": "float64", "reference": "bool", "n_queries": "Int64"}
    )
    frame = frame.sort_values(["model", "protocol", "dataset", "subset", "metric"], kind="stable")
    return frame.reset_index(drop=True)


def _rows_of(
    result: ResultFile, labels: DatasetLabels | None, metrics: Sequence[str] | None
) -> list[FrameRow]:
    expected = labels.subsets if labels else tuple(sorted(result.subsets))
    present = [s for s in expected if s in result.subsets] if labels else list(expected)
    coverage = len(present) / len(expected) if expected else 0.0
    rows = []
    for name in sorted(result.subsets):
        sub = result.subsets[name]
        language = subset_language(name, labels.languages if labels else None)
        for metric in sorted(sub.metrics):
            if metrics is not None and metric not in metrics:
                continue
            rows.append(
                FrameRow(
                    model=result.model, model_slug=result.model_slug, protocol=result.protocol,
                    dataset=result.dataset, subset=name, language=language,
                    domain=labels.domain if labels else "",
                    format=labels.document_format if labels else "",
                    metric=metric, value=float(sub.metrics[metric]), n_queries=sub.n_queries,
                    coverage=coverage, reference=False, source=result.manifest.source,
                )
            )
    return rows


def results_frame(
    results: Iterable[ResultFile],
    *,
    metrics: Sequence[str] | None = None,
    catalogue: Any | None = None,
) -> pd.DataFrame:
    """The tidy frame of result files (every metric, or only ``metrics``).

    Labels (languages, domain, format, expected subsets) come from the catalogue; a dataset it does
    not know (a local folder) gets empty labels and is covered by the subsets found.
    """
    lookup = catalogue_labels(catalogue)
    rows: list[FrameRow] = []
    for result in results:
        rows.extend(_rows_of(result, lookup(result.dataset), metrics))
    return frame_from_rows(rows)
