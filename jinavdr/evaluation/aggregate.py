"""The one averaging module: how scores are averaged, weighted and tested, for the leaderboard and the gate.

Pure functions over plain data (``{key: score}`` mappings, scores as fractions), so the report layer
uses them on result files without importing a model or a dataset. Rules:

* dataset score = unweighted mean over its language subsets;
* benchmark score = unweighted mean over datasets (the paper's rule: a multilingual dataset counts once);
* group means (domain, document format, query format, language) = unweighted mean over the members;
* a mean knows which keys it covers and which it should: a partial mean is shown with its coverage
  (``"73.98 (41/43)"``, :func:`jinavdr.report.format.mean_label`) and :func:`difference` refuses to
  compare means of different coverage.
  A dataset with missing subsets counts as missing one level up.
* per-query weighting: a query weighs ``1 / (#datasets x #subsets of its dataset x #queries of its
  subset)``, so the weighted per-query values sum to the mean over datasets and a paired test of the
  weighted differences tests exactly the reported difference of means (:func:`paired_test`);
* paired significance: the sign-flip randomisation test of :mod:`jinavdr.evaluation.stats` on those
  weighted differences, Holm-adjusted across a family (``holm_bonferroni``, re-exported here);
  confidence intervals: a bootstrap over queries stratified by subset, averaged as the score is
  (:func:`stratified_bootstrap_ci`).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from jinavdr.errors import ResultsError
from jinavdr.evaluation.stats import bootstrap_means, holm_bonferroni, paired_randomization_test

__all__ = [
    "Mean", "PairedQueries", "benchmark_mean", "comparable", "dataset_means", "difference", "group_means",
    "holm_bonferroni", "mean", "mean_of", "pair_queries", "paired_test", "stratified_bootstrap_ci",
    "weighted_differences",
]  # fmt: skip

Score = float


@dataclass(frozen=True)
class Mean:
    """An unweighted mean that knows its coverage: ``covered`` of the ``expected`` keys."""

    value: float | None  # None when no expected key has a score
    covered: frozenset[str]
    expected: frozenset[str]

    @property
    def n(self) -> int:
        return len(self.covered)

    @property
    def n_expected(self) -> int:
        return len(self.expected)

    @property
    def complete(self) -> bool:
        return self.covered == self.expected

    @property
    def missing(self) -> list[str]:
        return sorted(self.expected - self.covered)


def mean(values: Iterable[float]) -> float:
    """The unweighted mean of scores (exactly rounded sum); a ValueError for no values."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("the mean of no values is undefined")
    return math.fsum(values) / len(values)


def mean_of(scores: Mapping[str, Score | Mean], expected: Iterable[str] | None = None) -> Mean:
    """Mean over the ``expected`` keys that have a score (all keys when ``expected`` is None).

    Keys outside ``expected`` are ignored; a :class:`Mean` value counts only when it is complete.
    """
    want = frozenset(scores) if expected is None else frozenset(expected)
    values = {key: _complete_value(scores[key]) for key in want if key in scores}
    values = {key: v for key, v in values.items() if v is not None}
    value = math.fsum(values.values()) / len(values) if values else None
    return Mean(value, frozenset(values), want)


def dataset_means(
    subset_scores: Mapping[str, Mapping[str, Score]],
    expected_subsets: Mapping[str, Iterable[str]] | None = None,
) -> dict[str, Mean]:
    """``{dataset: {subset: score}}`` -> ``{dataset: Mean over its subsets}``.

    ``expected_subsets`` names each dataset's subsets (from the catalogue); datasets it lists without
    any score appear as empty means. Without it, the subsets present are taken as complete.
    """
    if expected_subsets is None:
        return {ds: mean_of(subsets) for ds, subsets in subset_scores.items()}
    return {ds: mean_of(subset_scores.get(ds, {}), subsets) for ds, subsets in expected_subsets.items()}


def benchmark_mean(dataset_scores: Mapping[str, Score | Mean], expected: Iterable[str] | None = None) -> Mean:
    """Mean over datasets; a dataset whose own mean is partial counts as missing."""
    return mean_of(dataset_scores, expected)


def group_means(
    scores: Mapping[str, Score | Mean],
    groups: Mapping[str, str | Iterable[str]] | Callable[[str], str | Iterable[str]],
    expected: Iterable[str] | None = None,
) -> dict[str, Mean]:
    """Means per group (domain, format, language, ...): ``groups`` maps a key to one or more groups.

    Each group's expected members are the ``expected`` keys (default: the scored keys) in it.
    """
    group_of = groups if callable(groups) else groups.__getitem__
    members: dict[str, set[str]] = {}
    for key in scores if expected is None else expected:
        found = group_of(key)
        for group in [found] if isinstance(found, str) else found:
            members.setdefault(group, set()).add(key)
    return {group: mean_of(scores, keys) for group, keys in sorted(members.items())}


