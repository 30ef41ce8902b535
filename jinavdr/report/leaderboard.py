"""The leaderboard as data: result files (+ published references) -> typed, ranked tables.

Renderers (:mod:`jinavdr.report.render`) and charts (:mod:`jinavdr.report.charts`) only format a
:class:`Leaderboard`; every number and every rule lives here. Scores are fractions; renderers show
them x100.

Rules (also in ``docs/leaderboard.md``)
--------------------------------------
- **Columns.** Result files with the same ``model_slug`` and ``protocol`` form one model. A
  published model (``--with-references``) is one more column, marked ``[paper]``.
- **Dataset score.** Unweighted mean of the dataset's expected subsets (languages). A model
  *covers* a dataset when it has every expected subset; a partly run dataset is shown with its
  subset count but counts nowhere else.
- **Ranking.** ``N`` = datasets of the collection. A measured model is *rankable* when it covers at
  least ``ceil(min_coverage * N)`` datasets (default 50 %). All rankable models are ranked by their
  mean over the *common set*: the datasets every rankable model covers. Others are listed unranked
  with the mean over what they cover. Ranks are competition ranks ("1, 1, 3") on the score as shown
  (x100, two decimals). References are placed by their score on the common set but take no rank.
- **Best per dataset.** The highest score as shown among the measured models that cover the
  dataset is bold; every model showing that same value is bold too.
- **Significance.** Per dataset, the best model (largest unrounded score among the bold ones that
  have per-query values) is compared with every other covering model that has per-query values by a
  paired sign-flip randomisation test (:func:`jinavdr.evaluation.aggregate.paired_test`, seeded) on
  query-level values weighted so that their sum is the dataset score (so languages count equally);
  p-values are Holm-adjusted within the dataset. Adjusted p >= alpha marks a tie with the best. The
  same test over the common set (each dataset weighted 1/|common|) compares every ranked model with
  rank 1.
- **Confidence intervals.** Percentile bootstrap over queries, stratified by subset: each subset's
  queries are resampled with replacement, then subset -> dataset -> benchmark means are taken as for
  the score. This measures how much the score depends on the sampled queries, for a fixed set of
  datasets.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from jinavdr.catalogue.tasks import MAIN_METRIC
from jinavdr.errors import ArgumentError, ResultsError, UnknownNameError
from jinavdr.evaluation.aggregate import (
    holm_bonferroni,
    mean,
    mean_of,
    pair_queries,
    paired_test,
    stratified_bootstrap_ci,
)
from jinavdr.report.format import shown
from jinavdr.report.references import ReferenceModel, pairing
from jinavdr.results.schema import ResultFile

if TYPE_CHECKING:
    from jinavdr.catalogue.tasks import Catalogue

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "Cell",
    "Column",
    "Comparison",
    "ComparisonRow",
    "DatasetInfo",
    "Leaderboard",
    "LeaderboardOptions",
    "LoadedResult",
    "Row",
    "SummaryRow",
    "RESULTS_COLLECTION",
    "build_leaderboard",
    "catalogue_namer",
    "collection_datasets",
    "infer_collection",
    "leaderboard_from_paths",
    "loaded_results",
]

SubsetKey = tuple[str, str]  # (dataset, subset)

#: Reference vector types (the paper's models).
_REFERENCE_VECTORS = {
    "bm25+ocr": "lexical",
    "colpali-v1.2": "multi",
    "jina-embeddings-v4 (multi-vector)": "multi",
}
_SIMILARITY_VECTORS = {"maxsim": "multi", "bm25": "lexical", "dot": "single", "cosine": "single"}


# --------------------------------------------------------------------------------------------------
# The model
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetInfo:
    """An expected dataset of the collection and the labels it is grouped by."""

    name: str
    subsets: tuple[str, ...]
    domain: str = ""
    document_format: str = ""
    multilingual: bool = False


@dataclass(frozen=True)
class LeaderboardOptions:
    """Everything that moves a number in the leaderboard (all have documented defaults)."""

    metric: str = MAIN_METRIC
    min_coverage: float = 0.5
    alpha: float = 0.05
    n_resamples: int = 10_000  # randomisation tests
    n_bootstrap: int = 1_000  # confidence intervals
    confidence: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_coverage <= 1.0:
            raise ArgumentError("min_coverage", f"must lie in [0, 1], got {self.min_coverage}")
        if not 0.0 < self.alpha < 1.0:
            raise ArgumentError("alpha", f"must lie strictly between 0 and 1, got {self.alpha}")
        for name in ("n_resamples", "n_bootstrap"):
            if getattr(self, name) < 1:
                raise ArgumentError(name, f"must be at least 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class LoadedResult:
    path: str
    result: ResultFile


@dataclass(frozen=True)
class Column:
    """One model of the leaderboard: measured (from result files) or a published reference."""

    key: str
    label: str
    is_reference: bool
    model: str
    vector: str  # "single" | "multi" | "lexical" | "?"
    slug: str = ""
    protocol: str = ""
    adapter: str = ""
    model_id: str = ""
    revision: str | None = None
    settings: str = ""  # compact sorted JSON of the manifest settings
    dtype: str | None = None  # the manifest's dtype (None: the adapter's default)
    source: str = ""  # "jinavdr" / "mteb" for measured models, the paper tables for references
    n_files: int = 0
    #: (dataset, subset) -> main-metric score.
    scores: Mapping[SubsetKey, float] = field(default_factory=dict)
    #: (dataset, subset) -> every metric of the subset (measured models only).
    metrics: Mapping[SubsetKey, Mapping[str, float]] = field(default_factory=dict)
    #: (dataset, subset) -> {query id: main-metric value}, where the result file has them.
    per_query: Mapping[SubsetKey, Mapping[str, float]] = field(default_factory=dict)
    #: dataset -> published dataset score (references only).
    published: Mapping[str, float] = field(default_factory=dict)
    #: the published model this measured model is compared with, if any.
    reference: str | None = None


@dataclass(frozen=True)
class Cell:
    """A score in a table: ``n`` of ``expected`` parts were available."""

    value: float | None
    n: int = 0
    expected: int = 0
    best: bool = False
    tied: bool = False  # not significantly different from the best
    p_value: float | None = None  # Holm-adjusted p against the best

    @property
    def complete(self) -> bool:
        return self.value is not None and self.n == self.expected


@dataclass(frozen=True)
class Row:
    """A table row: a label, an optional detail (e.g. dataset count) and one cell per column."""

    label: str
    cells: tuple[Cell, ...]
    detail: str = ""


@dataclass(frozen=True)
class SummaryRow:
    column: int  # index into Leaderboard.columns
    rank: int | None
    score: Cell  # mean over the common set (ranked/reference rows) or over own coverage
    ci: tuple[float, float] | None
    own: Cell  # mean over every dataset the model covers
    covered: int
    total: int
    ranked_on_common: bool


@dataclass(frozen=True)
class ComparisonRow:
    dataset: str
    measured: float
    published: float

    @property
    def delta(self) -> float:
        return self.measured - self.published


@dataclass(frozen=True)
class Comparison:
    column: int
    reference: int
    rows: tuple[ComparisonRow, ...]

    @property
    def measured_mean(self) -> float:
        return mean(r.measured for r in self.rows)

    @property
    def published_mean(self) -> float:
        return mean(r.published for r in self.rows)


@dataclass(frozen=True)
class Leaderboard:
    collection: str
    datasets: tuple[DatasetInfo, ...]
    columns: tuple[Column, ...]  # display order
    summary: tuple[SummaryRow, ...]
    common: tuple[str, ...]  # the datasets the ranking is computed on
    dataset_rows: tuple[Row, ...]
    language_rows: tuple[Row, ...]  # "dataset / language"
    language_means: tuple[Row, ...]
    domain_means: tuple[Row, ...]
    format_means: tuple[Row, ...]
    comparisons: tuple[Comparison, ...]
    notes: tuple[str, ...]
    options: LeaderboardOptions
    n_files: int

    @property
    def measured(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if not c.is_reference)

    def mean_over(self, column: int, datasets: Sequence[str]) -> float | None:
        """The unweighted mean of a column's dataset scores over ``datasets`` (names of this
        leaderboard), or None unless the column covers every one of them."""
        by_name = {d.name: d for d in self.datasets}
        cells = [_dataset_cell(self.columns[column], by_name[name]) for name in datasets]
        if not cells or not all(c.complete for c in cells):
            return None
        return _mean_cell({n: c.value for n, c in zip(datasets, cells, strict=True)}, datasets).value

    def covered(self, column: int) -> tuple[str, ...]:
        """The datasets a column covers (every expected subset present), in collection order."""
        return tuple(d.name for d in self.datasets if _dataset_cell(self.columns[column], d).complete)

    def to_pandas(self, *, main_only: bool = False, catalogue: Any | None = None) -> pd.DataFrame:
        """The tidy frame (:mod:`jinavdr.results.frame`) of every model shown, references included.

        Measured models give every recorded metric (``main_only``: the leaderboard's metric only);
        references give their published main-metric scores per subset, and a published dataset
        score without per-language numbers as the row of subset ``average``.
        """
        from jinavdr.report.frames import leaderboard_frame

        return leaderboard_frame(self, main_only=main_only, catalogue=catalogue)

    def pivot(self, table: str = "dataset") -> pd.DataFrame:
        """A table of the leaderboard as a pandas pivot: rows x model labels, scores as fractions
        (NaN: missing). ``table``: ``dataset``, ``language``, ``domain``, ``format`` or
        ``dataset_language``. Partial cells (some subsets missing) are NaN, as they count nowhere."""
        from jinavdr.report.frames import leaderboard_pivot

        return leaderboard_pivot(self, table)


# --------------------------------------------------------------------------------------------------
# Loading result files
# --------------------------------------------------------------------------------------------------


def loaded_results(paths: Iterable[str | Path]) -> list[LoadedResult]:
    """Every result file under ``paths`` with its path (:func:`jinavdr.results.store.load_results`)."""
    from jinavdr.results.store import read_result_file, result_paths

    return [LoadedResult(path=file.as_posix(), result=read_result_file(file)) for file in result_paths(paths)]


# --------------------------------------------------------------------------------------------------
# Expected datasets (the catalogue)
# --------------------------------------------------------------------------------------------------

#: Pseudo-collection: exactly the datasets and subsets found in the result files.
RESULTS_COLLECTION = "results"
#: Built-in collections tried, smallest first, when none is given.
_INFERENCE_ORDER = ("sample", "vidore-v2", "vidore-v1", "jinavdr")


def _catalogue(catalogue: Catalogue | None) -> Catalogue:
    if catalogue is not None:
        return catalogue
    from jinavdr.catalogue.tasks import load_catalogue

    return load_catalogue()


def infer_collection(results: Sequence[LoadedResult], catalogue: Catalogue | None = None) -> str:
    """The smallest built-in collection holding every dataset of ``results``, else ``results``."""
    names = {r.result.dataset for r in results}
    members = _catalogue(catalogue).collections
    for name in _INFERENCE_ORDER:
        if name in members and names <= set(members[name]):
            return name
    return RESULTS_COLLECTION


def collection_datasets(
    collection: str, results: Sequence[LoadedResult] = (), catalogue: Catalogue | None = None
) -> tuple[DatasetInfo, ...]:
    """The expected datasets of a collection (``results``: those found in the result files)."""
    cat = _catalogue(catalogue)
    if collection == RESULTS_COLLECTION:
        observed: dict[str, set[str]] = {}
        for r in results:
            observed.setdefault(r.result.dataset, set()).update(r.result.subsets)
        infos = []
        for name in sorted(observed):
            try:
                task = cat.get(name)
                domain, fmt = task.domain, task.document_format
            except UnknownNameError:
                domain = fmt = ""
            subsets = tuple(sorted(observed[name]))
            infos.append(DatasetInfo(name, subsets, domain, fmt, len(subsets) > 1))
        return tuple(infos)
    return tuple(
        DatasetInfo(t.name, tuple(s.name for s in t.subsets), t.domain, t.document_format, t.multilingual)
        for t in cat.collection(collection)
    )


def catalogue_namer(catalogue: Catalogue | None = None) -> Callable[[str], str]:
    """Published dataset name -> catalogue task name (unchanged when the catalogue does not know it)."""
    cat = _catalogue(catalogue)

    def rename(name: str) -> str:
        try:
            return cat.get(name).name
        except UnknownNameError:
            return name

    return rename


# --------------------------------------------------------------------------------------------------
# Columns
# --------------------------------------------------------------------------------------------------


def _vector_type(adapter: str, settings: Mapping[str, Any]) -> str:
    vector = settings.get("vector")
    if vector in ("single", "multi"):
        return str(vector)
    similarity = settings.get("similarity")
    if similarity is None:
        from jinavdr.models.registry import get_entry

        try:
            similarity = get_entry(adapter).similarity
        except Exception:  # an adapter the registry does not know (python:, entry point, ...)
            similarity = None
    return _SIMILARITY_VECTORS.get(str(similarity), "?")


def _compact_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


class _ColumnBuilder:
    """Accumulates the subsets of one (slug, protocol) group, refusing conflicting duplicates."""

    def __init__(self, first: LoadedResult) -> None:
        self.files: list[LoadedResult] = [first]
        self.scores: dict[SubsetKey, float] = {}
        self.metrics: dict[SubsetKey, Mapping[str, float]] = {}
        self.per_query: dict[SubsetKey, Mapping[str, float]] = {}
        self.origin: dict[SubsetKey, str] = {}

    def add(
        self, loaded: LoadedResult, expected: Mapping[str, tuple[str, ...]], metric: str, ignored: set[str]
    ) -> None:
        result = loaded.result
        if result.dataset not in expected:
            ignored.add(result.dataset)
            return
        for name in sorted(result.subsets):
            sub = result.subsets[name]
            key = (result.dataset, name)
            if name not in expected[result.dataset]:
                ignored.add(f"{result.dataset}/{name}")
                continue
            if metric not in sub.metrics:
                raise ResultsError(
                    f"result file {loaded.path}: subset {name!r} has no {metric!r} metric "
                    f"(it has {', '.join(sorted(sub.metrics)) or 'none'}); rerun the dataset."
                )
            value = float(sub.metrics[metric])
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise ResultsError(
                    f"result file {loaded.path}: {metric} of subset {name!r} is {value}, outside [0, 1] "
                    "(scores are stored as fractions)."
                )
            if key in self.scores:
                if self.scores[key] != value:
                    raise ResultsError(
                        f"{result.dataset}/{name} of model {result.model_slug!r} appears with different "
                        f"scores in {self.origin[key]} and {loaded.path}; pass only one of them."
                    )
                continue
            self.scores[key] = value
            self.metrics[key] = MappingProxyType(dict(sorted(sub.metrics.items())))
            self.origin[key] = loaded.path
            pq = sub.per_query
            if pq is not None and pq.metric == metric:
                if len(pq.query_ids) != len(pq.values):
                    raise ResultsError(
                        f"result file {loaded.path}: subset {name!r} has {len(pq.query_ids)} query ids "
                        f"but {len(pq.values)} per-query values."
                    )
                self.per_query[key] = MappingProxyType(
                    dict(zip(pq.query_ids, map(float, pq.values), strict=True))
                )


def _measured_columns(
    loaded: Sequence[LoadedResult], datasets: Sequence[DatasetInfo], metric: str, notes: list[str]
) -> list[Column]:
    expected = {d.name: d.subsets for d in datasets}
    groups: dict[tuple[str, str], _ColumnBuilder] = {}
    ignored: set[str] = set()
    for item in loaded:
        key = (item.result.model_slug, item.result.protocol)
        if key in groups:
            groups[key].files.append(item)
        else:
            groups[key] = _ColumnBuilder(item)
        groups[key].add(item, expected, metric, ignored)
    if ignored:
        notes.append(
            "Ignored results outside the collection's expected datasets/subsets: "
            + ", ".join(sorted(ignored, key=str.casefold))
            + "."
        )
    names = {}
    for slug, _protocol in groups:
        names.setdefault(groups[(slug, _protocol)].files[0].result.model, set()).add(slug)
    protocols: dict[str, int] = {}
    for slug, _protocol in groups:
        protocols[slug] = protocols.get(slug, 0) + 1
    columns = []
    for (slug, protocol), builder in sorted(groups.items()):
        first = builder.files[0].result
        label = first.model if len(names[first.model]) == 1 else slug
        if protocols[slug] > 1:
            label += f" ({protocol} protocol)"
        manifest = first.manifest
        settings = {f.result.manifest.model_dump_json(include={"settings"}) for f in builder.files}
        if len(settings) > 1:
            notes.append(
                f"The result files of {label} record differing settings; check them before comparing."
            )
        columns.append(
            Column(
                key=f"{slug}|{protocol}",
                label=label,
                is_reference=False,
                model=first.model,
                vector=_vector_type(manifest.adapter, manifest.settings),
                slug=slug,
                protocol=protocol,
                adapter=manifest.adapter,
                model_id=manifest.model_id,
                revision=manifest.model_revision,
                settings=_compact_json(manifest.settings),
                dtype=manifest.dtype,
                source=getattr(manifest, "source", "jinavdr"),
                n_files=len(builder.files),
                scores=MappingProxyType(dict(sorted(builder.scores.items()))),
                metrics=MappingProxyType(dict(sorted(builder.metrics.items()))),
                per_query=MappingProxyType(dict(sorted(builder.per_query.items()))),
            )
        )
    labels = [c.label for c in columns]
    if len(set(labels)) != len(labels):  # two slugs of one model name, both with two protocols
        columns = [_relabel(c, f"{c.slug} ({c.protocol} protocol)") for c in columns]
    return columns


def _relabel(column: Column, label: str) -> Column:
    return replace(column, label=label)


def _reference_columns(
    references: Mapping[str, ReferenceModel], datasets: Sequence[DatasetInfo]
) -> list[Column]:
    """One column per published model that has a number for at least one expected dataset."""
    names = {d.name for d in datasets}
    columns = []
    for name in sorted(references):
        ref = references[name]
        if not any(d in names for d in ref.datasets):
            continue
        columns.append(
            Column(
                key=f"[paper]|{name}",
                label=ref.label,
                is_reference=True,
                model=name,
                vector=_REFERENCE_VECTORS.get(name, "single"),
                protocol="paper",
                source="; ".join(ref.sources),
                scores=MappingProxyType({k: v for k, v in ref.subsets.items() if k[0] in names}),
                published=MappingProxyType({k: v for k, v in ref.datasets.items() if k in names}),
            )
        )
    return columns


def _map_references(
    columns: list[Column], references: Mapping[str, ReferenceModel], explicit: Mapping[str, str],
    notes: list[str] | None = None,
) -> list[Column]:
    """Attach the published counterpart to each measured column: an explicit mapping first, else the
    published method the column was measured with (:func:`~jinavdr.report.references.pairing`); an
    unpaired column's reason goes to ``notes``."""
    notes = [] if notes is None else notes
    used: set[str] = set()
    out = []
    for col in columns:
        ref = next((explicit[k] for k in (col.label, col.slug, col.model) if k in explicit), None)
        if ref is not None:
            used.update(k for k in (col.label, col.slug, col.model) if k in explicit)
        else:
            ref, why = pairing(col.adapter, json.loads(col.settings or "{}"))
            if why:
                notes.append(f"{col.label} is not paired with a published number: {why}.")
        out.append(replace(col, reference=ref if ref in references else None))
    unknown = sorted(set(explicit) - used)
    if unknown:
        valid = {k for c in columns for k in (c.label, c.slug, c.model)}
        raise UnknownNameError("measured model", unknown[0], valid, hint="(the measured side of a reference mapping)")
    return out


# --------------------------------------------------------------------------------------------------
# Cells
# --------------------------------------------------------------------------------------------------


def _mean_cell(scores: Mapping[str, float | None], expected: Iterable[str]) -> Cell:
    """Unweighted mean of the ``expected`` keys that have a score (:func:`jinavdr.evaluation.aggregate.mean_of`)."""
    mean = mean_of({k: v for k, v in scores.items() if v is not None}, expected)
    return Cell(mean.value, mean.n, mean.n_expected)


def _dataset_cell(column: Column, info: DatasetInfo) -> Cell:
    """The dataset score: mean over the expected subsets (partial when some are missing).

    A reference whose published languages are exactly the expected subsets keeps its published
    dataset score (the paper's own average), so the paper's means are reproduced to the digit.
    """
    if column.is_reference and info.name in column.published:
        published = {s for d, s in column.scores if d == info.name}
        if published == set(info.subsets) or len(info.subsets) == 1 and not published:
            return Cell(column.published[info.name], len(info.subsets), len(info.subsets))
    return _mean_cell({s: column.scores.get((info.name, s)) for s in info.subsets}, info.subsets)


#: Per-query values of a column over some datasets: (dataset, subset) -> {query id: value}.
QueryValues = dict[SubsetKey, Mapping[str, float]]


def _query_values(column: Column, infos: Sequence[DatasetInfo]) -> QueryValues | None:
    """The per-query values of every expected subset of ``infos`` (None when a subset lacks them)."""
    out: QueryValues = {}
    for info in infos:
        for subset in info.subsets:
            values = column.per_query.get((info.name, subset))
            if not values:
                return None
            out[(info.name, subset)] = values
    return out


def _paired_p(best: QueryValues, other: QueryValues, options: LeaderboardOptions) -> float | None:
    """The weighted paired test of ``other`` against ``best`` on their common subsets and queries."""
    pairs = []
    for key in sorted(best.keys() & other.keys()):
        pair = pair_queries(*key, dict(sorted(best[key].items())), other[key])
        if pair is not None:
            pairs.append(pair)
    return paired_test(pairs, n_resamples=options.n_resamples, seed=options.seed)[0]


def _mark_best_and_ties(
    cells: list[Cell],
    candidates: Sequence[int],
    vectors: Mapping[int, QueryValues | None],
    options: LeaderboardOptions,
    test: bool = True,
) -> list[Cell]:
    """Bold the best shown value among ``candidates`` and mark ties by the randomisation test."""
    scored = [i for i in candidates if cells[i].complete]
    if not scored:
        return cells
    top = max(shown(cells[i].value) for i in scored)  # type: ignore[arg-type]
    bold = [i for i in scored if shown(cells[i].value) == top]  # type: ignore[arg-type]
    out = list(cells)
    for i in bold:
        out[i] = replace(out[i], best=True)
    if not test:
        return out
    testable = [i for i in bold if vectors.get(i)]
    if not testable:
        return out
    leader = max(testable, key=lambda i: (cells[i].value, -i))
    others = [i for i in scored if i not in bold and vectors.get(i)]
    pvals = [_paired_p(vectors[leader], vectors[i], options) for i in others]  # type: ignore[arg-type]
    tested = [(i, p) for i, p in zip(others, pvals, strict=True) if p is not None]
    adjusted = holm_bonferroni([p for _, p in tested])
    for (i, _), p in zip(tested, adjusted, strict=True):
        out[i] = replace(out[i], p_value=p, tied=p >= options.alpha)
    return out


# --------------------------------------------------------------------------------------------------
# Bootstrap confidence intervals
# --------------------------------------------------------------------------------------------------


def _benchmark_ci(
    column: Column, infos: Sequence[DatasetInfo], options: LeaderboardOptions
) -> tuple[float, float] | None:
    """Stratified query bootstrap CI of the mean over ``infos`` (None without per-query values)."""
    values = _query_values(column, infos) if infos else None
    if values is None:
        return None
    per_query: dict[str, dict[str, Mapping[str, float]]] = {}
    for (dataset, subset), by_query in values.items():
        per_query.setdefault(dataset, {})[subset] = by_query
    return stratified_bootstrap_ci(
        per_query, n_resamples=options.n_bootstrap, seed=options.seed, confidence=options.confidence
    )


# --------------------------------------------------------------------------------------------------
# Building
# --------------------------------------------------------------------------------------------------


def _competition_ranks(scores: Sequence[Decimal]) -> list[int]:
    """``[90, 90, 80] -> [1, 1, 3]`` (scores already sorted descending)."""
    ranks = []
    for i, s in enumerate(scores):
        ranks.append(ranks[-1] if i and s == scores[i - 1] else i + 1)
    return ranks


@dataclass(frozen=True)
class _Basis:
    """What the ranking is computed on."""

    covered: Mapping[str, tuple[str, ...]]  # column key -> datasets it covers
    rankable: frozenset[str]  # column keys
    common: tuple[str, ...]


def _ranking_basis(
    columns: Sequence[Column], datasets: Sequence[DatasetInfo], options: LeaderboardOptions, notes: list[str]
) -> _Basis:
    """Coverage, the rankable models (>= ceil(min_coverage * N) datasets) and their common set."""
    covered = {c.key: tuple(d.name for d in datasets if _dataset_cell(c, d).complete) for c in columns}
    need = max(1, math.ceil(options.min_coverage * len(datasets)))
    rankable = {c.key for c in columns if not c.is_reference and len(covered[c.key]) >= need}
    shared = {d.name for d in datasets}
    for key in rankable:
        shared &= set(covered[key])
    common = tuple(d.name for d in datasets if d.name in shared) if rankable else ()
    if rankable and not common:
        notes.append("The rankable models share no dataset, so no model is ranked.")
        rankable = set()
    return _Basis(covered, frozenset(rankable), common)


def _summary(
    columns: list[Column], datasets: Sequence[DatasetInfo], options: LeaderboardOptions, notes: list[str]
) -> tuple[list[Column], list[SummaryRow], tuple[str, ...]]:
    """Rank the columns; returns (columns in display order, summary rows, common set)."""
    by_name = {d.name: d for d in datasets}
    basis = _ranking_basis(columns, datasets, options, notes)
    common = basis.common

    def mean_over(c: Column, names: Sequence[str]) -> Cell:
        if not names:
            return Cell(None, 0, 0)
        return _mean_cell({d: _dataset_cell(c, by_name[d]).value for d in names}, names)

    def on_common(c: Column) -> bool:
        if not common:
            return False
        return c.key in basis.rankable or (c.is_reference and set(common) <= set(basis.covered[c.key]))

    def order(c: Column) -> tuple:
        score = scores[c.key].value
        value = shown(score) if score is not None else Decimal(-1)
        return (
            not on_common(c) and c.is_reference,
            not on_common(c),
            -value,
            c.is_reference,
            c.label.casefold(),
            c.key,
        )

    scores = {c.key: mean_over(c, common if on_common(c) else basis.covered[c.key]) for c in columns}
    listed = sorted(columns, key=order)
    # other tables show the measured models first (in summary order), then the references
    display = [c for c in listed if not c.is_reference] + [c for c in listed if c.is_reference]

    ranked = [c for c in listed if c.key in basis.rankable]
    ranks = dict(
        zip(
            (c.key for c in ranked),
            _competition_ranks([shown(scores[c.key].value) for c in ranked]),
            strict=True,
        )
    )  # type: ignore[arg-type]
    common_infos = [by_name[d] for d in common]
    marked = _mark_best_and_ties(
        [scores[c.key] for c in ranked],
        range(len(ranked)),
        {i: _query_values(c, common_infos) for i, c in enumerate(ranked)},
        options,
    )
    scores.update({c.key: cell for c, cell in zip(ranked, marked, strict=True)})

    rows = []
    for c in listed:
        names = common if on_common(c) else basis.covered[c.key]
        rows.append(
            SummaryRow(
                column=display.index(c),
                rank=ranks.get(c.key),
                score=scores[c.key],
                ci=None if c.is_reference else _benchmark_ci(c, [by_name[d] for d in names], options),
                own=mean_over(c, basis.covered[c.key]),
                covered=len(basis.covered[c.key]),
                total=len(datasets),
                ranked_on_common=on_common(c),
            )
        )
    return display, rows, common


def _table_rows(
    columns: Sequence[Column],
    items: Sequence[tuple[str, str, list[Cell], dict[int, Any]]],
    options: LeaderboardOptions,
    test: bool,
) -> tuple[Row, ...]:
    measured = [i for i, c in enumerate(columns) if not c.is_reference]
    rows = []
    for label, detail, cells, vectors in items:
        cells = _mark_best_and_ties(cells, measured, vectors, options, test=test)
        rows.append(Row(label=label, cells=tuple(cells), detail=detail))
    return tuple(rows)


def _dataset_rows(
    columns: Sequence[Column], datasets: Sequence[DatasetInfo], options: LeaderboardOptions
) -> tuple[Row, ...]:
    items = []
    for info in sorted(datasets, key=lambda d: (d.name.casefold(), d.name)):
        cells = [_dataset_cell(c, info) for c in columns]
        vectors = {
            i: _query_values(c, [info])
            for i, c in enumerate(columns)
            if not c.is_reference and cells[i].complete
        }
        items.append((info.name, "", cells, vectors))
    return _table_rows(columns, items, options, test=True)


def _multilingual(datasets: Sequence[DatasetInfo]) -> list[DatasetInfo]:
    return [d for d in datasets if d.multilingual or len(d.subsets) > 1]


def _language_rows(
    columns: Sequence[Column], datasets: Sequence[DatasetInfo], options: LeaderboardOptions
) -> tuple[Row, ...]:
    items = []
    for info in sorted(_multilingual(datasets), key=lambda d: (d.name.casefold(), d.name)):
        for subset in sorted(info.subsets):
            cells = [_mean_cell({subset: c.scores.get((info.name, subset))}, [subset]) for c in columns]
            items.append((f"{info.name} / {subset}", "", cells, {}))
    return _table_rows(columns, items, options, test=False)


def _language_means(
    columns: Sequence[Column], datasets: Sequence[DatasetInfo], options: LeaderboardOptions
) -> tuple[Row, ...]:
    multi = _multilingual(datasets)
    languages = sorted({s for d in multi for s in d.subsets})
    items = []
    for lang in languages:
        names = [d.name for d in multi if lang in d.subsets]
        cells = [_mean_cell({n: c.scores.get((n, lang)) for n in names}, names) for c in columns]
        items.append((lang, str(len(names)), cells, {}))
    return _table_rows(columns, items, options, test=False)


def _group_means(
    columns: Sequence[Column], datasets: Sequence[DatasetInfo], attribute: str, options: LeaderboardOptions
) -> tuple[Row, ...]:
    groups: dict[str, list[DatasetInfo]] = {}
    for d in datasets:
        groups.setdefault(getattr(d, attribute) or "(unlabelled)", []).append(d)
    items = []
    for name in sorted(groups, key=lambda g: (g.casefold(), g)):
        infos = groups[name]
        cells = []
        for c in columns:
            cells_d = {d.name: _dataset_cell(c, d) for d in infos}
            values = {name: cell.value if cell.complete else None for name, cell in cells_d.items()}
            cells.append(_mean_cell(values, cells_d))
        items.append((name, str(len(infos)), cells, {}))
    return _table_rows(columns, items, options, test=False)


def _comparisons(columns: Sequence[Column], datasets: Sequence[DatasetInfo]) -> tuple[Comparison, ...]:
    refs = {c.model: i for i, c in enumerate(columns) if c.is_reference}
    out = []
    for i, col in enumerate(columns):
        if col.is_reference or col.reference not in refs:
            continue
        j = refs[col.reference]  # type: ignore[index]
        rows = []
        for info in sorted(datasets, key=lambda d: (d.name.casefold(), d.name)):
            measured, published = _dataset_cell(col, info), _dataset_cell(columns[j], info)
            if measured.complete and published.complete:
                rows.append(ComparisonRow(info.name, measured.value, published.value))  # type: ignore[arg-type]
        if rows:
            out.append(Comparison(column=i, reference=j, rows=tuple(rows)))
    return tuple(out)


def build_leaderboard(
    results: Sequence[LoadedResult],
    datasets: Sequence[DatasetInfo],
    *,
    collection: str = "",
    references: Mapping[str, ReferenceModel] | None = None,
    reference_map: Mapping[str, str] | None = None,
    options: LeaderboardOptions | None = None,
) -> Leaderboard:
    """The full leaderboard for ``results`` over the expected ``datasets`` (see module rules)."""
    options = options or LeaderboardOptions()
    if not datasets:
        raise ResultsError(f"collection {collection!r} defines no datasets; nothing to rank.")
    notes: list[str] = []
    measured = _measured_columns(results, datasets, options.metric, notes)
    if references:
        measured = _map_references(measured, references, reference_map or {}, notes)
        published = _reference_columns(references, datasets)
        if not published:
            notes.append(
                f"The published numbers cover none of the datasets of {collection or 'this collection'!r}; "
                "no reference is shown."
            )
        columns = measured + published
    else:
        columns = measured
    missing_pq = sorted(c.label for c in measured if c.scores and len(c.per_query) < len(c.scores))
    if missing_pq:
        notes.append(
            "No per-query values (e.g. imported from MTEB) for some subsets of: "
            + ", ".join(missing_pq)
            + ". Those scores get no significance marker and no confidence interval."
        )
    display, summary, common = _summary(columns, datasets, options, notes)
    return Leaderboard(
        collection=collection,
        datasets=tuple(datasets),
        columns=tuple(display),
        summary=tuple(summary),
        common=common,
        dataset_rows=_dataset_rows(display, datasets, options),
        language_rows=_language_rows(display, datasets, options),
        language_means=_language_means(display, datasets, options),
        domain_means=_group_means(display, datasets, "domain", options),
        format_means=_group_means(display, datasets, "document_format", options),
        comparisons=_comparisons(display, datasets),
        notes=tuple(notes),
        options=options,
        n_files=len(results),
    )


def leaderboard_from_paths(
    paths: Iterable[str | Path],
    *,
    collection: str | None = None,
    with_references: bool | None = None,
    references_path: str | Path | None = None,
    reference_pairs: Sequence[str] = (),
    options: LeaderboardOptions | None = None,
    catalogue: Catalogue | None = None,
) -> Leaderboard:
    """Read result files and build their leaderboard (what ``jinavdr leaderboard`` does).

    ``collection`` None infers it (:func:`infer_collection`). References are on by default for the
    ``jinavdr`` collection or when ``reference_pairs`` are given, off otherwise.
    """
    from jinavdr.report.references import load_references, parse_reference_mappings

    results = loaded_results(paths)
    cat = _catalogue(catalogue)
    if collection is None:
        collection = infer_collection(results, cat)
    elif collection != RESULTS_COLLECTION:
        from jinavdr.catalogue.tasks import COLLECTION_ALIASES

        collection = COLLECTION_ALIASES.get(collection.strip().lower(), collection.strip().lower())
    datasets = collection_datasets(collection, results, cat)
    if with_references is None:
        with_references = collection == "jinavdr" or bool(reference_pairs)
    references = load_references(references_path, rename=catalogue_namer(cat)) if with_references else None
    if reference_pairs and references is None:  # checked first: without them every name is "unknown"
        raise ArgumentError(
            "references", "need the published numbers: leave with_references on.",
            cli="--reference needs the published numbers: drop --no-with-references.",
        )
    mapping = parse_reference_mappings(reference_pairs, references or {}) if reference_pairs else {}
    return build_leaderboard(
        results,
        datasets,
        collection=collection,
        references=references,
        reference_map=mapping,
        options=options,
    )