def comparable(a: Mean, b: Mean) -> bool:
    """True when both means cover exactly the same keys (and so may be compared)."""
    return a.covered == b.covered and a.value is not None and b.value is not None


def difference(a: Mean, b: Mean) -> float:
    """``a - b``; raises :class:`ResultsError` when the two means cover different keys."""
    if not comparable(a, b):
        only_a, only_b = sorted(a.covered - b.covered), sorted(b.covered - a.covered)
        raise ResultsError(
            f"cannot compare a mean over {a.n} of {a.n_expected} items with one over {b.n} of {b.n_expected}: "
            "they average different items "
            f"(only in the first: {_short(only_a)}; only in the second: {_short(only_b)}). "
            "Run the missing tasks, or compare over the common items only."
        )
    assert a.value is not None and b.value is not None
    return a.value - b.value


def _complete_value(score: Score | Mean) -> float | None:
    if isinstance(score, Mean):
        return score.value if score.complete else None
    return float(score)


def _short(keys: list[str], shown: int = 8) -> str:
    if not keys:
        return "none"
    return ", ".join(keys[:shown]) + (f" and {len(keys) - shown} more" if len(keys) > shown else "")


# --------------------------------------------------------------------------------------------------
# Per-query weighting and paired tests
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairedQueries:
    """Per-query values of one subset for two systems ``a`` (baseline, best) and ``b``, aligned by query."""

    dataset: str
    subset: str
    query_ids: tuple[str, ...]
    a: np.ndarray
    b: np.ndarray
    a_only: int = 0  # queries only ``a`` has a value for
    b_only: int = 0

    @property
    def differences(self) -> np.ndarray:
        return self.b - self.a


def pair_queries(dataset: str, subset: str, a: Mapping[str, float], b: Mapping[str, float]) -> PairedQueries | None:
    """The queries both sides have values for, in ``a``'s order (None when they share none)."""
    common = tuple(q for q in a if q in b)
    if not common:
        return None
    return PairedQueries(
        dataset, subset, common,
        np.array([a[q] for q in common], dtype=np.float64), np.array([b[q] for q in common], dtype=np.float64),
        a_only=len(a) - len(common), b_only=len(b) - len(common),
    )  # fmt: skip


def weighted_differences(pairs: Sequence[PairedQueries]) -> np.ndarray:
    """``b - a`` per query, weighted as the query weighs in the mean over the datasets of ``pairs``.

    A query of subset ``s`` of dataset ``d`` weighs ``1 / (#subsets of d x #queries of s) / #datasets``,
    so the sum is the difference of the two means (datasets and subsets counted from ``pairs``).
    """
    by_dataset: dict[str, list[PairedQueries]] = {}
    for pair in pairs:
        by_dataset.setdefault(pair.dataset, []).append(pair)
    if not by_dataset:
        return np.empty(0)
    parts = [
        p.differences / (len(group) * p.differences.size) / len(by_dataset)
        for group in by_dataset.values()
        for p in group
    ]
    return np.concatenate(parts)


def paired_test(pairs: Sequence[PairedQueries], *, n_resamples: int = 10_000, seed: int = 0) -> tuple[float | None, int]:
    """Two-sided p-value that the weighted mean difference of ``pairs`` is 0, and the queries tested.

    ``(None, 0)`` without pairs. The sign-flip test runs on the weighted differences
    (:func:`weighted_differences`), so the tested statistic is the reported difference of means.
    """
    d = weighted_differences(pairs)
    if not d.size:
        return None, 0
    n = d.size
    return paired_randomization_test(np.zeros(n), d * n, n_resamples=n_resamples, seed=seed), n


def stratified_bootstrap_ci(
    per_query: Mapping[str, Mapping[str, Mapping[str, float]]],
    *,
    n_resamples: int = 1_000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean over datasets, ``{dataset: {subset: {query id: value}}}``.

    Each subset's queries (in id order) are resampled with replacement, seeded by ``seed`` and the
    subset's name, then averaged subset -> dataset -> benchmark as the score is. It measures how much
    the score depends on the sampled queries, for a fixed set of datasets.
    """
    total = np.zeros(n_resamples, dtype=np.float64)
    for dataset, subsets in per_query.items():
        means = np.zeros(n_resamples, dtype=np.float64)
        for subset, values in subsets.items():
            arr = np.array([values[q] for q in sorted(values)], dtype=np.float64)
            means += bootstrap_means(arr, n_resamples, [seed, zlib.crc32(f"{dataset}/{subset}".encode())])
        total += means / len(subsets)
    total /= len(per_query)
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(total, [tail, 1.0 - tail])
    return float(lo), float(hi)
